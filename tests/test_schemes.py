"""The other ways to reuse a source: direct use and frozen features."""

import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
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
