"""Does transfer help on these images? A transfer cross-validated against
the same network trained from scratch and a linear model on raw pixels, on
the same folds."""

import math
import numbers

import joblib
import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import check_scoring, classification_report
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv
from sklearn.utils import Bunch, indexable
from sklearn.utils._param_validation import HasMethods, validate_params

from skalltransfer.plotting import TransferComparisonDisplay

TRANSFER = "transfer"
NO_TRANSFER = "no transfer (T=0)"
LINEAR = "linear model on raw pixels"


def linear_baseline():
    """Logistic regression on the pixels, its C chosen by an inner
    stratified cross-validation (as a careful analyst would)."""
    return GridSearchCV(
        LogisticRegression(max_iter=2000),
        {"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
        cv=_InnerFolds(),
    )


class _InnerFolds(StratifiedKFold):
    """Three stratified folds, fewer when a class has fewer samples."""

    def __init__(self):
        super().__init__(n_splits=3)

    def _folds_for(self, y):
        counts = np.unique(y, return_counts=True)[1]
        return StratifiedKFold(int(max(2, min(3, counts.min()))))

    def get_n_splits(self, X=None, y=None, groups=None):
        if y is None:
            return self.n_splits
        return self._folds_for(y).get_n_splits()

    def split(self, X, y, groups=None):
        return self._folds_for(y).split(X, y, groups)


def _check_inner_folds(y, folds):
    """The linear baseline chooses its C by a stratified cross-validation
    inside each training fold, which cannot split a fold holding a single
    sample of each class: refuse such folds before any fit."""
    for k, (train, _) in enumerate(folds):
        if np.unique(y[train], return_counts=True)[1].max() < 2:
            raise ValueError(
                f"Fold {k} trains on a single sample of each class; the "
                "linear baseline chooses its C by a cross-validation inside "
                "each training fold, which needs 2 samples of a class there. "
                "Pass a cv whose training folds keep more samples (stratified "
                "folds keep more for training the more folds there are) or "
                "more samples per class."
            )


def _candidates(estimator):
    """The transfer, the same network from scratch when the estimator can
    train one (``n_transferred_layers=0``), and the linear baseline."""
    found = {TRANSFER: estimator}
    if "n_transferred_layers" in estimator.get_params(deep=False):
        found[NO_TRANSFER] = clone(estimator).set_params(n_transferred_layers=0)
    found[LINEAR] = linear_baseline()
    return found


def _fit_and_score(candidate, X, y, train, test, scorer):
    model = clone(candidate).fit(X[train], y[train])
    return scorer(model, X[test], y[test]), model.predict(X[test])


@validate_params(
    {
        "estimator": [HasMethods(["fit", "predict"])],
        "X": ["array-like"],
        "y": ["array-like"],
        "groups": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "n_jobs": [int, None],
    },
    prefer_skip_nested_validation=False,  # the candidates validate themselves
)
def compare_transfer(
    estimator, X, y, *, groups=None, cv=5, scoring="accuracy", n_jobs=None
):
    """Cross-validate a transfer against not transferring, on the same folds.

    The candidates are the transfer estimator as given; the same network
    trained from scratch (``n_transferred_layers=0``, when the estimator has
    that parameter); and a logistic regression on the raw pixels, its ``C``
    chosen by an inner cross-validation. Every candidate is fitted on the
    same training folds and scored on the same test folds, so their scores
    can be compared fold by fold.

    Parameters
    ----------
    estimator : estimator
        A transfer estimator, e.g. ``AllTransferClassifier(source)``.
    X : array-like of shape (n_samples, n_features)
        Target images.
    y : array-like of shape (n_samples,)
        Target labels.
    groups : array-like of shape (n_samples,), default=None
        Group of each sample (e.g. the patient): with a group-aware ``cv``
        (``StratifiedGroupKFold``), a group's images stay in one fold. None
        with an int ``cv`` uses stratified folds.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`sklearn.model_selection.cross_validate`; an int is that
        many stratified folds (or ``StratifiedGroupKFold`` when ``groups`` is
        given).
    scoring : str or callable, default="accuracy"
        The score compared (any scikit-learn scorer).
    n_jobs : int, default=None
        Fits run in parallel with joblib (None: one at a time).

    Returns
    -------
    comparison : TransferComparison
        Per-fold scores and out-of-fold predictions of each candidate, with
        a one-sentence verdict, a per-class report and a display.

    Examples
    --------
    >>> from skalltransfer import AllTransferClassifier, StackedAutoencoderClassifier
    >>> from skalltransfer.datasets import load_mnist, load_fashion_mnist_subset
    >>> from skalltransfer.datasets import make_target_task
    >>> from skalltransfer.model_selection import compare_transfer
    >>> Xs, ys = load_mnist()
    >>> source = StackedAutoencoderClassifier(
    ...     (32,), pretrain_max_iter=1, max_iter=2, random_state=0
    ... ).fit(Xs[::5], ys[::5])
    >>> X, y = make_target_task(
    ...     *load_fashion_mnist_subset(), classes=[1, 3], n_per_class=20, random_state=0
    ... )
    >>> result = compare_transfer(
    ...     AllTransferClassifier(source, max_iter=5, random_state=0), X, y, cv=3
    ... )
    >>> list(result.scores)
    ['transfer', 'no transfer (T=0)', 'linear model on raw pixels']
    """
    X, y, groups = indexable(X, y, groups)
    X, y = np.asarray(X), np.asarray(y)
    if groups is not None and isinstance(cv, numbers.Integral):
        from sklearn.model_selection import StratifiedGroupKFold

        cv = StratifiedGroupKFold(n_splits=cv)
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    folds = list(splitter.split(X, y, groups))
    _check_inner_folds(y, folds)
    scorer = check_scoring(estimator, scoring=scoring)
    candidates = _candidates(estimator)
    jobs = [
        (name, k, candidate, train, test)
        for name, candidate in candidates.items()
        for k, (train, test) in enumerate(folds)
    ]
    results = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_fit_and_score)(candidate, X, y, train, test, scorer)
        for _, _, candidate, train, test in jobs
    )
    scores = {name: np.empty(len(folds)) for name in candidates}
    predictions = {name: np.empty(len(y), dtype=y.dtype) for name in candidates}
    for (name, k, _, _, test), (score, predicted) in zip(jobs, results):
        scores[name][k] = score
        predictions[name][test] = predicted
    return TransferComparison(
        scores=scores,
        predictions=predictions,
        y=y,
        folds=folds,
        score_name=scoring if isinstance(scoring, str) else "score",
    )


class TransferComparison(Bunch):
    """The result of :func:`compare_transfer`.

    Attributes
    ----------
    scores : dict of {str: ndarray of shape (n_folds,)}
        Per-fold scores of each candidate (``"transfer"``, ``"no transfer
        (T=0)"``, ``"linear model on raw pixels"``), on the same folds.
    predictions : dict of {str: ndarray of shape (n_samples,)}
        Out-of-fold predictions of each candidate.
    y : ndarray of shape (n_samples,)
        The labels.
    folds : list of (ndarray, ndarray)
        The (train, test) indices of each fold.
    score_name : str
        The score compared.
    """

    def mean(self, name):
        """Mean score of candidate ``name`` over the folds."""
        return float(np.mean(self.scores[name]))

    def std(self, name):
        """Standard deviation of candidate ``name``'s scores over the folds."""
        return float(np.std(self.scores[name]))

    def paired_difference(self, name, to=TRANSFER):
        """Mean and standard error of ``to`` minus ``name``, fold by fold."""
        diff = np.asarray(self.scores[to]) - np.asarray(self.scores[name])
        se = float(np.std(diff, ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0
        return float(diff.mean()), se

    @property
    def best(self):
        """The candidate with the best mean score (the transfer on a tie)."""
        return max(self.scores, key=lambda name: (self.mean(name), name == TRANSFER))

    def verdict(self):
        """One plain sentence: did transfer help on these images?"""
        others = [name for name in self.scores if name != TRANSFER]
        if not others:
            return "Nothing to compare the transfer with."
        rival = max(others, key=self.mean)
        diff, se = self.paired_difference(rival)
        fmt = _formatter(self.score_name)
        compared = (
            f"{fmt(self.mean(TRANSFER))} with transfer against {fmt(self.mean(rival))} "
            f"for the best alternative ({rival}); paired difference "
            f"{_points(diff, self.score_name)} ± "
            f"{_points(se, self.score_name, signed=False)} "
            f"over {len(self.folds)} folds"
        )
        if abs(diff) <= 2 * se:
            return (
                f"No clear difference on these images ({compared}): the "
                "difference is within twice its standard error over the folds."
            )
        if diff > 0:
            return f"Transfer helped on these images ({compared})."
        return f"Transfer did not help on these images ({compared})."

    def table(self):
        """A text table: mean ± std per candidate and the paired difference
        of the transfer to each."""
        fmt = _formatter(self.score_name)
        width = max(len(name) for name in self.scores)
        lines = [f"{'candidate':<{width}}  {self.score_name:>15}  transfer minus"]
        for name in self.scores:
            cell = f"{fmt(self.mean(name))} ± {fmt(self.std(name))}"
            if name == TRANSFER:
                diff = ""
            else:
                d, se = self.paired_difference(name)
                diff = (
                    f"{_points(d, self.score_name)} ± "
                    f"{_points(se, self.score_name, signed=False)}"
                )
            lines.append(f"{name:<{width}}  {cell:>15}  {diff}")
        return "\n".join(lines)

    def classification_report(self, name=TRANSFER, output_dict=False):
        """Per-class precision, recall and F1 of ``name``'s out-of-fold
        predictions (scikit-learn's :func:`~sklearn.metrics.classification_report`)."""
        return classification_report(
            self.y, self.predictions[name], output_dict=output_dict, zero_division=0
        )

    def to_dict(self):
        """The comparison as plain JSON-able values."""
        return {
            "score": self.score_name,
            "n_folds": len(self.folds),
            "candidates": {
                name: {
                    "fold_scores": [float(s) for s in self.scores[name]],
                    "mean": self.mean(name),
                    "std": self.std(name),
                    "transfer_minus_this": (
                        None
                        if name == TRANSFER
                        else dict(zip(("mean", "se"), self.paired_difference(name)))
                    ),
                }
                for name in self.scores
            },
            "best": self.best,
            "verdict": self.verdict(),
            "per_class": {
                name: self.classification_report(name, output_dict=True)
                for name in self.scores
            },
        }

    def plot(self, ax=None):
        """Draw the per-fold scores (:class:`TransferComparisonDisplay`)."""
        return TransferComparisonDisplay(self.scores, score_name=self.score_name).plot(
            ax=ax
        )


# Scores read as percentages (and their differences as points).
_FRACTIONS = ("accuracy", "balanced_accuracy", "roc_auc", "f1", "average_precision")


def _formatter(score_name):
    if score_name in _FRACTIONS:
        return lambda v: f"{100 * v:.1f}%"
    return lambda v: f"{v:.3f}"


def _points(value, score_name, signed=True):
    sign = "+" if signed else ""
    if score_name in _FRACTIONS:
        value, unit, digits = 100 * value, " points", 1
    else:
        unit, digits = "", 3
    # A difference that rounds to zero prints as +0.0, not -0.0.
    if round(value, digits) == 0:
        value = 0.0
    return f"{value:{sign}.{digits}f}{unit}"
