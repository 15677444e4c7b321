"""``skalltransfer predict``: a saved model's predictions for new images."""

import argparse
import csv
import os
import sys
import textwrap

from skalltransfer.cli._common import (
    DATA_ERRORS,
    SECURITY_NOTE,
    CommandError,
    add_allow_pickle_argument,
    escape,
    load_user_model,
    one_line_doc,
    reported,
)
from skalltransfer.cli._images import (
    add_image_arguments,
    add_size_argument,
    apply_training_options,
    declared_image_shape,
    image_warnings,
    input_images,
    loader_options,
    reads_image_layout,
)

# -- predict --------------------------------------------------------------------
# Appended to an image warning: what fixes it on the command line.
RELOAD_HINT = (
    "On the command line: pass the --intensity, --invert and --color options "
    "that 'fit' was given."
)


def model_and_loading(args):
    """The model of ``args.model`` and how to read images for it:
    ``(model, size, loader options)``. Options not given are those 'fit'
    recorded in the model's report, else the defaults."""
    model = load_user_model(args.model, "model", args.allow_pickle)
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise CommandError(
            f"model {args.model}: the model does not record its input size "
            "(n_features_in_)."
        )
    apply_training_options(args, args.model)
    size, color = input_images(
        n_features,
        declared_image_shape(model),
        args.size,
        args.color,
        "the model",
        fixed_layout=reads_image_layout(model),
    )
    return model, size, loader_options(args, color)


def add_model_input_arguments(parser):
    """How a command that applies a saved model reads images for it:
    ``--size``, the image options and ``--allow-pickle``."""
    add_size_argument(
        parser, "image size the model takes, when its input is not square"
    )
    add_image_arguments(parser, IMAGE_DEFAULTS)
    add_allow_pickle_argument(parser, "a MODEL")


def refuse_class_folders(model, path, exc):
    """A clearer error for a folder of class sub-folders given as images."""
    if os.path.isdir(path) and any(
        os.path.isdir(os.path.join(path, name))
        for name in os.listdir(path)
        if not name.startswith(".")
    ):
        raise CommandError(
            f"{path} holds sub-folders, not images. To score the model on "
            f"labelled images (one sub-folder per class) run 'skalltransfer "
            f"evaluate {model} {path}'; to predict, pass a folder of images."
        ) from exc


def _check_csv(path):
    """``--csv`` names a file in an existing folder, checked before any work."""
    if not path or os.path.isdir(path):
        raise CommandError(f"--csv {path!r}: pass the name of a file to write.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CommandError(
            f"--csv {path}: the directory '{directory}' does not exist; create "
            "it first."
        )


def _predict(args):
    """Predict the class of images with a model saved by 'skalltransfer fit'."""
    from skalltransfer.datasets import load_images

    if args.csv is not None:
        _check_csv(args.csv)
    model, size, options = model_and_loading(args)
    has_proba = hasattr(model, "predict_proba")
    if args.proba and not has_proba:
        raise CommandError(
            f"--proba: the {type(model).__name__} in {args.model} has no "
            "predict_proba; pass --no-proba."
        )
    with_proba = has_proba and args.proba is not False
    try:
        with reported(*DATA_ERRORS, context=args.images), image_warnings():
            X, paths, _ = load_images(
                args.images, size=size, return_info=True, **options
            )
    except CommandError as exc:
        refuse_class_folders(args.model, args.images, exc)
        raise
    with reported(ValueError, context="predict"), image_warnings(RELOAD_HINT):
        labels = model.predict(X)
        proba = model.predict_proba(X) if with_proba else None

    header = ["path", "prediction"]
    if proba is not None:
        header += [f"p({c})" for c in model.classes_]
    rows = []
    for i, (path, label) in enumerate(zip(paths, labels)):
        row = [path, str(label)]
        if proba is not None:
            row += [f"{p:.4f}" for p in proba[i]]
        rows.append(row)
    # A file name may hold a tab or a newline: the printed cells are escaped
    # to keep one row per image; the CSV file quotes them instead.
    for row in [header, *rows]:
        print("\t".join(escape(cell) for cell in row))
    if args.csv is not None:
        with reported(OSError, context=f"--csv {args.csv}"):
            # surrogateescape writes back the bytes of a file name that is
            # not valid UTF-8, as os.listdir read them.
            with open(
                args.csv,
                "w",
                newline="",
                encoding="utf-8",
                errors="surrogateescape",
            ) as f:
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows(rows)
        print(f"Saved {len(rows)} predictions to '{args.csv}'", file=sys.stderr)
    return 0


# The default of --intensity, --invert and --color for a saved model.
IMAGE_DEFAULTS = (
    "as 'fit' read the training images, else what the model takes: rgb for "
    "a model of colour images, else gray"
)


def add_predict_command(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help=one_line_doc(_predict),
        description=textwrap.fill(
            "Read an image file, or every image in a folder, resize it to the "
            "model's input size and print 'path<TAB>prediction' per image, then "
            "the probability of each class (one column per class; --no-proba "
            "leaves them out). Images are read as 'fit' read the training images "
            "(the options recorded in MODEL_report.json beside the model), "
            "unless --intensity, --invert or --color say otherwise. In "
            "the printed table a tab, newline or other non-printing character "
            "of a path or class name is shown as its Python escape (\\t, \\n, "
            "\\x1b, ...) and a backslash as \\\\ (except on Windows), so each "
            "image stays on one row; the --csv file holds them unchanged.",
            width=78,
        ),
        epilog="example: skalltransfer predict lesions.skops new_scans/ --csv out.csv"
        + "\n\n"
        + SECURITY_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model saved by 'fit': .skops (loads without running code) or .joblib "
        "(a pickle, which runs code when loaded: read only with --allow-pickle)",
    )
    parser.add_argument(
        "images", metavar="PATH_OR_DIR", help="an image file or a folder of images"
    )
    parser.add_argument(
        "--csv", metavar="OUT.csv", default=None, help="also write the table as CSV"
    )
    parser.add_argument(
        "--proba",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the probability of each class, one column per class: printed by "
        "default (--proba is kept for compatibility); --no-proba leaves them out",
    )
    add_model_input_arguments(parser)
    parser.set_defaults(func=_predict)
