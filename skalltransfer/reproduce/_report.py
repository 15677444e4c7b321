"""The report of a reproduction run: the paper's tables with our numbers."""

import numpy as np

from skalltransfer.datasets._mnist import FASHION_MNIST_CLASSES
from skalltransfer.reproduce._profiles import PAPER


def summary(scores, tasks, n, name):
    """Mean and std (over tasks x draws) of one method at one n, in %."""
    values = [v for t in tasks for v in scores.get(f"{tuple(t)}|{n}|{name}", [])]
    if not values:
        return None
    return 100 * float(np.mean(values)), 100 * float(np.std(values)), len(values)


def _rows(profile):
    hidden = ", ".join(str(s) for s in profile.hidden)
    narrow = ", ".join(str(s) for s in profile.narrow)
    T = len(profile.hidden) + 1
    return {
        "Table II: relation vs random selection (T = all)": [
            ("v = relation (MP-DBM)", "MP-DBM relation", "relation"),
            ("v = random (MP-DBM)", "MP-DBM random", "random"),
            ("v = relation (SAE)", "SAE relation", None),
            ("v = random (SAE)", "SAE random", None),
        ],
        "Table III: source architecture (MP-DBM, T = all)": [
            (f"(784, {narrow}, 10)", "MP-DBM narrow", "(784, 500, 50, 10)"),
            (f"(784, {hidden}, 10)", "MP-DBM relation", "(784, 500, 500, 10)"),
        ],
        "Table IV: number of transferred layers T (MP-DBM)": [
            ("T=0", "MP-DBM T=0", "T=0"),
            ("T=1", "MP-DBM T=1", "T=1"),
            ("T=2", "MP-DBM T=2", "T=2"),
            (f"T={T} (all)", "MP-DBM relation", "T=3 (all)"),
        ],
        "Table V: other methods": [
            (
                "Raw pixels + linear SVM",
                "Raw pixels + linear SVM",
                "Raw pixels + linear SVM",
            ),
            (
                "Stacked autoencoder (no transfer)",
                "SAE no transfer",
                "Stacked autoencoder (no transfer)",
            ),
            (
                "Stacked autoencoder (transfer)",
                "SAE relation",
                "Stacked autoencoder (transfer)",
            ),
            (
                "T=2 + new hidden layer (MP-DBM)",
                "MP-DBM T=2 + new layer",
                "T=2 + new hidden layer",
            ),
            (f"T={T} (proposed, MP-DBM)", "MP-DBM relation", "T=3 (proposed)"),
            (
                "AllTransferClassifier defaults (MP-DBM source)",
                "AllTransferClassifier defaults (MP-DBM)",
                None,
            ),
            (
                "AllTransferClassifier defaults (SAE source)",
                "AllTransferClassifier defaults (SAE)",
                None,
            ),
        ],
        # Not in the paper, which names convolutional networks as future work.
        "Convolutional source (stacked conv. autoencoders, the paper's future work)": [
            ("Same conv network, T=0 (no transfer)", "Conv T=0", None),
            (
                "AllTransferClassifier defaults (conv source)",
                "AllTransferClassifier defaults (conv)",
                None,
            ),
            ("Raw pixels + linear SVM", "Raw pixels + linear SVM", None),
        ],
    }


_PAPER_KEYS = {
    "relation": ("table2", "relation"), "random": ("table2", "random"),
    "(784, 500, 50, 10)": ("table3", "(784, 500, 50, 10)"),
    "(784, 500, 500, 10)": ("table3", "(784, 500, 500, 10)"),
    "T=0": ("table4", "T=0"), "T=1": ("table4", "T=1"), "T=2": ("table4", "T=2"),
    "T=3 (all)": ("table4", "T=3 (all)"),
}  # fmt: skip


def _paper_value(key):
    if key is None:
        return "–"
    if key in _PAPER_KEYS:
        table, row = _PAPER_KEYS[key]
        return f"{PAPER[table][row]:.1f}"
    return f"{PAPER['table5'][key]:.1f}"


def render_report(profile, results, figures):
    """The Markdown report: one table per paper table, the paper alongside."""
    scores, tasks = results["scores"], profile.tasks
    task_names = ["/".join(FASHION_MNIST_CLASSES[c] for c in t) for t in tasks]
    target = "bundled subset" if profile.target == "subset" else "full set"
    lines = [
        "# Reproduction of Sawada & Kozuka, Tables II–V",
        "",
        f"Profile `{profile.name}`; source: bundled MNIST subset (5,000 digits); "
        f"target: Fashion-MNIST ({target}), "
        f"task(s) {', '.join(task_names)}; {profile.n_draws} random draws of the "
        "training set per n; accuracy (%) on the Fashion-MNIST test images of the "
        "task's classes, mean ± std over tasks × draws.",
        "",
        f"Architectures: main {profile.hidden}, narrow {profile.narrow}. "
        f"Fine-tuning: about {profile.updates} minibatch updates "
        f"(≤ {profile.max_epochs} epochs), the paper's recipe (peak selection, "
        "source output layer unchanged, and for the MP-DBM the multi-prediction "
        "objective as fine-tuning objective) unless said otherwise; the "
        "`AllTransferClassifier defaults` rows use the package's defaults "
        "(for the MP-DBM: discriminative fine-tuning).",
        "",
        "The paper's column is MNIST → lung CT lesions at 1,000 images per class: a "
        "different target task, printed for reference only.",
        "",
    ]
    for title, rows in _rows(profile).items():
        header = ["method"] + [f"n={n}" for n in profile.n_per_class] + ["paper"]
        lines += [
            f"## {title}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for label, name, paper_key in rows:
            cells = [label]
            for n in profile.n_per_class:
                s = summary(scores, tasks, n, name)
                cells.append("–" if s is None else f"{s[0]:.1f} ± {s[1]:.1f}")
            cells.append(_paper_value(paper_key))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    src = results["source_mnist_test_accuracy"]
    lines += [
        "## Sources",
        "",
        "Accuracy of each source on its own training digits: "
        + ", ".join(f"{k} {100 * v:.1f}%" for k, v in src.items())
        + ". Fit times (0 = loaded from the cache): "
        + ", ".join(f"{k} {v:.0f} s" for k, v in results["source_fit_seconds"].items())
        + ".",
        "",
    ]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{caption}](figures/{name})" for name, caption in figures]
        lines.append("")
    lines.append(f"Total time: {results['elapsed_seconds'] / 60:.1f} min.")
    return "\n".join(lines) + "\n"
