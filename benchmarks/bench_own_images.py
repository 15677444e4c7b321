"""Your own images: a folder loaded by what its images hold.

A bundled Fashion-MNIST task (Sandal / Sneaker / Ankle boot, classes 5, 7
and 9; ``--n`` images per class drawn from ``load_fashion_mnist_subset``
for each ``--seeds`` value) is written as image folders four ways: the
8-bit original; 12-bit values in 16-bit PNGs (``round(v * 4095 / 255)``,
as scanners write them); on a mid-grey background (``0.5 + 0.5 x``, 8-bit);
and on a bright background (``1 - x``, 8-bit). Each folder is loaded with
``load_image_folder``'s defaults and with the option suggested for it
(``intensity="dtype"``, the previous behaviour, for the 16-bit copy), then
cross-validated with ``compare_transfer`` on the same stratified folds (5,
shuffled with the seed): ``AllTransferClassifier`` from the default
``ConvAutoencoderClassifier(random_state=0)`` fitted on the bundled 5,000
digits (from the source cache when it is there and records the statistics
of its training images, else refitted), the same network trained
from scratch (T = 0), and a logistic regression on the pixels.

Reported per (copy, loading): the largest difference of its X to the
original's; whether fitting the transfer on all its images raises
``ImageConventionWarning``; and the accuracy (%) of each candidate, mean
± standard deviation over the folds of every seed, with the paired
difference of the transfer to the original folder's. Also: how many
predictions of a transfer fitted on the 8-bit original change on the
16-bit copy.

``--source sae`` uses the default ``StackedAutoencoderClassifier(random_state=0)``
instead of the convolutional source.

Run: ``python benchmarks/bench_own_images.py [--quick] [--source conv|sae]
[--n 40] [--seeds 0 1 2] [--out FILE.json]``
"""

import json
import os
import tempfile
import time
import warnings

import numpy as np
from common import markdown_table
from common import parser as make_parser
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    ImageConventionWarning,
    SourceData,
    StackedAutoencoderClassifier,
    get_cache_dir,
)
from skalltransfer._source_cache._cached_fit import fit_source_cached
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_image_folder,
    load_mnist,
    make_target_task,
)
from skalltransfer.model_selection import compare_transfer

CLASSES = {5: "sandal", 7: "sneaker", 9: "ankle boot"}

# How each copy is written from the 8-bit values v of the original.
COPIES = {
    "8-bit original": lambda v: v.astype(np.uint8),
    "12-bit in 16-bit PNGs": lambda v: np.rint(v * (4095 / 255)).astype(np.uint16),
    "mid-grey background": lambda v: np.rint(127.5 + 0.5 * v).astype(np.uint8),
    "bright background": lambda v: (255 - v).astype(np.uint8),
}

# (copy, how it is loaded): the defaults, and the option suggested for it.
ROWS = [
    ("8-bit original", {}),
    ("8-bit original", {"intensity": "per-image"}),
    ("12-bit in 16-bit PNGs", {}),
    ("12-bit in 16-bit PNGs", {"intensity": "dtype"}),
    ("mid-grey background", {}),
    ("mid-grey background", {"intensity": "per-image"}),
    ("bright background", {}),
    ("bright background", {"invert": "auto"}),
]
CANDIDATES = ("transfer", "no transfer (T=0)", "linear model on raw pixels")


def options_label(options):
    if not options:
        return "defaults"
    return ", ".join(f"{key}={value!r}" for key, value in options.items())


def write_folders(root, X, y):
    """Write the task's images as one class-folder tree per copy."""
    values = np.rint(X * 255).reshape(-1, 28, 28)
    folders = {}
    for copy, make in COPIES.items():
        folder = os.path.join(root, copy.replace(" ", "_"))
        for i, (image, label) in enumerate(zip(values, y)):
            class_dir = os.path.join(folder, CLASSES[label].replace(" ", "_"))
            os.makedirs(class_dir, exist_ok=True)
            Image.fromarray(make(image)).save(os.path.join(class_dir, f"{i:04d}.png"))
        folders[copy] = folder
    return folders


def fit_warnings(clf, X, y):
    """Fit ``clf`` on all of X and return the ImageConventionWarnings."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", ImageConventionWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return [str(w.message) for w in record if w.category is ImageConventionWarning]


def run_seed(source, seed, n, cv, max_iter):
    X_task, y_task = make_target_task(
        *load_fashion_mnist_subset(),
        classes=list(CLASSES),
        n_per_class=n,
        random_state=seed,
        relabel=False,
    )
    folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
    params = {"random_state": seed} if max_iter is None else {
        "random_state": seed, "max_iter": max_iter}  # fmt: skip
    records = []
    with tempfile.TemporaryDirectory(prefix="bench-own-images-") as root:
        folders = write_folders(root, X_task, y_task)
        X_original, y = load_image_folder(folders["8-bit original"])
        for copy, options in ROWS:
            start = time.perf_counter()
            X, y_copy, info = load_image_folder(
                folders[copy], return_info=True, **options
            )
            assert (y_copy == y).all()
            clf = AllTransferClassifier(source, **params)
            messages = fit_warnings(clf, X, y)
            record = {
                "seed": seed,
                "copy": copy,
                "options": options,
                "info": info,
                "n_images": len(y),
                "max_diff_to_original": float(np.abs(X - X_original).max()),
                "warning": messages[0] if messages else None,
            }
            if copy == "12-bit in 16-bit PNGs":
                reference = AllTransferClassifier(source, **params)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    reference.fit(X_original, y)
                    record["predictions_changed"] = int(
                        (reference.predict(X) != reference.predict(X_original)).sum()
                    )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ImageConventionWarning)
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = compare_transfer(clf, X, y, cv=folds)
            record["fold_scores"] = {
                name: [float(s) for s in result.scores[name]] for name in CANDIDATES
            }
            records.append(record)
            print(
                f"seed {seed} {copy} ({options_label(options)}): "
                f"{100 * result.mean('transfer'):.1f} "
                f"[{info['intensity']}; inverted {info['inverted']}] "
                f"warning: {bool(messages)}, {time.perf_counter() - start:.0f} s",
                flush=True,
            )
    return records


def cell(scores):
    scores = 100 * np.asarray(scores)
    return f"{scores.mean():.1f} ± {scores.std():.1f}"


def report(records, seeds):
    rows = []
    for copy, options in ROWS:
        mine = [r for r in records if r["copy"] == copy and r["options"] == options]
        original = [
            r for r in records if r["copy"] == "8-bit original" and not r["options"]
        ]
        scores = {
            name: np.concatenate([r["fold_scores"][name] for r in mine])
            for name in CANDIDATES
        }
        diff = 100 * (
            scores["transfer"]
            - np.concatenate([r["fold_scores"]["transfer"] for r in original])
        )
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        n_warned = sum(r["warning"] is not None for r in mine)
        rows.append(
            [
                copy,
                options_label(options),
                mine[0]["info"]["intensity"]
                + ("; inverted" if mine[0]["info"]["inverted"] else ""),
                f"{max(r['max_diff_to_original'] for r in mine):.4f}",
                f"{n_warned}/{len(mine)}",
                *(cell(scores[name]) for name in CANDIDATES),
                f"{diff.mean():+.1f} ± {se:.1f}",
            ]
        )
    markdown_table(
        [
            "copy",
            "loaded with",
            "intensity (info)",
            "max |X - X_8bit|",
            "warns at fit",
            "transfer",
            "T=0",
            "linear",
            "transfer minus original",
        ],
        rows,
        title=f"Accuracy (%), mean ± std over {len(seeds)} seed(s) x folds",
    )
    print("Predictions of a transfer fitted on the 8-bit original, changed "
          "on the 16-bit copy:")  # fmt: skip
    for r in records:
        if "predictions_changed" in r:
            print(
                f"  seed {r['seed']}, loaded with {options_label(r['options'])}: "
                f"{r['predictions_changed']} of {r['n_images']} images"
            )
    warned = next((r["warning"] for r in records if r["warning"]), None)
    if warned:
        print(f"\nExample warning: {warned}")


def main():
    p = make_parser(__doc__, "a smoke run: a small source, 10 images per class")
    p.add_argument("--n", type=int, default=40, help="images per class")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", help="write the per-fold records as JSON")
    p.add_argument(
        "--source",
        choices=["conv", "sae"],
        default="conv",
        help="the source: the default ConvAutoencoderClassifier (conv) or "
        "StackedAutoencoderClassifier (sae), random_state=0",
    )
    args = p.parse_args()
    if args.quick:
        if args.source == "conv":
            spec = ConvAutoencoderClassifier(
                ((8, 5), (16, 5)), hidden_layer_sizes=(32,), pretrain_max_iter=0,
                max_iter=2, random_state=0,
            )  # fmt: skip
        else:
            spec = StackedAutoencoderClassifier(
                (64,), pretrain_max_iter=0, max_iter=5, random_state=0
            )
        X_source, y_source = load_mnist()
        data = SourceData(X_source[::5], y_source[::5])
        n, seeds, cv, max_iter = min(args.n, 10), args.seeds[:1], 3, 5
    else:
        if args.source == "conv":
            spec = ConvAutoencoderClassifier(random_state=0)
        else:
            spec = StackedAutoencoderClassifier(random_state=0)
        data = SourceData(*load_mnist())
        n, seeds, cv, max_iter = args.n, args.seeds, 5, None
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source, _ = fit_source_cached(spec, data, get_cache_dir())
        if getattr(source, "input_statistics_", None) is None:
            # Cached by a version that did not record what its training
            # images look like: the convention check would be skipped.
            print("the cached source has no input_statistics_: refitting it")
            source = clone(spec).fit(data.X, data.y)
    print(f"source: {time.perf_counter() - start:.0f} s", flush=True)
    records = []
    for seed in seeds:
        records += run_seed(source, seed, n, cv, max_iter)
    report(records, seeds)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"n_per_class": n, "seeds": seeds, "records": records}, f)


if __name__ == "__main__":
    main()
