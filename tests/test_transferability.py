"""Transferability scores (LEEP, NCE, LogME, k-NN) against hand-computed values and
direct formulas, their estimator-level API, and the modified mean relation."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from sklearn.covariance import LedoitWolf
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import skalltransfer.metrics._transferability as tr
from skalltransfer import (
    AllTransferClassifier,
    SourceData,
    StackedAutoencoderClassifier,
    make_transferability_scorer,
    rank_sources,
    transferability,
)
from skalltransfer.transfer._relation import relation_matrix

THETA = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
CODES = np.array([0, 0, 1, 1])


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_leep_by_hand():
    # P(y|z): y0|z0 = .35/.45 = 7/9, y0|z1 = .15/.55 = 3/11 (and complements).
    p0 = 7 / 9 * THETA[:2, 0] + 3 / 11 * THETA[:2, 1]
    p1 = 2 / 9 * THETA[2:, 0] + 8 / 11 * THETA[2:, 1]
    expected = np.mean(np.log(np.concatenate([p0, p1])))
    assert_allclose(tr.leep_from_outputs(THETA, CODES, 2), expected, rtol=1e-12)
    assert_allclose(expected, -0.47125, rtol=1e-5)


def test_nce_by_hand():
    assert tr.nce_from_outputs(THETA, CODES, 2) == 0.0  # labels follow the units
    theta = THETA.copy()
    theta[1] = [0.4, 0.6]  # arg-max units 0, 1, 1, 1
    expected = 0.25 * np.log(1 / 3) + 0.5 * np.log(2 / 3)
    assert_allclose(tr.nce_from_outputs(theta, CODES, 2), expected, rtol=1e-12)


def leep_direct(theta, codes, n_classes):
    joint = np.stack([theta[codes == y].sum(axis=0) for y in range(n_classes)])
    joint /= len(codes)
    conditional = joint / joint.sum(axis=0)
    return np.mean(np.log(np.sum(conditional[codes] * theta, axis=1)))


def test_leep_and_nce_match_direct_formulas_in_chunks(monkeypatch):
    rng = np.random.RandomState(0)
    logits = rng.normal(scale=3, size=(103, 7))
    theta = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = rng.randint(3, size=103)
    whole = tr.leep_from_outputs(theta, codes, 3)
    assert_allclose(whole, leep_direct(theta, codes, 3), rtol=1e-10)
    nce_whole = tr.nce_from_outputs(theta, codes, 3)
    monkeypatch.setattr(tr, "CHUNK_ROWS", 10)
    assert_allclose(tr.leep_from_outputs(theta, codes, 3), whole, rtol=1e-12)
    assert_allclose(tr.nce_from_outputs(theta, codes, 3), nce_whole, rtol=1e-12)
    # float32 outputs with exact zeros stay finite.
    theta32 = theta.astype(np.float32)
    theta32[0] = [1, 0, 0, 0, 0, 0, 0]
    assert np.isfinite(tr.leep_from_outputs(theta32, codes, 3))


def evidence_direct(F, y, alpha, beta):
    n, d = F.shape
    A = alpha * np.eye(d) + beta * F.T @ F
    m = beta * np.linalg.solve(A, F.T @ y)
    return (
        n / 2 * np.log(beta)
        + d / 2 * np.log(alpha)
        - n / 2 * np.log(2 * np.pi)
        - beta / 2 * np.sum((F @ m - y) ** 2)
        - alpha / 2 * m @ m
        - 0.5 * np.linalg.slogdet(A)[1]
    )


def test_logme_matches_the_direct_evidence_and_its_maximum(monkeypatch):
    rng = np.random.RandomState(1)
    F = rng.normal(size=(40, 6))
    codes = (F[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(np.intp)
    s, V = np.linalg.eigh(F.T @ F)
    for k in range(2):
        y = (codes == k).astype(float)
        t = V.T @ F.T @ y
        for alpha, beta in [(0.5, 2.0), (3.0, 0.7)]:
            assert_allclose(
                tr.log_evidence(alpha, beta, s, t, y @ y, 40),
                evidence_direct(F, y, alpha, beta),
                rtol=1e-10,
            )
        best = minimize(
            lambda p, y=y: -evidence_direct(F, y, *np.exp(p)), [0.0, 0.0]
        ).fun
        assert_allclose(tr._max_log_evidence(s, t, y @ y, 40), -best, rtol=1e-6)
    score = tr.logme_from_features(F, codes, 2)
    monkeypatch.setattr(tr, "CHUNK_ROWS", 7)
    assert_allclose(tr.logme_from_features(F, codes, 2), score, rtol=1e-10)
    # Features that predict the labels score higher than noise.
    noise = rng.normal(size=(40, 6))
    assert score > tr.logme_from_features(noise, codes, 2)


def test_logme_with_fewer_samples_than_features_matches_the_direct_evidence():
    # n < d takes the n x n kernel matrix instead of the d x d Gram matrix;
    # both must give the evidence maximum computed directly.
    rng = np.random.RandomState(2)
    F = rng.normal(size=(9, 25))
    codes = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2], dtype=np.intp)
    per_class = []
    for k in range(3):
        y = (codes == k).astype(float)
        best = minimize(
            lambda p, y=y: -evidence_direct(F, y, *np.exp(p)), [0.0, 0.0]
        ).fun
        per_class.append(-best / len(y))
    score = tr.logme_from_features(F, codes, 3)
    # scipy's minimiser stops a little short of the fixed point's maximum.
    assert_allclose(score, np.mean(per_class), rtol=1e-5)
    assert score >= np.mean(per_class) - 1e-9
    s_kernel, t_kernel = tr._spectrum_from_kernel(F, codes, 3)
    s_gram, t_gram = tr._spectrum_from_gram(F, codes, 3)
    gram_score = np.mean(
        [
            tr._max_log_evidence(s_gram, t_gram[:, k], np.sum(codes == k), 9) / 9
            for k in range(3)
        ]
    )
    assert_allclose(score, gram_score, rtol=1e-9)
    assert_allclose(np.sort(s_kernel), np.sort(s_gram), atol=1e-9)
    # t is defined up to the sign of each eigenvector: compare |t| per value.
    order_k, order_g = np.argsort(s_kernel), np.argsort(s_gram)
    nonzero = np.sort(s_gram) > 1e-9
    assert_allclose(
        np.abs(t_kernel[order_k][nonzero]), np.abs(t_gram[order_g][nonzero]), atol=1e-9
    )


def test_knn_by_hand():
    # Cosine neighbours: 0 <-> 1 (same direction), 2 <-> 3 (cosine 0.89,
    # against 0.45 from 3 to 0 and 1), 4 -> 0 (a zero row is equally similar
    # to all: the first sample wins); 0 and 1 never pick the zero row 4.
    F = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, 2.0], [0.0, 0.0]])
    codes = np.array([0, 0, 1, 0, 1])
    # Class 0 (samples 0, 1, 3): 0 -> 1 right, 1 -> 0 right, 3 -> 2 wrong;
    # class 1 (samples 2, 4): 2 -> 3 wrong, 4 -> 0 wrong.
    expected = (2 / 3 + 0 / 2) / 2
    assert_allclose(tr.knn_from_features(F, codes, 2), expected, rtol=1e-12)


def test_knn_is_balanced_chunked_and_scale_free(monkeypatch):
    rng = np.random.RandomState(3)
    F = rng.normal(size=(50, 8))
    codes = (F[:, 0] > 0.8).astype(np.intp)  # imbalanced: about 20% in class 1
    S = F / np.linalg.norm(F, axis=1, keepdims=True)
    S = S @ S.T
    np.fill_diagonal(S, -np.inf)
    correct = codes[np.argmax(S, axis=1)] == codes
    expected = np.mean([correct[codes == k].mean() for k in range(2)])
    score = tr.knn_from_features(F, codes, 2)
    assert_allclose(score, expected, rtol=1e-12)
    assert score != correct.mean()  # balanced, not plain, accuracy
    assert_allclose(
        tr.knn_from_features(F * rng.uniform(0.1, 10, (50, 1)), codes, 2), score
    )
    monkeypatch.setattr(tr, "CHUNK_ROWS", 7)
    assert_allclose(tr.knn_from_features(F, codes, 2), score, rtol=1e-12)


@pytest.fixture(scope="module")
def sources(digits):
    X, y = digits
    Xs, ys = X[y < 6], y[y < 6]
    kw = dict(pretrain_max_iter=1, max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return {
            "wide": StackedAutoencoderClassifier((32, 16), **kw).fit(Xs, ys),
            "narrow": StackedAutoencoderClassifier((4,), **kw).fit(Xs, ys),
        }


def test_scores_of_a_source(digits, sources):
    X, y = digits
    Xt, yt = X[y >= 6], y[y >= 6]
    source = sources["wide"]
    leep = transferability(source, Xt, yt)
    assert leep <= 0
    assert transferability(source, Xt, yt, method="nce") <= 0
    for layer in (None, 1, 2, 3, "all"):
        assert np.isfinite(transferability(source, Xt, yt, method="logme", layer=layer))
        knn = transferability(source, Xt, yt, method="knn", layer=layer)
        assert 1 / 4 < knn <= 1  # four classes: better than chance
    # By default k-NN reads every hidden layer, LogME the top one.
    assert transferability(source, Xt, yt, method="knn") == transferability(
        source, Xt, yt, method="knn", layer="all"
    )
    assert transferability(source, Xt, yt, method="logme") == transferability(
        source, Xt, yt, method="logme", layer=2
    )
    # float32 and float64 inputs agree; a fitted transfer scores its source.
    assert_allclose(transferability(source, Xt.astype(np.float64), yt), leep, rtol=1e-5)
    clf = AllTransferClassifier(source, max_iter=2, random_state=0).fit(Xt, yt)
    assert_allclose(clf.transferability_, leep, rtol=1e-6)
    assert_allclose(transferability(clf, Xt, yt), leep, rtol=1e-6)


def test_bad_input_names_the_fix(digits, sources):
    X, y = digits
    source = sources["wide"]
    with pytest.raises(ValueError, match="method must be one of"):
        transferability(source, X, y, method="h-score")
    for method in ("logme", "knn"):
        for layer in (4, 0, "last"):
            with pytest.raises(
                ValueError, match=r"layer must be None, 'all'.*\[1, 3\]"
            ):
                transferability(source, X, y, method=method, layer=layer)
    with pytest.raises(ValueError, match="expects 64"):
        transferability(source, X[:, :30], y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        transferability(source, X[y == 1], y[y == 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        transferability(source, X * 3, y)
    with pytest.raises(TypeError, match="dict"):
        rank_sources([source], X, y)


def test_rank_sources_is_sorted(digits, sources):
    X, y = digits
    Xt, yt = X[y >= 6], y[y >= 6]
    ranking = rank_sources(sources, Xt, yt, method="logme")
    assert list(ranking.score) == sorted(ranking.score, reverse=True)
    assert set(ranking.source) == {"wide", "narrow"}
    assert ranking.method == "logme" and (ranking.seconds >= 0).all()


def test_scorer_prescreens_a_search_without_fine_tuning(digits):
    X, y = digits
    Xs, ys, Xt, yt = X[y < 6], y[y < 6], X[y >= 6], y[y >= 6]
    base = AllTransferClassifier(
        StackedAutoencoderClassifier(pretrain_max_iter=1, max_iter=10, random_state=0),
        source_data=SourceData(Xs, ys),
        max_iter=0,
    )
    grid = {"source__hidden_layer_sizes": [(4,), (32, 16)]}
    for method, layer in [("leep", None), ("logme", "transferred"), ("knn", None)]:
        search = GridSearchCV(
            base, grid, cv=2, scoring=make_transferability_scorer(method, layer)
        ).fit(Xt, yt)
        scores = search.cv_results_["mean_test_score"]
        assert np.isfinite(scores).all() and scores[0] != scores[1]
    # In a Pipeline, X passes the earlier steps.
    pipe = make_pipeline(FunctionTransformer(lambda A: A / 2), base)
    pipe.fit(Xt * 2, yt)
    scorer = make_transferability_scorer()
    assert_allclose(scorer(pipe, Xt * 2, yt), transferability(pipe[-1], Xt, yt))


def test_modified_mean_relation_separates_close_classes():
    rng = np.random.RandomState(0)
    # Two target classes whose source outputs overlap: the same dominant unit.
    base = np.array([0.7, 0.2, 0.1])
    a = base + rng.normal(scale=0.05, size=(20, 3)) * [1, 1, 0]
    b = base + rng.normal(scale=0.05, size=(20, 3)) * [1, 0, 1]
    outputs = np.abs(np.vstack([a, b]))
    outputs /= outputs.sum(axis=1, keepdims=True)
    codes = np.repeat([0, 1], 20)
    mean = relation_matrix(outputs, codes, 2, "mean")
    modified = relation_matrix(outputs, codes, 2, "mean-modified")
    assert_allclose(modified.sum(axis=1), 1)
    assert (modified >= 0).all()
    gap = np.linalg.norm(mean[0] - mean[1])
    assert np.linalg.norm(modified[0] - modified[1]) > 2 * gap
    # Deterministic.
    assert_allclose(relation_matrix(outputs, codes, 2, "mean-modified"), modified)
    # Each row maximises its documented objective over the simplex: no
    # nearby point (nor the mean itself) scores higher.
    for j in range(2):
        rows = outputs[codes == j]
        cov = LedoitWolf().fit(rows).covariance_ + 1e-6 * np.eye(3)
        precision = np.linalg.inv(cov) / 3

        def objective(r, j=j, precision=precision):
            d = r - mean[j]
            repulsion = 1 / (np.linalg.norm(r - mean[1 - j]) + 1e-3)
            return -(d @ precision @ d) - repulsion

        best = objective(modified[j])
        assert best > objective(mean[j])
        for _ in range(200):
            r = np.abs(modified[j] + rng.normal(scale=0.01, size=3))
            assert objective(r / r.sum()) <= best + 1e-9


def test_alltransfer_with_the_modified_mean_relation(digits, sources):
    X, y = digits
    Xt, yt = X[y >= 6], y[y >= 6]
    clf = AllTransferClassifier(
        sources["wide"], relation="mean-modified", max_iter=20, random_state=0
    ).fit(Xt, yt)
    assert_allclose(clf.relation_.sum(axis=1), 1)
    out = clf.network_.output_proba(Xt)
    d2 = ((out[:, None, :] - clf.relation_[None]) ** 2).sum(axis=2)
    assert (clf.predict(Xt) == clf.classes_[d2.argmin(axis=1)]).all()


def test_knn_over_every_hidden_layer(digits, sources, monkeypatch):
    X, y = digits
    Xt, yt = X[y >= 6][:120], y[y >= 6][:120]
    source = sources["wide"]
    monkeypatch.setattr(tr, "CHUNK_ROWS", 7)  # several row chunks
    stack = tr.LayerStack.from_estimator(source)
    layers = [stack.hidden_representation(Xt, k) for k in (1, 2)]
    unit = [A / np.linalg.norm(A, axis=1, keepdims=True) for A in layers]
    codes = np.searchsorted(np.unique(yt), yt)
    expected = tr.knn_from_features(np.hstack(unit), codes, 4)
    assert_allclose(
        transferability(source, Xt, yt, method="knn", layer="all"), expected, rtol=1e-6
    )
    # The cosine of the side-by-side unit rows is the mean of the layers'.
    cos = [U @ U.T for U in unit]
    joint = np.hstack(unit) @ np.hstack(unit).T / 2
    assert_allclose(joint, (cos[0] + cos[1]) / 2, atol=1e-6)
    # A stack without hidden layers has nothing to read.
    with pytest.raises(ValueError, match="has none"):
        tr._features(tr.LayerStack([np.ones((64, 4))], [np.zeros(4)]), Xt, "all")


def test_scorer_transferred_layer_of_a_full_transfer_is_the_top_layer(digits, sources):
    X, y = digits
    Xt, yt = X[y >= 6], y[y >= 6]
    clf = AllTransferClassifier(sources["wide"], max_iter=0).fit(Xt, yt)
    scorer = make_transferability_scorer("knn", layer="transferred")
    assert scorer(clf, Xt, yt) == transferability(
        sources["wide"], Xt, yt, method="knn", layer=2
    )
