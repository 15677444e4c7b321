"""Figures of the user guide's "Fine-tuning an MP-DBM" page, from the records
of ``bench_mpdbm_finetuning.py --curves``.

``docs/images/mpdbm_finetuning_curves.png``: test accuracy (every few epochs)
and training loss of every (task, draw) during fine-tuning, one column per
number of images per class, for each variant given.
``docs/images/mpdbm_finetuning_by_n.png``: final accuracy per task against
the number of images per class (mean over draws), one panel per variant.

Run: ``python benchmarks/plot_mpdbm_finetuning.py RESULTS.json [...]
--variants NAME [...] [--labels TEXT ...]``
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
TASK_NAMES = {
    (1, 3): "Trouser/Dress",
    (7, 9): "Sneaker/Ankle boot",
    (0, 3): "T-shirt/Dress",
    (4, 6): "Coat/Shirt",
    (8, 9): "Bag/Ankle boot",
    (0, 1, 7, 8): "4 classes",
}
COLOURS = ["tab:red", "tab:blue", "tab:green", "tab:purple"]


def load(paths):
    records = []
    for path in paths:
        with open(path) as f:
            records.extend(json.load(f))
    return records


def plot_curves(records, variants, labels, out):
    ns = sorted({r["n"] for r in records if r["variant"] in variants})
    fig, axes = plt.subplots(2, len(ns), figsize=(4 * len(ns), 6.5), squeeze=False)
    for col, n in enumerate(ns):
        top, bottom = axes[0, col], axes[1, col]
        for colour, variant, label in zip(COLOURS, variants, labels):
            rows = [r for r in records if r["variant"] == variant and r["n"] == n]
            for i, r in enumerate(rows):
                kw = dict(color=colour, alpha=0.35, lw=0.8)
                first = dict(label=label) if i == 0 else {}
                top.plot(
                    r["epochs"], 100 * np.array(r["accuracy_curve"]), **kw, **first
                )
                loss = np.array(r["loss"])
                bottom.plot(np.arange(1, len(loss) + 1), loss / loss[0], **kw)
        top.set_title(f"{n} images per class")
        top.set_ylim(45, 100)
        top.set_ylabel("test accuracy (%)")
        bottom.set_yscale("log")
        bottom.set_ylabel("training loss / its first epoch")
        bottom.set_xlabel("fine-tuning epoch")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "MP-DBM whole-layer transfer: every (task, draw) of the development tasks"
    )
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


def plot_by_n(records, variants, labels, out):
    fig, axes = plt.subplots(
        1, len(variants), figsize=(4.2 * len(variants), 3.8), sharey=True,
        squeeze=False,
    )  # fmt: skip
    for ax, variant, label in zip(axes[0], variants, labels):
        rows = [r for r in records if r["variant"] == variant]
        ns = sorted({r["n"] for r in rows})
        for task, name in TASK_NAMES.items():
            means = [
                100
                * np.mean(
                    [
                        r["accuracy"]
                        for r in rows
                        if r["n"] == n and tuple(r["task"]) == task
                    ]
                )
                for n in ns
            ]
            ax.plot(ns, means, marker="o", label=name)
        ax.set_xscale("log")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("images per class")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (%), mean of 3 draws")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--variants", nargs="+", required=True)
    parser.add_argument("--labels", nargs="+", default=None)
    args = parser.parse_args()
    labels = args.labels or args.variants
    records = load(args.results)
    plot_curves(records, args.variants, labels, IMAGES / "mpdbm_finetuning_curves.png")
    plot_by_n(records, args.variants, labels, IMAGES / "mpdbm_finetuning_by_n.png")
