"""The other ways to reuse a source: direct use and frozen features."""

import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from skalltransfer import (
    DirectTransferClassifier,
    MPDBMClassifier,
    SourceFeatures,
    StackedAutoencoderClassifier,
)


@pytest.fixture(scope="module")
def sae(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return StackedAutoencoderClassifier(
            (24, 16), pretrain_max_iter=2, max_iter=20, random_state=0
        ).fit(X, y)


def test_source_features_in_a_pipeline(digits, sae):
    X, y = digits
    before = joblib.hash(sae.__dict__)
    for layer, width in [(1, 24), (2, 16), (None, 16)]:
        feats = SourceFeatures(sae, layer=layer).fit(X[:50])
        H = feats.transform(X[:30])
        assert H.shape == (30, width) and feats.layer_ == (layer or 2)
    assert_allclose(SourceFeatures(sae).fit(X).transform(X[:5]), sae.transform(X[:5]))
    pipe = make_pipeline(SourceFeatures(sae, layer=1), LogisticRegression(max_iter=500))
    scores = cross_val_score(pipe, X[:400], y[:400], cv=3)
    assert scores.mean() > 0.8
    assert joblib.hash(sae.__dict__) == before
    with pytest.raises(ValueError, match="out of range"):
        SourceFeatures(sae, layer=3).fit(X)


def test_source_features_of_an_mpdbm(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dbm = MPDBMClassifier(
            (12, 8),
            n_mean_field_iter=3,
            max_iter=2,
            learning_rate_init=5,
            random_state=0,
        ).fit(X, y)
    H = SourceFeatures(dbm, layer=2).fit(X).transform(X[:10])
    assert_allclose(H, dbm.transform(X[:10]), rtol=1e-6)


def test_direct_use_maps_target_to_source_labels(digits, sae):
    X, y = digits
    mask = np.isin(y, [3, 8])
    clf = DirectTransferClassifier(sae).fit(X[mask], y[mask])
    assert_array_equal(clf.classes_, [3, 8])
    proba = clf.predict_proba(X[mask])
    source = sae.predict_proba(X[mask])[:, [3, 8]]
    assert_allclose(proba, source / source.sum(axis=1, keepdims=True), rtol=1e-5)
    assert clf.score(X[mask], y[mask]) > 0.9
    names = np.where(y[mask] == 3, "three", "eight")
    named = DirectTransferClassifier(sae, label_map={"three": 3, "eight": 8})
    assert named.fit(X[mask], names).score(X[mask], names) == clf.score(
        X[mask], y[mask]
    )
    with pytest.raises(ValueError, match="subset of the source labels"):
        DirectTransferClassifier(sae).fit(X[mask], names)


def test_direct_use_before_fit_raises_not_fitted(digits, sae):
    # Predicting before fit raises NotFittedError, not AttributeError.
    X, _ = digits
    clf = DirectTransferClassifier(sae)
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(NotFittedError):
            method(X[:3])


def test_direct_use_refuses_a_single_class(digits, sae):
    # A single target class is refused, as by every other classifier here.
    X, y = digits
    with pytest.raises(ValueError, match="only one class"):
        DirectTransferClassifier(sae).fit(X[y == 3], y[y == 3])


def test_truncated_transfer_keeps_bottom_layers(digits, sae):
    from skalltransfer import TruncatedTransferClassifier

    X, y = digits
    Xt, yt = X[y >= 6][:200], y[y >= 6][:200]
    clf = TruncatedTransferClassifier(sae, truncation=1, max_iter=0, random_state=0)
    clf.fit(Xt, yt)
    assert clf.network_.layer_sizes == [64, 24, 4]
    assert_array_equal(clf.coefs_[0], sae.coefs_[0])  # kept, not re-initialised
    assert clf.truncation_ == 1 and clf.cv_results_ is None
    with pytest.raises(ValueError, match="exceeds"):
        TruncatedTransferClassifier(sae, truncation=3).fit(Xt, yt)


def test_truncated_transfer_auto_chooses_by_inner_cv(digits, sae):
    from skalltransfer import AllTransferClassifier, TruncatedTransferClassifier

    X, y = digits
    Xt, yt = X[y >= 6][:160], y[y >= 6][:160]
    before = joblib.hash(sae.__dict__)
    clf = TruncatedTransferClassifier(sae, cv=3, max_iter=40, random_state=0)
    clf.fit(Xt, yt)
    results = clf.cv_results_
    assert list(results["param_truncation"]) == [1, 2]
    best = int(np.argmax(results["mean_test_score"]))
    assert clf.truncation_ == [1, 2][best]
    assert clf.network_.n_layers == clf.truncation_ + 1
    assert joblib.hash(sae.__dict__) == before
    assert clf.score(X[y >= 6][200:], y[y >= 6][200:]) > 0.8
    # Imbalanced target: plain likelihood by default, as AllTransfer's;
    # "balanced" is one parameter away.
    keep = np.r_[np.flatnonzero(yt == 6), np.flatnonzero(yt != 6)[:20]]
    for weights in (None, "balanced"):
        TruncatedTransferClassifier(
            sae, truncation=2, max_iter=3, class_weight=weights
        ).fit(Xt[keep], yt[keep])
    assert TruncatedTransferClassifier(sae).class_weight is None
    assert AllTransferClassifier(sae).class_weight is None
