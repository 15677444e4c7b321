"""``skalltransfer fit``: transfer a source to a folder of labelled images."""

import argparse
import os
import textwrap
import time
import warnings

import numpy as np

from skalltransfer._core._progress import progress_bar
from skalltransfer.cli._common import (
    DATA_ERRORS,
    SECURITY_NOTE,
    SOURCE_MODELS,
    CommandError,
    add_allow_pickle_argument,
    check_out,
    cv_folds,
    escape,
    image_size,
    layer_count,
    one_line_doc,
    positive_float,
    positive_int,
    print_table,
    reported,
    seed,
    show_progress,
)
from skalltransfer.cli._sources import fit_cli_source, resolve_cli_source


def _source_unit_names(clf):
    labels = getattr(clf.source_, "classes_", None)
    n_units = clf.relation_.shape[1]
    if labels is not None and len(labels) == n_units:
        return [str(v) for v in labels]
    return [str(v) for v in range(n_units)]


def _save_relation_plot(clf, path):
    """Save the relation plot as PNG; return a note if it cannot be drawn."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return (
            "note: matplotlib is not installed, so the relation plot was not "
            "saved; install it with 'pip install \"skalltransfer[plot]\"'."
        )
    from skalltransfer.plotting._relation import RelationDisplay

    # A bare Figure needs no GUI backend, so this works on headless servers.
    fig = Figure(figsize=(max(6.4, 0.6 * clf.relation_.shape[1] + 1), 4.0))
    ax = fig.subplots()
    RelationDisplay.from_estimator(clf, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return None


def _fit(args):
    """Transfer a source network to the images in a folder; save the model."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    from skalltransfer._persist import save_model
    from skalltransfer.datasets import load_image_folder
    from skalltransfer.transfer._alltransfer import AllTransferClassifier

    out = check_out(args.out)
    if not os.path.exists(args.target_dir):
        raise CommandError(f"--target-dir {args.target_dir}: no such folder.")

    source, data, cache_dir, n_features, source_text = resolve_cli_source(args)
    size = image_size(n_features, args.size, "the source network")
    with reported(*DATA_ERRORS, context=f"--target-dir {args.target_dir}"):
        X, y = load_image_folder(args.target_dir, size=size)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise CommandError(
            f"--target-dir {args.target_dir} holds a single class folder "
            f"('{classes[0]}'); a classifier needs at least two, one sub-folder "
            "per class."
        )

    print(
        f"Target: {len(y)} images in {len(classes)} classes from "
        f"'{args.target_dir}', read as {size[0]}x{size[1]} grayscale (resized to "
        "the source network's input where they differ)"
    )
    print_table(classes, ["images"], counts[:, None], str)

    show_bar = show_progress(args)
    start = time.perf_counter()
    if data is None:
        print(f"Source: {source_text}")
    else:
        source, status = fit_cli_source(source, data, cache_dir, show_bar)
        how = {
            "fitted": f"trained, cached in '{cache_dir}'",
            "refitted": f"trained again: the cached copy was damaged and has been "
            f"replaced in '{cache_dir}'",
        }.get(status, f"reused from '{cache_dir}'")
        print(f"Source: {source_text} ({how})", flush=True)

    max_iter = (
        args.max_iter if args.max_iter is not None else (30 if args.quick else 100)
    )
    # The source is fitted now: the transfer (and every fold's clone of it)
    # uses it as it is.
    clf = AllTransferClassifier(
        source,
        n_transferred_layers=args.n_transferred_layers,
        max_iter=max_iter,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    # Fine-tuning runs for a fixed number of epochs (--max-iter); stopping
    # there is the plan, not a failure worth a warning per fold.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with reported(ValueError, TypeError, context="fit"):
            clf.fit(X, y)
        seconds = time.perf_counter() - start
        L = clf.network_.n_layers
        T = clf.n_transferred_layers_
        print(
            f"Transferred {T} of {L} weight layers"
            f"{' (all-transfer)' if T == L else ''}; fine-tuned for {clf.n_iter_} "
            f"epochs ({seconds:.1f} s in all)"
        )
        print("Relation p_c(v) of each class to the source output units:")
        print_table(classes, _source_unit_names(clf), clf.relation_, "{:.2f}".format)
        print(
            f"Transferability of the source (LEEP, at most 0, higher is better): "
            f"{clf.transferability_:.3f}"
        )
        if clf.selected_units_ is not None:
            names = _source_unit_names(clf)
            pairs = ", ".join(
                f"{escape(c)} -> {escape(names[v])}"
                for c, v in zip(clf.classes_, clf.selected_units_)
            )
            used = "" if T == L else " (for reference: a new output layer is trained)"
            print(f"Selected source units: {pairs}{used}")
        print(f"Training accuracy: {clf.score(X, y):.1%}")

        n_splits = min(args.cv, int(counts.min()))
        if n_splits >= 2:
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=args.random_state)
            # What cross_val_score(clf, X, y, cv=cv) does, one fold at a time
            # for the progress bar. The clones reuse the fitted source, so
            # only the fine-tuning is repeated per fold.
            scores = []
            with progress_bar(show_bar, n_splits, "cross-validation", "fold") as bar:
                for train, test in cv.split(X, y):
                    fold = clone(clf).fit(X[train], y[train])
                    scores.append(fold.score(X[test], y[test]))
                    if bar is not None:
                        bar.update(1)
            scores = np.asarray(scores)
            print(
                f"Cross-validated accuracy ({n_splits}-fold, stratified): "
                f"{scores.mean():.1%} +/- {scores.std():.1%}"
            )
        elif args.cv >= 2:
            print(
                "note: no cross-validation: the smallest class has fewer than 2 images."
            )

    # The saved model keeps its fitted source but not the source images or
    # the cache location: it stays small and works on any machine.
    clf.set_params(source=clf.source_, source_data=None, source_memory=None)
    with reported(OSError, TypeError, ValueError, context=f"--out {args.out}"):
        save_model(clf, out)
    print(f"Saved the model to '{args.out}'")
    png = os.path.splitext(out)[0] + "_relation.png"
    note = _save_relation_plot(clf, png)
    print(note if note else f"Saved the relation plot to '{png}'")
    return 0


def add_fit_command(subparsers):
    parser = subparsers.add_parser(
        "fit",
        help=one_line_doc(_fit),
        description=textwrap.fill(
            "Train (or load) a source network, relate your classes to its output "
            "units, fine-tune every layer on your images and save the model. "
            "Prints the relation, the selected units, the training accuracy and "
            "a stratified cross-validated accuracy; saves the relation plot "
            "next to the model.",
            width=78,
        ),
        epilog="example: skalltransfer fit --target-dir patches/ --out lesions.skops"
        + "\n\n"
        + SECURITY_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target-dir",
        required=True,
        metavar="PATH",
        help="folder holding one sub-folder of images per class",
    )
    parser.add_argument(
        "--source",
        default="mnist",
        metavar="mnist|PATH",
        help="'mnist' (default: the bundled MNIST subset), a fitted source model "
        "saved as .skops (or as .joblib with --allow-pickle: load only files you "
        "trust), or a .npz file with source arrays X and y",
    )
    add_allow_pickle_argument(parser, "a --source model")
    parser.add_argument(
        "--x-key",
        default="X",
        metavar="NAME",
        help="name of the images array in a .npz --source (default: X)",
    )
    parser.add_argument(
        "--y-key",
        default="y",
        metavar="NAME",
        help="name of the labels array in a .npz --source (default: y)",
    )
    parser.add_argument(
        "--scale",
        type=positive_float,
        default=None,
        metavar="FACTOR",
        help="divide the images of a .npz --source by FACTOR to bring them into "
        "[0, 1], e.g. 255 for 8-bit images",
    )
    parser.add_argument(
        "--source-model",
        choices=SOURCE_MODELS,
        default=None,
        help="source network trained on source data: stacked convolutional "
        "autoencoders (conv, the default: the best transfer on the benchmarks, "
        "see docs/benchmarks.rst), stacked autoencoders (sae, the fastest to "
        "train) or the paper's multi-prediction deep Boltzmann machine "
        "(mpdbm, the slowest)",
    )
    parser.add_argument(
        "--n-transferred-layers",
        type=layer_count,
        default="all",
        metavar="all|INT",
        help="number of weight layers transferred, the paper's T (default: all)",
    )
    parser.add_argument(
        "--size",
        type=positive_int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="resize images to this size (default: the source's input size, "
        "28 28 for MNIST)",
    )
    parser.add_argument(
        "--random-state",
        type=seed,
        default=0,
        metavar="INT",
        help="seed of the source, the fine-tuning and the folds (default: 0)",
    )
    parser.add_argument(
        "--max-iter",
        type=positive_int,
        default=None,
        metavar="INT",
        help="fine-tuning epochs (default: 100, or 30 with --quick)",
    )
    parser.add_argument(
        "--cv",
        type=cv_folds,
        default=5,
        metavar="INT",
        help="at most this many cross-validation folds (2 or more), limited by "
        "the smallest class (default: 5; 0 skips cross-validation)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="where trained sources are cached (default: $SKALLTRANSFER_CACHE or "
        "the user cache directory)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small source trained in seconds on 1,000 source images, to try "
        "the pipeline (not for results)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="MODEL.skops",
        help="where to save the model: .skops (loads without pickle) or .joblib; "
        "checked for writability before training",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (there is none either when stderr is not a terminal)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="print one line per training epoch instead of the progress bar",
    )
    parser.set_defaults(func=_fit)
