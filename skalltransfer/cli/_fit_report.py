"""What ``fit`` reports beyond the transfer itself: the transfer
cross-validated against not transferring, per-class results, the report file
and the plots saved beside the model."""

import json
import warnings

import numpy as np

from skalltransfer._core._images import ImageConventionWarning
from skalltransfer._core._progress import progress_bar
from skalltransfer.cli._common import escape, print_table, reported

MATPLOTLIB_NOTE = (
    "note: matplotlib is not installed, so the plots were not saved; install "
    "it with 'pip install \"skalltransfer[plot]\"'."
)

# A confusion plot is at most this many inches a side, with a count in each
# cell up to this many classes.
MAX_CONFUSION_INCHES = 24.0
MAX_CONFUSION_COUNTS = 40


class _CountingScorer:
    """Accuracy, advancing a progress bar by one fit each time it scores."""

    def __init__(self, bar):
        from sklearn.metrics import get_scorer

        self.bar = bar
        self.scorer = get_scorer("accuracy")

    def __call__(self, estimator, X, y):
        score = self.scorer(estimator, X, y)
        self.bar.update(1)
        return score


def run_comparison(clf, X, y, groups, splitter, show_bar):
    """:func:`compare_transfer` of the unfitted-looking ``clf`` on the folds
    of ``splitter``, with a progress bar over its fits."""
    from sklearn.exceptions import ConvergenceWarning

    from skalltransfer.model_selection import compare_transfer
    from skalltransfer.model_selection._comparison import _candidates

    n_fits = len(_candidates(clf)) * splitter.get_n_splits()
    with progress_bar(show_bar, n_fits, "cross-validation", "fit") as bar:
        scoring = "accuracy" if bar is None else _CountingScorer(bar)
        with warnings.catch_warnings():
            # A fixed number of epochs is the plan, not a failure; and the
            # images were already checked against the source as a whole.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", ImageConventionWarning)
            with reported(ValueError, TypeError, context="cross-validation"):
                comparison = compare_transfer(
                    clf, X, y, groups=groups, cv=splitter, scoring=scoring
                )
    comparison.score_name = "accuracy"
    return comparison


def print_comparison(comparison, how):
    """The table of the candidates, the verdict."""
    print(
        f"Cross-validated accuracy ({len(comparison.folds)}-fold, {how}; the same "
        "folds for every candidate):"
    )
    for line in comparison.table().splitlines():
        print(f"  {line}".rstrip())
    print(comparison.verdict())


def print_per_class(report, classes, heading):
    """Per-class precision, recall, F1 and support of a classification
    report dict, under ``heading``."""
    print(heading)
    columns = ["precision", "recall", "f1-score", "support"]
    names = [str(c) for c in classes]
    rows = np.array(
        [
            [f"{report[n][k]:.2f}" for k in columns[:3]] + [f"{report[n]['support']:g}"]
            for n in names
        ],
        dtype=object,
    )
    print_table(names, columns, rows, str, corner="class")


def comparison_record(comparison, relative, groups, splitter, chosen):
    """The cross-validation part of the report: the folds (test images),
    each candidate's per-fold scores and per-class report, and the chosen
    candidate."""
    record = comparison.to_dict()
    record["splitter"] = type(splitter).__name__
    record["folds"] = [[relative[i] for i in test] for _, test in comparison.folds]
    record["chosen"] = chosen
    # Image by image, in the order of "files": what a reader needs to find
    # the images a candidate got wrong.
    test_fold = np.empty(len(relative), dtype=int)
    for k, (_, test) in enumerate(comparison.folds):
        test_fold[test] = k
    record["files"] = list(relative)
    record["labels"] = [str(label) for label in comparison.y]
    record["groups"] = None if groups is None else [str(g) for g in groups]
    record["test_fold"] = test_fold.tolist()
    record["out_of_fold_predictions"] = {
        name: [str(p) for p in predicted]
        for name, predicted in comparison.predictions.items()
    }
    return record


def _plain(value):
    """NumPy values as plain JSON ones."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_report(path, report, shown):
    with reported(OSError, context=f"writing {shown}"):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, default=_plain)
            f.write("\n")


def matplotlib_missing():
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        return True
    return False


def _figure(size):
    # A bare Figure needs no GUI backend, so this works on headless servers.
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.subplots()


def save_relation_plot(clf, path, source_names):
    """The relation of each class to the source's output units, named by
    the source's classes when ``source_names``."""
    from skalltransfer.plotting._relation import RelationDisplay

    fig, ax = _figure((max(6.4, 0.6 * clf.relation_.shape[1] + 1), 4.0))
    RelationDisplay.from_estimator(clf, ax=ax)
    if source_names:
        ax.set_xlabel("source class (output unit of the source network)")
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def save_comparison_plot(comparison, path):
    fig, ax = _figure((6.4, 4.0))
    comparison.plot(ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def save_confusion_plot(y, predicted, classes, path, title):
    """scikit-learn's ConfusionMatrixDisplay of ``predicted`` against ``y``."""
    from sklearn.metrics import ConfusionMatrixDisplay

    from skalltransfer.plotting._style import literal_label

    # Capped: the figure would grow with the square of the number of classes,
    # and a count in every cell is unreadable beyond a few dozen.
    side = min(max(4.0, 0.6 * len(classes) + 2.5), MAX_CONFUSION_INCHES)
    fig, ax = _figure((side + 0.8, side))
    ConfusionMatrixDisplay.from_predictions(
        y,
        predicted,
        labels=classes,
        display_labels=[literal_label(escape(c)) for c in classes],
        include_values=len(classes) <= MAX_CONFUSION_COUNTS,
        ax=ax,
        colorbar=False,
        xticks_rotation="vertical" if len(classes) > 4 else "horizontal",
    )
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
