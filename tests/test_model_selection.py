"""compare_transfer: the transfer, the same network from scratch and a
linear model, fitted and scored on the same folds, with a verdict, a
per-class report and a display."""

import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

from skalltransfer import AllTransferClassifier, StackedAutoencoderClassifier
from skalltransfer.model_selection import TransferComparison, compare_transfer


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def task(digits):
    X, y = digits
    source = StackedAutoencoderClassifier(
        (16,), pretrain_max_iter=0, max_iter=3, random_state=0
    ).fit(X[y < 6], y[y < 6])
    keep = np.flatnonzero(y >= 6)[:60]
    return source, X[keep], y[keep]


def test_every_candidate_is_scored_on_the_same_folds(task):
    source, X, y = task
    clf = AllTransferClassifier(source, max_iter=3, random_state=0)
    result = compare_transfer(clf, X, y, cv=3)
    assert isinstance(result, TransferComparison)
    assert list(result.scores) == [
        "transfer",
        "no transfer (T=0)",
        "linear model on raw pixels",
    ]
    # The transfer's scores are cross_val_score's on the same folds.
    assert_array_equal(result.scores["transfer"], cross_val_score(clf, X, y, cv=3))
    for name, predicted in result.predictions.items():
        assert predicted.shape == y.shape
        accuracy = [np.mean(predicted[t] == y[t]) for _, t in result.folds]
        np.testing.assert_allclose(accuracy, result.scores[name])
    assert result.best in result.scores
    assert any(word in result.verdict() for word in ("helped", "not help", "clear"))
    assert "transfer minus" in result.table()
    json.dumps(result.to_dict())  # plain values only
    assert "precision" in result.classification_report()


def test_groups_keep_a_group_in_one_fold(task):
    source, X, y = task
    groups = np.arange(len(y)) // 4  # four images per patient
    clf = AllTransferClassifier(source, max_iter=2, random_state=0)
    result = compare_transfer(clf, X, y, groups=groups, cv=3)
    for train, test in result.folds:
        assert not set(groups[train]) & set(groups[test])
    explicit = compare_transfer(clf, X, y, groups=groups, cv=StratifiedGroupKFold(3))
    assert_array_equal(explicit.scores["transfer"], result.scores["transfer"])


def test_an_estimator_without_depth_is_compared_with_the_linear_model(task):
    from skalltransfer import TruncatedTransferClassifier

    source, X, y = task
    result = compare_transfer(
        TruncatedTransferClassifier(source, 1, max_iter=2), X, y, cv=3
    )
    assert list(result.scores) == ["transfer", "linear model on raw pixels"]


def test_the_display_draws_each_fold(task):
    plt = pytest.importorskip("matplotlib.pyplot")
    source, X, y = task
    result = compare_transfer(
        AllTransferClassifier(source, max_iter=2, random_state=0), X, y, cv=3
    )
    disp = result.plot()
    assert len(disp.ax_.get_xticklabels()) == 3
    assert len(disp.ax_.lines) >= 3  # one line per fold
    plt.close(disp.figure_)


def test_folds_training_on_one_sample_of_each_class_are_refused(task):
    # Two of each class in two stratified folds leave one of each for
    # training: the linear model's inner search cannot split that, and
    # scikit-learn failed there with its own message after the transfer had
    # been fitted.
    source, X, y = task
    rows = np.concatenate([np.flatnonzero(y == c)[:2] for c in (6, 7)])
    clf = AllTransferClassifier(source, max_iter=3, random_state=0)
    with pytest.raises(ValueError, match=r"single sample of each class.*cv"):
        compare_transfer(clf, X[rows], y[rows], cv=2)


def test_a_class_with_one_training_sample_among_larger_ones_is_scored(task):
    # The inner search splits the larger classes; the small class only warns.
    source, X, y = task
    rows = np.concatenate(
        [np.flatnonzero(y == c)[:n] for c, n in ((6, 12), (7, 12), (8, 2))]
    )
    clf = AllTransferClassifier(source, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = compare_transfer(clf, X[rows], y[rows], cv=2)
    assert len(result.folds) == 2
    assert all(np.isfinite(s).all() for s in result.scores.values())
