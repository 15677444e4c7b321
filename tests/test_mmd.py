"""MK-MMD (DAN): estimators, bandwidths, gradients, and the fine-tuning penalty."""

import itertools
import warnings

import numpy as np
import pytest
from _gradcheck import numeric_grad
from _reference import mmd2_linear, mmd2_quadratic
from numpy.testing import assert_allclose
from scipy.spatial.distance import cdist, pdist

from skalltransfer._core._stack import LayerStack
from skalltransfer._core._training import make_optimizer, run_training
from skalltransfer._kernels._feedforward import forward_pass
from skalltransfer._kernels._mmd import (
    base_bandwidth,
    kernel_bandwidths,
    mk_bandwidths,
    mk_mmd2,
    mmd2_linear_grad,
    mmd2_quadratic_grad,
)
from skalltransfer.transfer._mmd_penalty import mmd_penalty

GRADS = {"quadratic": mmd2_quadratic_grad, "linear": mmd2_linear_grad}


def brute_mmd2_quadratic(S, T, gammas):
    """The U-statistic written out with cdist (equal kernel weights)."""

    def k(A, B):
        D = cdist(A, B, "sqeuclidean")
        return sum(np.exp(-D / g) for g in gammas) / len(gammas)

    m, n = len(S), len(T)
    Kss, Ktt = k(S, S), k(T, T)
    return (
        (Kss.sum() - np.trace(Kss)) / (m * (m - 1))
        + (Ktt.sum() - np.trace(Ktt)) / (n * (n - 1))
        - 2 * k(S, T).mean()
    )


# -- kernel family ---------------------------------------------------------------------
def test_bandwidths_follow_dan_defaults():
    rng = np.random.RandomState(0)
    S, T = rng.normal(size=(20, 3)), rng.normal(size=(15, 3)) + 1
    Z = np.vstack([S, T])
    mean_d2 = pdist(Z, "sqeuclidean").mean()
    assert base_bandwidth(Z, "mean") == pytest.approx(mean_d2, rel=1e-12)
    assert base_bandwidth(Z, "median") == pytest.approx(
        np.median(pdist(Z, "sqeuclidean"))
    )
    # DAN's Caffe layer: 5 kernels, base * {1/4, 1/2, 1, 2, 4}.
    assert_allclose(mk_bandwidths(S, T), mean_d2 * np.array([0.25, 0.5, 1, 2, 4]))
    assert_allclose(kernel_bandwidths(2.0, 4, 3.0), 2.0 * 3.0 ** np.arange(-2, 2))
    assert base_bandwidth(np.ones((5, 2))) == 1.0  # degenerate sample
    with pytest.raises(ValueError, match="bandwidth"):
        base_bandwidth(Z, "max")


def test_quadratic_matches_its_definition():
    rng = np.random.RandomState(1)
    S, T = rng.normal(size=(9, 4)), rng.normal(size=(7, 4)) + 0.5
    gammas = mk_bandwidths(S, T)
    assert mmd2_quadratic(S, T, gammas) == pytest.approx(
        brute_mmd2_quadratic(S, T, gammas), rel=1e-12
    )


# -- statistical behaviour -------------------------------------------------------------
def test_same_distribution_gives_zero_and_a_shift_does_not():
    rng = np.random.RandomState(0)
    S = rng.normal(size=(300, 5))
    T = rng.normal(size=(300, 5))
    same = mk_mmd2(S, T, estimator="quadratic")
    shifted = mk_mmd2(S, T + 0.5, estimator="quadratic")
    assert abs(same) < 1e-2
    assert shifted > 0.04 and shifted > 20 * abs(same)
    # The linear estimator is noisier but separates the two cases too.
    assert mk_mmd2(S, T + 1.0, estimator="linear") > 0.1
    assert abs(mk_mmd2(S, T, estimator="linear")) < 0.05


def test_linear_estimator_averages_to_the_quadratic_one_exactly():
    # Over every pair of row orders, each ordered pair of distinct source rows
    # (and of target rows, and each source-target pair) appears equally often,
    # so the average of the linear statistic is the U-statistic exactly.
    rng = np.random.RandomState(2)
    S, T = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)) + 0.7
    gammas = mk_bandwidths(S, T)
    values = [
        mmd2_linear(S[list(p)], T[list(q)], gammas)
        for p in itertools.permutations(range(4))
        for q in itertools.permutations(range(4))
    ]
    assert np.mean(values) == pytest.approx(mmd2_quadratic(S, T, gammas), rel=1e-12)


def test_linear_estimator_over_random_pairings_matches_quadratic():
    rng = np.random.RandomState(3)
    S, T = rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) + 0.4
    gammas = mk_bandwidths(S, T)
    values = np.array(
        [
            mmd2_linear(S[rng.permutation(60)], T[rng.permutation(60)], gammas)
            for _ in range(3000)
        ]
    )
    # The average over random orders is an unbiased estimate of the
    # U-statistic (previous test), so it must lie within a few standard errors
    # of it: 4 SE fails by chance with probability ~6e-5.
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - mmd2_quadratic(S, T, gammas)) < 4 * se
    assert se < 0.05 * mmd2_quadratic(S, T, gammas)  # a meaningful tolerance


def test_linear_estimator_uses_quad_tuples_in_row_order():
    rng = np.random.RandomState(4)
    S, T = rng.normal(size=(5, 2)), rng.normal(size=(6, 2))
    gammas = np.array([0.7])

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / 0.7)

    g = [
        k(S[2 * i], S[2 * i + 1])
        + k(T[2 * i], T[2 * i + 1])
        - k(S[2 * i], T[2 * i + 1])
        - k(S[2 * i + 1], T[2 * i])
        for i in range(2)
    ]
    assert mmd2_linear(S, T, gammas) == pytest.approx(np.mean(g), rel=1e-12)


# -- gradients -------------------------------------------------------------------------
def rel_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("estimator", ["quadratic", "linear"])
@pytest.mark.parametrize("shape", [((8, 3), (8, 3)), ((7, 4), (6, 4))])
def test_gradients_match_finite_differences(estimator, shape):
    rng = np.random.RandomState(5)
    S = rng.normal(size=shape[0])
    T = rng.normal(size=shape[1]) + 0.3
    gammas = mk_bandwidths(S, T)  # held fixed: the stop-gradient of DAN
    func = GRADS[estimator]
    _, gs, gt = func(S, T, gammas)

    def value():
        return float(func(S, T, gammas, grad=False)[0])

    assert rel_error(gs, numeric_grad(value, S)) < 1e-6
    assert rel_error(gt, numeric_grad(value, T)) < 1e-6
    if estimator == "linear" and shape[0][0] % 2:
        assert not gs[-1].any()  # the unpaired row does not take part


@pytest.mark.parametrize("estimator", ["quadratic", "linear"])
def test_float32_in_float32_out(estimator):
    rng = np.random.RandomState(6)
    S = rng.normal(size=(10, 3)).astype(np.float32)
    T = rng.normal(size=(10, 3)).astype(np.float32)
    value, gs, gt = mk_mmd2(S, T, estimator=estimator, return_grad=True)
    assert value.dtype == np.float32
    assert gs.dtype == np.float32 and gt.dtype == np.float32
    v64 = mk_mmd2(S.astype(np.float64), T.astype(np.float64), estimator=estimator)
    assert float(value) == pytest.approx(v64, abs=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("estimator", ["quadratic", "linear"])
@pytest.mark.parametrize("bandwidth", ["mean", "median"])
def test_far_apart_samples_do_not_overflow(dtype, estimator, bandwidth):
    rng = np.random.RandomState(7)
    S = rng.normal(size=(40, 5)).astype(dtype)
    T = (rng.normal(size=(40, 5)) + 1e4).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, gs, gt = mk_mmd2(
            S, T, estimator=estimator, bandwidth=bandwidth, return_grad=True
        )
    assert np.isfinite(value) and np.all(np.isfinite(gs)) and np.all(np.isfinite(gt))
    # Within-sample kernels ~1, cross kernels ~0: close to the maximum of 2.
    assert 1.0 < value <= 2.0 + 1e-6


def test_errors_name_the_problem():
    S = np.zeros((1, 2))
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd2_quadratic(S, S, [1.0])
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd2_linear(S, S, [1.0])
    with pytest.raises(ValueError, match="same number of columns"):
        mk_mmd2(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="estimator"):
        mk_mmd2(np.zeros((3, 2)), np.ones((3, 2)), estimator="cubic")
    with pytest.raises(ValueError, match="weights"):
        mmd2_quadratic(np.eye(3), np.eye(3), [1.0, 2.0], beta=[1.0])


# -- the fine-tuning penalty -----------------------------------------------------------
@pytest.fixture
def tiny():
    rng = np.random.RandomState(0)
    sizes = [4, 5, 3, 2]
    coefs = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=b) for b in sizes[1:]]
    stack = LayerStack(coefs, intercepts)
    Xs = rng.rand(30, 4)
    Xt = rng.rand(8, 4) + 0.3
    return stack, Xs, Xt


def evaluate_penalty(stack, Xs, Xt, frozen=0, **kwargs):
    """Value and gradients of the penalty, with the source batch fixed by a
    re-seeded generator and a fixed bandwidth (so the finite differences see
    the same function the gradient describes)."""
    kwargs = {"bandwidth": 1.5, "rng": 0, **kwargs}
    penalty = mmd_penalty(stack, Xs, (1, 2), 0.7, **kwargs)
    acts = forward_pass(stack.coefs, stack.intercepts, Xt, "logistic", "softmax")
    cg = [None if k < frozen else np.zeros_like(W) for k, W in enumerate(stack.coefs)]
    ig = [
        None if k < frozen else np.zeros_like(b) for k, b in enumerate(stack.intercepts)
    ]
    value = penalty(acts, np.arange(len(Xt)), None, cg, ig)
    return value, cg, ig


@pytest.mark.parametrize("estimator", ["quadratic", "linear"])
def test_penalty_gradient_matches_finite_differences(tiny, estimator):
    stack, Xs, Xt = tiny
    value, cg, ig = evaluate_penalty(stack, Xs, Xt, estimator=estimator)
    assert value > 0

    def f():
        return evaluate_penalty(stack, Xs, Xt, estimator=estimator)[0]

    for params, grads in ((stack.coefs, cg), (stack.intercepts, ig)):
        for k, (P, G) in enumerate(zip(params, grads)):
            numeric = numeric_grad(f, P)
            if k == stack.n_layers - 1:
                # The output layer plays no part in a hidden-layer penalty.
                assert not G.any() and not numeric.any()
            else:
                assert rel_error(G, numeric) < 1e-6
    # Frozen layers get no gradient; the others are unchanged.
    _, cg1, ig1 = evaluate_penalty(stack, Xs, Xt, frozen=1, estimator=estimator)
    assert cg1[0] is None and ig1[0] is None
    assert_allclose(cg1[1], cg[1])
    assert_allclose(ig1[1], ig[1])


def test_penalty_is_lambda_times_the_sum_over_layers(tiny):
    stack, Xs, Xt = tiny
    value, _, _ = evaluate_penalty(stack, Xs, Xt, estimator="quadratic")
    idx = np.random.RandomState(0).choice(len(Xs), size=len(Xt), replace=False)
    hs = forward_pass(stack.coefs, stack.intercepts, Xs[idx], "logistic", "softmax")
    ht = forward_pass(stack.coefs, stack.intercepts, Xt, "logistic", "softmax")
    expected = 0.7 * sum(
        mk_mmd2(hs[k], ht[k], estimator="quadratic", bandwidth=1.5) for k in (1, 2)
    )
    assert value == pytest.approx(expected, rel=1e-12)


def test_penalty_rejects_the_output_layer_and_bad_settings(tiny):
    stack, Xs, _ = tiny
    with pytest.raises(ValueError, match="output layer"):
        mmd_penalty(stack, Xs, [3], 1.0)
    with pytest.raises(ValueError, match=r"\[1, 2\]"):
        mmd_penalty(stack, Xs, [0], 1.0)
    with pytest.raises(ValueError, match="estimator"):
        mmd_penalty(stack, Xs, [1], 1.0, estimator="cubic")
    with pytest.raises(ValueError, match="X_source"):
        mmd_penalty(stack, Xs[:, :3], [1], 1.0)


def test_penalty_pulls_hidden_codes_together(tiny):
    # Fine-tuning with the penalty shrinks the source/target gap at the
    # adapted layer compared with the same training without it.
    stack0, Xs, _ = tiny
    rng = np.random.RandomState(1)
    Xt = rng.rand(64, 4) * 0.5 + 0.5
    targets = np.eye(2)[rng.randint(2, size=64)]

    def train(lam):
        stack = stack0.copy()
        penalty = mmd_penalty(stack, Xs, [2], lam, estimator="quadratic", rng=0)
        params, loss_grad = stack.family.objective(
            stack, Xt, targets, rng=np.random.RandomState(0), penalty=penalty
        )
        run_training(
            params,
            loss_grad,
            len(Xt),
            optimizer=make_optimizer(params, "adam", 0.01),
            max_iter=60,
            batch_size=16,
            rng=np.random.RandomState(0),
            n_iter_no_change=None,
        )
        hs = forward_pass(stack.coefs, stack.intercepts, Xs, "logistic", "softmax")
        ht = forward_pass(stack.coefs, stack.intercepts, Xt, "logistic", "softmax")
        return mk_mmd2(hs[2], ht[2], estimator="quadratic")

    with_penalty, without = train(10.0), train(0.0)
    assert with_penalty < 0.5 * without


def test_penalty_keeps_float32(tiny):
    stack, Xs, Xt = tiny
    stack = stack.copy(dtype=np.float32)
    penalty = mmd_penalty(stack, Xs, [1, 2], 1.0, rng=0)
    acts = forward_pass(
        stack.coefs, stack.intercepts, Xt.astype(np.float32), "logistic", "softmax"
    )
    cg = [np.zeros_like(W) for W in stack.coefs]
    ig = [np.zeros_like(b) for b in stack.intercepts]
    value = penalty(acts, np.arange(len(Xt)), None, cg, ig)
    assert np.isfinite(value)
    assert all(g.dtype == np.float32 for g in cg + ig)
    # A one-sample minibatch has no MMD: nothing is added.
    assert penalty([a[:1] for a in acts], np.arange(1), None, cg, ig) == 0.0
