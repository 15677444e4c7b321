"""The MP-DBM kernel: exact gradients through the unrolled inference and the
mean-field properties of notes/mpdbm.md section 7."""

import warnings

import numpy as np
import pytest
from _gradcheck import numeric_grad, rel_err
from _reference import logistic, softmax
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skalltransfer._kernels._mean_field import (
    mean_field_labels,
    mf_forward,
    mf_loss_grad,
    mp_forward,
    mp_loss_grad,
)


def _net(rng, sizes, scale=0.5, dtype=np.float64):
    coefs = [
        rng.normal(0, scale, (a, b)).astype(dtype)
        for a, b in zip(sizes[:-1], sizes[1:])
    ]
    intercepts = [rng.normal(0, scale, b).astype(dtype) for b in sizes[1:]]
    bv = rng.normal(0, scale, sizes[0]).astype(dtype)
    return coefs, intercepts, bv


def _batch(rng, sizes, B=6, p_v=0.5, p_y=0.5, dtype=np.float64):
    D, C = sizes[0], sizes[-1]
    X = (rng.uniform(size=(B, D)) < 0.5).astype(dtype)
    Y = np.eye(C, dtype=dtype)[rng.randint(0, C, B)]
    Mv = (rng.uniform(size=(B, D)) < p_v).astype(dtype)
    My = (rng.uniform(size=B) < p_y).astype(dtype)
    return X, Y, Mv, My


def _V0(bv, X, Mv):
    return Mv * logistic(bv) + (1 - Mv) * X


def _loss(coefs, intercepts, bv, X, Y, Mv, My, n_iter, **kw):
    return mp_loss_grad(
        coefs, intercepts, bv, X, Y, Mv, My, _V0(bv, X, Mv), n_iter, **kw
    )


@pytest.mark.parametrize(
    "sizes, n_iter, label_weight, weighted",
    [
        ([6, 5, 4, 3], 3, 1.0, False),
        ([6, 5, 4, 3], 5, 10.0, True),
        ([6, 5, 3], 4, 1.0, False),
        ([6, 5, 4, 4, 3], 5, 2.0, False),
    ],
)
def test_gradient_matches_finite_differences(sizes, n_iter, label_weight, weighted):
    rng = np.random.RandomState(0)
    coefs, intercepts, bv = _net(rng, sizes)
    X, Y, Mv, My = _batch(rng, sizes)
    w = rng.uniform(0.5, 1.5, X.shape[0]) if weighted else None
    V0 = _V0(bv, X, Mv)  # held constant: no gradient through sigmoid(b_v)

    def f():
        return mp_loss_grad(
            coefs,
            intercepts,
            bv,
            X,
            Y,
            Mv,
            My,
            V0,
            n_iter,
            label_weight=label_weight,
            sample_weight=w,
        )[0]

    _, gc, gi, gv = mp_loss_grad(
        coefs,
        intercepts,
        bv,
        X,
        Y,
        Mv,
        My,
        V0,
        n_iter,
        label_weight=label_weight,
        sample_weight=w,
    )
    for P, G in [*zip(coefs, gc), *zip(intercepts, gi), (bv, gv)]:
        assert rel_err(G, numeric_grad(f, P)) < 1e-6


@pytest.mark.parametrize(
    "sizes, n_iter, multi_inference, loss, weighted",
    [
        ([6, 5, 4, 3], 3, False, "log_loss", False),
        ([6, 5, 4, 3], 5, True, "log_loss", True),
        ([6, 5, 3], 4, True, "squared_error", False),
        ([6, 5, 4, 4, 3], 5, True, "log_loss", False),
        ([6, 5, 4, 4, 3], 4, False, "squared_error", True),
        ([6, 5, 4, 3], 1, False, "log_loss", False),
    ],
)
def test_classification_gradient_matches_finite_differences(
    sizes, n_iter, multi_inference, loss, weighted
):
    # Discriminative fine-tuning back-propagates through the unrolled
    # classification inference: every parameter, the visible bias included
    # (it enters the multi-inference reconstructions and initial state).
    rng = np.random.RandomState(1)
    coefs, intercepts, bv = _net(rng, sizes, scale=0.7)
    X = rng.uniform(size=(5, sizes[0]))
    C = sizes[-1]
    targets = (
        np.eye(C)[rng.randint(0, C, 5)]
        if loss == "log_loss"
        else rng.dirichlet(np.ones(C), 5)
    )
    w = rng.uniform(0.5, 2.0, 5) if weighted else None

    def f():
        return mf_loss_grad(
            coefs, intercepts, bv, X, targets, n_iter, multi_inference, loss, w
        )[0]

    _, gc, gi, gv = mf_loss_grad(
        coefs, intercepts, bv, X, targets, n_iter, multi_inference, loss, w
    )
    for P, G in [*zip(coefs, gc), *zip(intercepts, gi), (bv, gv)]:
        assert rel_err(G, numeric_grad(f, P)) < 1e-6
    if not multi_inference:
        # Clamped pixels: the visible bias plays no part.
        assert not np.any(gv)


@pytest.mark.parametrize("multi_inference", [False, True])
@pytest.mark.parametrize("sizes", [[7, 6, 5, 4], [7, 6, 4], [7, 6, 5, 5, 4]])
def test_classification_forward_is_the_prediction_inference(sizes, multi_inference):
    # What discriminative fine-tuning trains is exactly what predicts.
    rng = np.random.RandomState(2)
    coefs, intercepts, bv = _net(rng, sizes, dtype=np.float32)
    X = rng.uniform(size=(9, sizes[0])).astype(np.float32)
    fwd = mf_forward(coefs, intercepts, bv, X, 6, multi_inference)
    proba, _ = mean_field_labels(
        coefs, intercepts, bv, X, 6, multi_inference=multi_inference
    )
    got = fwd["states"][len(sizes) - 1, fwd["final"]]
    assert got.dtype == np.float32
    assert_allclose(got, proba, rtol=0, atol=1e-6)
    value, gc, gi, gv = mf_loss_grad(
        coefs, intercepts, bv, X, np.eye(sizes[-1], dtype=np.float32)[[0] * 9], 6
    )
    assert np.isfinite(value)
    assert all(g.dtype == np.float32 for g in [*gc, *gi, gv])


def test_empty_mask_gives_zero_loss_and_gradient():
    rng = np.random.RandomState(1)
    sizes = [8, 6, 5, 3]
    coefs, intercepts, bv = _net(rng, sizes)
    X, Y, _, _ = _batch(rng, sizes)
    Mv, My = np.zeros_like(X), np.zeros(X.shape[0])
    loss, gc, gi, gv = _loss(coefs, intercepts, bv, X, Y, Mv, My, 4)
    assert loss == 0.0
    for g in [*gc, *gi, gv]:
        assert not np.any(g)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1), n_iter=st.integers(2, 6), depth=st.integers(1, 3)
)
def test_no_leakage_of_predicted_values(seed, n_iter, depth):
    """Changing X where Mv = 1, or Y where My = 1, changes no state and no
    prediction; observed pixels equal X exactly at every iteration."""
    rng = np.random.RandomState(seed)
    sizes = [7] + [5] * depth + [3]
    coefs, intercepts, bv = _net(rng, sizes)
    X, Y, Mv, My = _batch(rng, sizes)
    X2 = np.where(Mv == 1, 1 - X, X)  # flip every predicted pixel
    Y2 = Y.copy()
    Y2[My == 1] = np.roll(Y[My == 1], 1, axis=1)  # change every predicted label
    a = mp_forward(coefs, intercepts, bv, X, Y, Mv, My, _V0(bv, X, Mv), n_iter)
    b = mp_forward(coefs, intercepts, bv, X2, Y2, Mv, My, _V0(bv, X2, Mv), n_iter)
    for sa, sb in zip(a["states"], b["states"]):
        assert_allclose(sa, sb, rtol=0, atol=0)
    for key in a["logits"]:
        assert_allclose(a["logits"][key], b["logits"][key], rtol=0, atol=0)
    observed = Mv == 0
    for V in a["states"][0]:
        assert np.array_equal(V[observed], X[observed])


def test_batch_invariance():
    """One example's inference and predictions do not depend on its batch."""
    rng = np.random.RandomState(2)
    sizes = [9, 6, 5, 4]
    coefs, intercepts, bv = _net(rng, sizes)
    X, Y, Mv, My = _batch(rng, sizes, B=10)
    full = mp_forward(coefs, intercepts, bv, X, Y, Mv, My, _V0(bv, X, Mv), 5)
    one = mp_forward(
        coefs,
        intercepts,
        bv,
        X[3:4],
        Y[3:4],
        Mv[3:4],
        My[3:4],
        _V0(bv, X[3:4], Mv[3:4]),
        5,
    )
    for key in full["logits"]:
        assert_allclose(full["logits"][key][3:4], one["logits"][key], rtol=1e-12)
    p_full, _ = mean_field_labels(coefs, intercepts, bv, X, 6)
    p_one, _ = mean_field_labels(coefs, intercepts, bv, X[3:4], 6)
    assert_allclose(p_full[3:4], p_one, rtol=1e-12)


def _energy(coefs, intercepts, bv, layers):
    """E(v, h_1..h_K, y) for (mean-field or binary) layer states."""
    e = -layers[0] @ bv
    for k, (W, b) in enumerate(zip(coefs, intercepts), start=1):
        e -= layers[k - 1] @ W @ layers[k] + layers[k] @ b
    return e


def test_mean_field_fixed_point_agrees_with_the_energy():
    """At convergence every unit's marginal is its conditional probability
    given its neighbours' means, computed from energy differences alone."""
    rng = np.random.RandomState(3)
    sizes = [6, 5, 4, 3]
    coefs, intercepts, bv = _net(rng, sizes, scale=0.3)
    x = (rng.uniform(size=(1, 6)) < 0.5).astype(float)
    proba, hidden = mean_field_labels(coefs, intercepts, bv, x, 200)
    layers = [x[0], *[h[0] for h in hidden], proba[0]]
    for k in (1, 2):
        for j in range(sizes[k]):
            on, off = [s.copy() for s in layers], [s.copy() for s in layers]
            on[k][j], off[k][j] = 1.0, 0.0
            dE = _energy(coefs, intercepts, bv, on) - _energy(
                coefs, intercepts, bv, off
            )
            assert_allclose(layers[k][j], 1 / (1 + np.exp(dE)), rtol=1e-8)
    energies = []
    for k in range(3):
        state = [s.copy() for s in layers]
        state[3] = np.eye(3)[k]
        energies.append(-_energy(coefs, intercepts, bv, state))
    assert_allclose(layers[3], softmax(np.array([energies]))[0], rtol=1e-8)


def test_mean_field_converges():
    rng = np.random.RandomState(4)
    coefs, intercepts, bv = _net(rng, [6, 5, 4, 3], scale=0.3)
    x = rng.uniform(size=(4, 6))
    p50, _ = mean_field_labels(coefs, intercepts, bv, x, 50)
    p51, _ = mean_field_labels(coefs, intercepts, bv, x, 51)
    assert np.abs(p50 - p51).max() < 1e-10


@pytest.mark.parametrize("multi_inference", [False, True])
def test_extreme_weights_stay_finite(multi_inference):
    rng = np.random.RandomState(5)
    coefs, intercepts, bv = _net(rng, [6, 5, 4, 3], scale=1e4, dtype=np.float32)
    X, Y, Mv, My = _batch(rng, [6, 5, 4, 3], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba, hidden = mean_field_labels(coefs, intercepts, bv, X, 5, multi_inference)
        loss, gc, gi, gv = mp_loss_grad(
            coefs, intercepts, bv, X, Y, Mv, My, _V0(bv, X, Mv), 4
        )
    assert np.all(np.isfinite(proba)) and np.isfinite(loss)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    for g in [*gc, *gi, gv]:
        assert np.all(np.isfinite(g))


def test_float32_and_float64_agree():
    rng = np.random.RandomState(6)
    sizes = [12, 8, 6, 4]
    c64, i64, b64 = _net(rng, sizes)
    X, Y, Mv, My = _batch(rng, sizes)
    c32 = [a.astype(np.float32) for a in c64]
    i32 = [a.astype(np.float32) for a in i64]
    b32 = b64.astype(np.float32)
    f = [a.astype(np.float32) for a in (X, Y, Mv, My)]
    l64, g64, *_ = _loss(c64, i64, b64, X, Y, Mv, My, 5)
    l32, g32, *_ = _loss(c32, i32, b32, *f, 5)
    assert g32[0].dtype == np.float32
    assert abs(l64 - l32) < 1e-4 * max(1, abs(l64))
    for a, b in zip(g64, g32):
        assert_allclose(a, b, atol=1e-5)
    p64, _ = mean_field_labels(c64, i64, b64, X, 5)
    p32, _ = mean_field_labels(c32, i32, b32, f[0], 5)
    assert p32.dtype == np.float32
    assert_allclose(p64, p32, atol=1e-4)
