"""``skalltransfer predict``: a saved model's predictions for new images."""

import argparse
import csv
import sys
import textwrap

from skalltransfer.cli._common import (
    DATA_ERRORS,
    SECURITY_NOTE,
    CommandError,
    add_allow_pickle_argument,
    escape,
    image_size,
    load_user_model,
    one_line_doc,
    positive_int,
    reported,
)

# -- predict --------------------------------------------------------------------


def _predict(args):
    """Predict the class of images with a model saved by 'skalltransfer fit'."""
    from skalltransfer.datasets import load_images

    model = load_user_model(args.model, "model", args.allow_pickle)
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise CommandError(
            f"model {args.model}: the model does not record its input size "
            "(n_features_in_)."
        )
    size = image_size(n_features, args.size, "the model")
    if args.proba and not hasattr(model, "predict_proba"):
        raise CommandError(
            f"--proba: the {type(model).__name__} in {args.model} has no predict_proba."
        )
    with reported(*DATA_ERRORS, context=args.images):
        X, paths = load_images(args.images, size=size)
    with reported(ValueError, context="predict"):
        labels = model.predict(X)
        proba = model.predict_proba(X) if args.proba else None

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
    if args.csv:
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


def add_predict_command(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help=one_line_doc(_predict),
        description=textwrap.fill(
            "Read an image file, or every image in a folder, resize it to the "
            "model's input size and print 'path<TAB>prediction' per image. In "
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
        "--proba", action="store_true", help="add the probability of each class"
    )
    parser.add_argument(
        "--size",
        type=positive_int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="image size the model takes, when its input is not square",
    )
    add_allow_pickle_argument(parser, "a MODEL")
    parser.set_defaults(func=_predict)
