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


def test_folds_too_small_for_the_linear_models_inner_search_are_refused(task):
    # Three of each class in two stratified folds leave one for training:
    # scikit-learn's inner search failed there with its own message, after
    # the transfer had been fitted.
    source, X, y = task
    rows = np.concatenate([np.flatnonzero(y == c)[:3] for c in (6, 7)])
    clf = AllTransferClassifier(source, max_iter=3, random_state=0)
    with pytest.raises(ValueError, match=r"trains on 1 sample of class \d.*cv"):
        compare_transfer(clf, X[rows], y[rows], cv=2)
    result = compare_transfer(clf, X[rows], y[rows], cv=3)
    assert len(result.folds) == 3
