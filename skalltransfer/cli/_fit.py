"""``skalltransfer fit``: transfer a source to a folder of labelled images."""

import argparse
import json
import math
import os
import textwrap
import time
import warnings

import numpy as np

from skalltransfer.cli._common import (
    DATA_ERRORS,
    SECURITY_NOTE,
    SOURCE_MODELS,
    CommandError,
    add_allow_pickle_argument,
    check_out,
    cv_folds,
    escape,
    layer_count,
    no_information_leep,
    one_line_doc,
    positive_float,
    positive_int,
    print_table,
    reported,
    seed,
    show_progress,
)
from skalltransfer.cli._fit_report import (
    MATPLOTLIB_NOTE,
    comparison_record,
    matplotlib_missing,
    print_comparison,
    print_per_class,
    run_comparison,
    save_comparison_plot,
    save_confusion_plot,
    save_relation_plot,
    write_report,
)
from skalltransfer.cli._groups import (
    add_group_arguments,
    check_group_count,
    make_splitter,
    read_groups,
    relative_names,
)
from skalltransfer.cli._images import (
    add_image_arguments,
    add_size_argument,
    declared_image_shape,
    describe_images,
    image_warnings,
    input_images,
    json_info,
    loader_options,
    reads_image_layout,
)
from skalltransfer.cli._sources import fit_cli_source, resolve_cli_source


def _source_unit_names(clf):
    """Names of the source's output units (its classes when they match one
    to one, else the unit indices), and whether they are class names."""
    labels = getattr(clf.source_, "classes_", None)
    n_units = clf.relation_.shape[1]
    if labels is not None and len(labels) == n_units:
        return [str(v) for v in labels], True
    return [str(v) for v in range(n_units)], False


def _refit(chosen, clf, X, y):
    """The candidate ``chosen`` of the comparison, fitted on every image."""
    from sklearn.base import clone

    from skalltransfer.model_selection._comparison import (
        LINEAR,
        NO_TRANSFER,
        linear_baseline,
    )

    with reported(ValueError, TypeError, context=f"fitting the {chosen}"):
        if chosen == NO_TRANSFER:
            return clone(clf).set_params(n_transferred_layers=0).fit(X, y)
        if chosen == LINEAR:
            # The logistic regression with the C the inner folds chose.
            return linear_baseline().fit(X, y).best_estimator_
    return clf


def _n_folds(requested, smallest, grouped=False):
    """Folds of the comparison: ``requested`` (fewer when a class has fewer
    images), or, without groups, more when a training fold would keep fewer
    than 2 images of the ``smallest`` class (the linear model chooses its C
    by an inner cross-validation); 0 when the class is too small for any.
    Grouped folds follow the groups, so their number stays the user's."""
    if requested < 2 or smallest < 3:
        return 0
    folds = min(requested, smallest)
    while not grouped and smallest - math.ceil(smallest / folds) < 2:
        folds += 1
    return folds


def _check_output_units(args, source, data, n_classes):
    """All-transfer answers each class through its own source output unit:
    refuse more classes than units before any training, naming the option
    that trains a new output layer instead."""
    from skalltransfer._core._stack import LayerStack

    if data is None:
        stack = LayerStack.from_estimator(source)
        n_units, n_layers = stack.layer_sizes[-1], stack.n_layers
    else:
        n_units, n_layers = len(np.unique(data.y)), None
    T = args.n_transferred_layers
    all_transfer = T == "all" or (n_layers is not None and T >= n_layers)
    if all_transfer and n_classes > n_units:
        raise CommandError(
            f"--target-dir {args.target_dir} holds {n_classes} classes but the "
            f"source has {n_units} output units, and all-transfer answers each "
            "class through a unit of its own. Pass --n-transferred-layers with "
            "fewer layers than the source has (e.g. 1) to train a new output "
            "layer, or a source trained on more classes."
        )


def _check_select(args):
    if args.select == "best" and args.cv == 0:
        raise CommandError(
            "--select best picks the candidate with the best cross-validated "
            "score, and --cv 0 turns cross-validation off; drop one of them."
        )


# What fit writes beside the model MODEL.ext: MODEL_report.json and plots.
SIDE_FILES = ("_report.json", "_relation.png", "_comparison.png", "_confusion.png")


def _check_outputs(args, out):
    """Refuse, before any training, an ``--out`` that would overwrite the
    source model, or files beside it that cannot be written or belong to
    another model (MODEL.skops and MODEL.joblib would share one report)."""
    source = args.source
    if os.path.isfile(source) and os.path.exists(out) and os.path.samefile(source, out):
        raise CommandError(
            f"--out {args.out} is the --source model, which fit would "
            "overwrite; save the new model under another name."
        )
    stem = os.path.splitext(out)[0]
    for suffix in SIDE_FILES:
        path = stem + suffix
        if os.path.isdir(path):
            raise CommandError(
                f"--out {args.out}: fit writes '{path}' beside the model, and "
                "that is a folder; choose another --out name or move the folder."
            )
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise CommandError(
                f"--out {args.out}: fit writes '{path}' beside the model, and "
                "that file is read-only; choose another --out name."
            )
    other = _model_of_report(stem + SIDE_FILES[0])
    if other is not None:
        other_path = os.path.join(os.path.dirname(out), os.path.basename(other))
        if os.path.splitext(other)[1] != os.path.splitext(out)[1] and os.path.isfile(
            other_path
        ):
            raise CommandError(
                f"--out {args.out}: '{stem}{SIDE_FILES[0]}' beside it is the "
                f"report of '{other_path}', which still exists; both models "
                "would share it (and predict would read the wrong options). "
                "Choose another --out name."
            )


def _model_of_report(path):
    """The model file name a report written by fit records, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            model = json.load(f)["model"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return model if isinstance(model, str) else None


def _fit(args):
    """Transfer a source network to the images in a folder; save the model."""
    from sklearn.exceptions import ConvergenceWarning

    from skalltransfer._persist import save_model
    from skalltransfer.datasets import load_image_folder
    from skalltransfer.model_selection._comparison import TRANSFER
    from skalltransfer.transfer._alltransfer import AllTransferClassifier

    _check_select(args)
    out = check_out(args.out)
    _check_outputs(args, out)
    if not os.path.exists(args.target_dir):
        raise CommandError(f"--target-dir {args.target_dir}: no such folder.")

    source, data, cache_dir, n_features, source_text = resolve_cli_source(args)
    size, color = input_images(
        n_features,
        declared_image_shape(source) if data is None else None,
        args.size,
        args.color,
        "the source network",
        fixed_layout=data is None and reads_image_layout(source),
    )
    if data is not None and color == "rgb" and "image_shape" in source.get_params():
        # Source images given as colour (--color rgb): a convolutional
        # source reads them as such.
        source.set_params(image_shape=(*size, 3))
    options = loader_options(args, color)
    with (
        reported(*DATA_ERRORS, TypeError, context=f"--target-dir {args.target_dir}"),
        image_warnings(),
    ):
        X, y, paths, info = load_image_folder(
            args.target_dir, size=size, return_paths=True, return_info=True, **options
        )
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise CommandError(
            f"--target-dir {args.target_dir} holds a single class folder "
            f"('{classes[0]}'); a classifier needs at least two, one sub-folder "
            "per class."
        )
    _check_output_units(args, source, data, len(classes))
    relative = relative_names(paths, args.target_dir)
    groups, groups_from = read_groups(args, paths, args.target_dir)
    # Checked now, not after minutes of training.
    n_splits = _n_folds(args.cv, int(counts.min()), grouped=groups is not None)
    if groups is not None and n_splits >= 2:
        check_group_count(groups, n_splits, groups_from)

    print(
        f"Target: {len(y)} images in {len(classes)} classes from "
        f"'{args.target_dir}', read as {describe_images(info)}"
    )
    print_table(classes, ["images"], counts[:, None], str, corner="class")
    if groups is not None and n_splits >= 2:
        print(
            f"Groups ({groups_from}): {len(np.unique(groups))}; the images of a "
            "group stay in one cross-validation fold"
        )
    elif groups is not None:
        print(f"note: {groups_from.split()[0]} is unused: no cross-validation.")

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
        args.max_iter if args.max_iter is not None else (30 if args.quick else "auto")
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
        with reported(ValueError, TypeError, context="fit"), image_warnings():
            clf.fit(X, y)
        seconds = time.perf_counter() - start
        L = clf.network_.n_layers
        T = clf.n_transferred_layers_
        print(
            f"Transferred {T} of {L} weight layers"
            f"{' (all-transfer)' if T == L else ''}; fine-tuned for {clf.n_iter_} "
            f"epochs ({seconds:.1f} s in all)"
        )
        names, named = _source_unit_names(clf)
        unit = "source class" if named else "source unit"
        print(
            "Relation p_c(v) of each class to the source's output units"
            f"{', one per source class' if named else ''}:"
        )
        print_table(
            classes, names, clf.relation_, "{:.2f}".format, corner=f"class \\ {unit}"
        )
        print(
            f"Transferability of the source (LEEP, at most 0, higher is better): "
            f"{clf.transferability_:.3f}; a source whose outputs say nothing "
            f"about your classes scores {no_information_leep(y):.3f} (minus the "
            "entropy of the class frequencies)"
        )
        if clf.selected_units_ is not None:
            pairs = ", ".join(
                f"{escape(c)} -> {escape(names[v])}"
                for c, v in zip(clf.classes_, clf.selected_units_)
            )
            used = "" if T == L else " (for reference: a new output layer is trained)"
            units = "source classes" if named else "source units"
            print(f"Selected {units}: {pairs}{used}")
        print(f"Training accuracy: {clf.score(X, y):.1%}")

    comparison = None
    chosen = TRANSFER
    if n_splits >= 2:
        if n_splits > args.cv:
            print(
                f"note: {n_splits} cross-validation folds instead of --cv "
                f"{args.cv}: with fewer, a training fold keeps under 2 images of "
                "the smallest class (the linear model chooses its C by a "
                "cross-validation of its own)."
            )
        splitter = make_splitter(n_splits, groups, args.random_state)
        comparison = run_comparison(clf, X, y, groups, splitter, show_bar)
        how = "stratified" if groups is None else "stratified, grouped"
        print_comparison(comparison, how)
        if args.select == "best":
            chosen = comparison.best
        report = comparison.classification_report(chosen, output_dict=True)
        print_per_class(
            report,
            classes,
            f"Per-class results of the {chosen} (its cross-validated predictions):",
        )
    elif args.cv >= 2:
        print(
            "note: no cross-validation: the smallest class has fewer than 3 images "
            "(each training fold needs 2 per class, for the linear model's own "
            "choice of C)."
        )
        if args.select == "best":
            print("note: --select best: nothing to compare, the transfer is saved.")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _refit(chosen, clf, X, y)
    # The saved model keeps its fitted source but not the source images or
    # the cache location: it stays small and works on any machine.
    for fitted in (clf, model):
        if isinstance(fitted, AllTransferClassifier):
            fitted.set_params(
                source=fitted.source_, source_data=None, source_memory=None
            )
    with reported(OSError, TypeError, ValueError, context=f"--out {args.out}"):
        save_model(model, out)
    which = "" if chosen == TRANSFER else f" (the {chosen}, best cross-validated)"
    print(f"Saved the model{which} to '{args.out}'")

    stem = os.path.splitext(out)[0]
    shown = os.path.splitext(args.out)[0]
    report = {
        "model": args.out,
        "chosen": chosen,
        "images": {
            "target_dir": args.target_dir,
            "n_images": len(y),
            "classes": {str(c): int(n) for c, n in zip(classes, counts)},
            "options": options,
            "info": json_info(info),
        },
        "source": source_text,
        "training_accuracy": float(clf.score(X, y)),
        "transferability_leep": float(clf.transferability_),
        "no_information_leep": no_information_leep(y),
        "cross_validation": None
        if comparison is None
        else comparison_record(comparison, relative, groups, splitter, chosen),
    }
    write_report(stem + "_report.json", report, f"{shown}_report.json")
    print(f"Saved the report to '{shown}_report.json'")
    if matplotlib_missing():
        print(MATPLOTLIB_NOTE)
        return 0
    save_relation_plot(clf, stem + "_relation.png", named)
    saved = [f"{shown}_relation.png"]
    if comparison is not None:
        save_comparison_plot(comparison, stem + "_comparison.png")
        save_confusion_plot(
            y,
            comparison.predictions[chosen],
            classes,
            stem + "_confusion.png",
            f"{chosen}: cross-validated predictions",
        )
        saved += [f"{shown}_comparison.png", f"{shown}_confusion.png"]
    print(f"Saved the plots to {', '.join(repr(p) for p in saved)}")
    return 0


def add_fit_command(subparsers):
    parser = subparsers.add_parser(
        "fit",
        help=one_line_doc(_fit),
        description=textwrap.fill(
            "Train (or load) a source network, relate your classes to its output "
            "units (one per source class), fine-tune every layer on your images "
            "and save the model. Cross-validates the transfer against the same "
            "network trained from scratch (T = 0) and a linear model on the raw "
            "pixels, on the same folds, and says whether transfer helped; prints "
            "the per-class precision and recall of the cross-validated "
            "predictions. Beside the model it saves MODEL_report.json (every "
            "candidate's per-fold scores, the folds, the per-class reports, how "
            "the images were read), and the relation, comparison and confusion "
            "matrix plots (MODEL_relation.png, MODEL_comparison.png, "
            "MODEL_confusion.png; with matplotlib). 'predict' and 'evaluate' read "
            "new images the way the report says the training images were read.",
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
    add_size_argument(
        parser,
        "resize images to this size (default: the source's input size, "
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
        help="fine-tuning epochs (default: the transfer's 'auto' budget, "
        "or 30 with --quick)",
    )
    parser.add_argument(
        "--cv",
        type=cv_folds,
        default=5,
        metavar="INT",
        help="cross-validation folds (2 or more), fewer when the smallest class "
        "has fewer images, more when a training fold would keep under 2 of "
        "them (default: 5; 0 skips cross-validation and the comparison)",
    )
    add_group_arguments(parser)
    parser.add_argument(
        "--select",
        choices=("transfer", "best"),
        default="transfer",
        help="the model saved: the transfer (the default), or the candidate "
        "with the best cross-validated accuracy (the transfer, the same network "
        "from scratch or the linear model on raw pixels), fitted on every image",
    )
    add_image_arguments(
        parser,
        "what the source takes: rgb for a source fitted on colour images, else gray",
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
