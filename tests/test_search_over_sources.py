"""Which fitted source a clone transfers from: a search over several fitted
sources, a clone whose source was replaced, and a fitted transfer estimator
used as the source of another."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_val_score

from skalltransfer import (
    AllTransferClassifier,
    DirectTransferClassifier,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
)

SAE_KW = dict(
    hidden_layer_sizes=(24, 16), pretrain_max_iter=2, max_iter=15, random_state=0
)
FAST = dict(max_iter=4, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def two_sources(digits):
    """Two fitted sources with the same parameters and different data (digits
    0-5, and the same images upside down with their labels shifted); the
    target is digits 6-9."""
    X, y = digits
    source_rows = y < 6
    Xs, ys = X[source_rows], y[source_rows]
    flipped = Xs.reshape(-1, 8, 8)[:, ::-1].reshape(len(Xs), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = StackedAutoencoderClassifier(**SAE_KW).fit(Xs, ys)
        second = StackedAutoencoderClassifier(**SAE_KW).fit(flipped, (ys + 3) % 6)
    return first, second, X[~source_rows], y[~source_rows]


def probabilities(estimator, X, y):
    return estimator.fit(X, y).predict_proba(X)


def test_the_two_sources_transfer_differently(two_sources):
    first, second, X, y = two_sources
    assert not np.allclose(
        probabilities(AllTransferClassifier(first, **FAST), X, y),
        probabilities(AllTransferClassifier(second, **FAST), X, y),
    )


def test_a_search_over_fitted_sources_never_scores_a_remembered_one(two_sources):
    # A search clones (un-fits) the sources it sets; the clone of the base
    # estimator must not take them for the fitted source it was built with.
    first, second, X, y = two_sources
    search = GridSearchCV(
        AllTransferClassifier(first, **FAST),
        {"source": [first, second]},
        cv=3,
        error_score="raise",
    )
    with pytest.raises(ValueError, match=r"not fitted.*FrozenEstimator\(s\)"):
        search.fit(X, y)
    # The way the message names works, and scores each source.
    frozen = [FrozenEstimator(first), FrozenEstimator(second)]
    search.set_params(param_grid={"source": frozen}).fit(X, y)
    for k, source in enumerate(frozen):
        direct = cross_val_score(AllTransferClassifier(source, **FAST), X, y, cv=3)
        assert search.cv_results_["mean_test_score"][k] == pytest.approx(direct.mean())


def test_a_clone_transfers_from_the_source_set_last(two_sources):
    first, second, X, y = two_sources
    replaced = clone(AllTransferClassifier(first, **FAST)).set_params(source=second)
    again = clone(replaced).fit(X, y)
    assert again.source_ is second
    assert_allclose(
        again.predict_proba(X),
        probabilities(AllTransferClassifier(second, **FAST), X, y),
    )
    # Setting the very source a clone stands for keeps it.
    kept = clone(AllTransferClassifier(first, **FAST))
    kept.set_params(source=kept.source)
    assert kept.fit(X, y).source_ is first


@pytest.mark.parametrize(
    "make",
    [
        lambda source: AllTransferClassifier(source, **FAST),
        lambda source: TruncatedTransferClassifier(source, truncation=1, **FAST),
        lambda source: DirectTransferClassifier(source),
    ],
    ids=["all-transfer", "truncated", "direct"],
)
def test_a_fitted_transfer_estimator_is_a_source_its_clones_can_use(two_sources, make):
    first, _, X, y = two_sources
    inner = AllTransferClassifier(first, **FAST).fit(X, y)
    outer = make(inner)
    assert_allclose(probabilities(clone(outer), X, y), probabilities(outer, X, y))
    assert cross_val_score(outer, X, y, cv=3, error_score="raise").shape == (3,)
    features = SourceFeatures(inner)
    assert_allclose(
        clone(features).fit(X, y).transform(X), features.fit(X, y).transform(X)
    )


def test_a_search_over_the_inner_source_of_a_fitted_transfer_is_an_error(
    two_sources,
):
    # The fitted inner transfer was tuned from the first source: a search that
    # swaps the source under it must not reuse those weights.
    first, second, X, y = two_sources
    outer = AllTransferClassifier(AllTransferClassifier(first, **FAST).fit(X, y))
    search = GridSearchCV(
        outer, {"source__source": [first, second]}, cv=3, error_score="raise"
    )
    with pytest.raises(ValueError, match="parameters differ"):
        search.fit(X, y)
