"""``skalltransfer evaluate``: score a saved model on a folder of labelled
images."""

import argparse
import os
import textwrap
import warnings

import numpy as np

from skalltransfer.cli._common import (
    DATA_ERRORS,
    SECURITY_NOTE,
    CommandError,
    escape,
    one_line_doc,
    print_table,
    reported,
)
from skalltransfer.cli._fit_report import (
    MATPLOTLIB_NOTE,
    matplotlib_missing,
    print_per_class,
    save_confusion_plot,
)
from skalltransfer.cli._images import (
    describe_images,
    image_warnings,
)
from skalltransfer.cli._predict import (
    RELOAD_HINT,
    add_model_input_arguments,
    model_and_loading,
)


def _as_model_classes(y, classes, where):
    """The folder names ``y`` as the model's class labels (a model fitted in
    Python may have, e.g., integer labels, which the folders name as text)."""
    by_name = {str(c): c for c in classes}
    unknown = sorted(set(y) - set(by_name))
    if unknown:
        known = ", ".join(f"'{escape(c)}'" for c in by_name)
        raise CommandError(
            f"{where} holds class folders the model does not know: "
            f"{', '.join(repr(escape(c)) for c in unknown)} (the model's classes: "
            f"{known}); rename or remove those folders."
        )
    return np.array([by_name[name] for name in y], dtype=np.asarray(classes).dtype)


def _check_confusion(path):
    """``--confusion`` can be written, checked before any work."""
    if matplotlib_missing():
        raise CommandError(f"--confusion {path}: {MATPLOTLIB_NOTE[len('note: ') :]}")
    if os.path.isdir(path):
        raise CommandError(f"--confusion {path} is a folder; pass a file name.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CommandError(
            f"--confusion {path}: the directory '{directory}' does not exist; "
            "create it first."
        )
    from matplotlib.figure import Figure

    # Without a known extension matplotlib would write PATH.png instead.
    formats = Figure().canvas.get_supported_filetypes()
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension not in formats:
        raise CommandError(
            f"--confusion {path}: name the file with its format, one of "
            f"{', '.join('.' + f for f in sorted(formats))} (e.g. "
            f"{os.path.splitext(path)[0] or 'confusion'}.png)."
        )


def _evaluate(args):
    """Score a saved model on a folder of labelled images (one sub-folder per class)."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        classification_report,
        confusion_matrix,
        roc_auc_score,
    )

    from skalltransfer.datasets import load_image_folder

    if args.confusion is not None:
        _check_confusion(args.confusion)
    model, size, options = model_and_loading(args)
    if getattr(model, "classes_", None) is None:
        raise CommandError(
            f"model {args.model}: a {type(model).__name__} has no classes to "
            "score; evaluate takes a classifier, such as a model saved by "
            "'skalltransfer fit'."
        )
    with (
        reported(*DATA_ERRORS, context=args.labelled_dir),
        image_warnings(),
    ):
        X, names, info = load_image_folder(
            args.labelled_dir, size=size, return_info=True, **options
        )
    classes = model.classes_
    y = _as_model_classes(names, classes, args.labelled_dir)
    with reported(ValueError, context="evaluate"), image_warnings(RELOAD_HINT):
        predicted = model.predict(X)
        proba = (
            model.predict_proba(X)
            if len(classes) == 2 and hasattr(model, "predict_proba")
            else None
        )

    present = np.unique(y)
    print(
        f"{len(y)} images in {len(present)} classes from '{args.labelled_dir}', "
        f"read as {describe_images(info)}"
    )
    print(f"Accuracy: {accuracy_score(y, predicted):.1%}")
    with warnings.catch_warnings():
        # The line says it averages over the classes present; scikit-learn's
        # warning that others were predicted would only repeat that.
        warnings.filterwarnings(
            "ignore", "y_pred contains classes not in y_true", UserWarning
        )
        balanced = balanced_accuracy_score(y, predicted)
    print(
        f"Balanced accuracy (the mean recall over the classes present): {balanced:.1%}"
    )
    if proba is not None:
        if len(present) == 2:
            auroc = roc_auc_score(y == classes[1], proba[:, 1])
            print(
                f"AUROC ('{escape(classes[1])}' as the positive class; 0.5 is "
                f"chance): {auroc:.3f}"
            )
        else:
            print("note: no AUROC: the folder holds images of one class only.")
    report = classification_report(
        y, predicted, labels=classes, output_dict=True, zero_division=0
    )
    print_per_class(report, classes, "Per-class results:")
    matrix = confusion_matrix(y, predicted, labels=classes)
    print("Confusion matrix (rows: true class, columns: predicted class):")
    print_table(classes, classes, matrix, str, corner="true \\ predicted")
    if args.confusion is not None:
        with reported(OSError, ValueError, context=f"--confusion {args.confusion}"):
            save_confusion_plot(
                y,
                predicted,
                classes,
                args.confusion,
                f"{len(y)} images of '{escape(args.labelled_dir)}'",
            )
        print(f"Saved the confusion matrix plot to '{args.confusion}'")
    return 0


def add_evaluate_command(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help=one_line_doc(_evaluate),
        description=textwrap.fill(
            "Apply a model saved by 'fit' to a folder of labelled images (one "
            "sub-folder per class, named as the model's classes) and print the "
            "accuracy, the balanced accuracy, the AUROC (two classes), the "
            "per-class precision and recall and the confusion matrix. Images are "
            "read as 'fit' read the training images (the options recorded in "
            "MODEL_report.json beside the model), unless --intensity, --invert "
            "or --color say otherwise.",
            width=78,
        ),
        epilog="example: skalltransfer evaluate lesions.skops held_out/ "
        "--confusion confusion.png\n\n" + SECURITY_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model saved by 'fit': .skops (loads without running code) or .joblib "
        "(a pickle, which runs code when loaded: read only with --allow-pickle)",
    )
    parser.add_argument(
        "labelled_dir",
        metavar="LABELLED_DIR",
        help="folder holding one sub-folder of images per class",
    )
    parser.add_argument(
        "--confusion",
        metavar="PNG",
        default=None,
        help="also save the confusion matrix as a plot (needs matplotlib)",
    )
    add_model_input_arguments(parser)
    parser.set_defaults(func=_evaluate)
