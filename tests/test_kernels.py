"""Numeric kernels: stability, Numba kernels against NumPy references,
finite-difference gradients of the feed-forward and autoencoder losses."""

import warnings

import numpy as np
import pytest
from _gradcheck import numeric_grad, rel_err
from _reference import softplus
from numpy.testing import assert_allclose

from skalltransfer._kernels._activations import (
    inplace_logistic,
    inplace_softmax,
    log_softmax,
)
from skalltransfer._kernels._autoencoder import dae_loss_grad
from skalltransfer._kernels._feedforward import (
    backward_pass,
    forward_pass,
    output_loss_grad,
)
from skalltransfer._kernels._losses import (
    bernoulli_loss_grad,
    masked_bernoulli_loss_grad,
)
from skalltransfer._kernels._masks import (
    masking_noise,
    sample_multiprediction_batch,
)
from skalltransfer._kernels._optimizers import (
    AdamOptimizer,
    SGDOptimizer,
    inplace_clip_column_norms,
)
from skalltransfer._kernels._rng import new_state, next_float32


def masked_bernoulli_loss_grad_numpy(Z, X, M, scale):
    """NumPy reference of ``masked_bernoulli_loss_grad``, in float64."""
    sp = np.logaddexp(0.0, Z.astype(np.float64))
    loss = scale * np.sum(M * (sp - X * Z))
    sig = 0.5 * np.tanh(0.5 * Z.astype(np.float64)) + 0.5
    return loss, (scale * M * (sig - X)).astype(Z.dtype)


EXTREME = np.array([[-1e4, -88.0, 0.0, 88.0, 1e4], [1e30, -1e30, 3.0, -3.0, 0.5]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_are_stable_on_extreme_inputs(dtype):
    Z = EXTREME.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = inplace_logistic(Z.copy())
        p = inplace_softmax(Z.copy())
        lp = log_softmax(Z)
        sp = softplus(Z)
    for a in (s, p, lp, sp):
        assert np.all(np.isfinite(a)) and a.dtype == dtype
    assert np.all((s >= 0) & (s <= 1))
    assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    assert_allclose(np.exp(lp), p, atol=1e-6)
    assert_allclose(sp[0], [0, 0, np.log(2), 88, 1e4], rtol=1e-5, atol=1e-30)


def test_logistic_matches_definition():
    # The tanh form is accurate in absolute terms (losses use the logits, so
    # relative accuracy of tiny probabilities is not needed).
    z = np.linspace(-30, 30, 101)
    assert_allclose(
        inplace_logistic(z.copy()), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-16
    )


def test_rng_is_deterministic_and_uniform():
    rng = np.random.RandomState(0)
    s1, s2 = new_state(rng), None
    s2 = s1.copy()
    a = [next_float32(s1) for _ in range(2000)]
    b = [next_float32(s2) for _ in range(2000)]
    assert a == b
    a = np.array(a)
    assert a.min() >= 0 and a.max() < 1
    assert abs(a.mean() - 0.5) < 0.03
    # The state is drawn from the estimator's generator, not a global one.
    assert not np.array_equal(new_state(np.random.RandomState(0)), new_state(rng))


def test_multiprediction_sampler_statistics_and_mixing():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(400, 50)).astype(np.float32)
    v_init = np.full(50, 0.25, dtype=np.float32)
    out = [
        np.empty_like(X),
        np.empty_like(X),
        np.empty(400, np.float32),
        np.empty_like(X),
    ]
    state = new_state(rng)
    sample_multiprediction_batch(X, True, 0.3, 0.6, v_init, state, *out)
    Xb, Mv, My, V0 = out
    assert set(np.unique(Xb)) <= {0.0, 1.0}
    assert abs(Xb.mean() - X.mean()) < 0.01  # Bernoulli(X) has mean X
    assert abs(Mv.mean() - 0.3) < 0.01 and abs(My.mean() - 0.6) < 0.06
    # NumPy reference of the mixing
    assert_allclose(V0, Mv * v_init + (1 - Mv) * Xb)
    # Without binarization the data pass through unchanged.
    sample_multiprediction_batch(X, False, 0.3, 0.6, v_init, state, *out)
    assert_allclose(out[0], X)


def test_masking_noise_matches_reference_semantics():
    rng = np.random.RandomState(1)
    X = rng.uniform(size=(300, 40)).astype(np.float32)
    Xb, Xc = np.empty_like(X), np.empty_like(X)
    masking_noise(X, 0.25, False, new_state(rng), Xb, Xc)
    assert_allclose(Xb, X)
    kept = Xc != 0
    assert_allclose(Xc[kept], X[kept])
    assert abs((~kept).mean() - 0.25) < 0.02
    # With binarization the clean copy holds Bernoulli(X) draws.
    P = np.full((200, 30), 0.7, dtype=np.float32)
    Pb, Pc = np.empty_like(P), np.empty_like(P)
    masking_noise(P, 0.0, True, new_state(rng), Pb, Pc)
    assert set(np.unique(Pb)) == {0.0, 1.0}
    assert abs(Pb.mean() - 0.7) < 0.02
    assert_allclose(Pc, Pb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_bernoulli_kernel_matches_numpy(dtype):
    rng = np.random.RandomState(0)
    Z = (rng.normal(size=(30, 20)) * 5).astype(dtype)
    Z[0, :5] = [-1e4, 1e4, -100, 100, 0]
    X = (rng.uniform(size=Z.shape) < 0.5).astype(dtype)
    M = (rng.uniform(size=Z.shape) < 0.5).astype(dtype)
    grad = np.empty_like(Z)
    loss = masked_bernoulli_loss_grad(Z, X, M, 0.01, grad)
    ref_loss, ref_grad = masked_bernoulli_loss_grad_numpy(Z, X, M, 0.01)
    assert_allclose(loss, ref_loss, rtol=1e-5)
    assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-7)
    grad2 = np.empty_like(Z)
    loss2 = bernoulli_loss_grad(Z, X, 0.01, grad2)
    ref2, refg2 = masked_bernoulli_loss_grad_numpy(Z, X, np.ones_like(M), 0.01)
    assert_allclose(loss2, ref2, rtol=1e-5)
    assert_allclose(grad2, refg2, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "loss, out_act, hidden_act",
    [
        ("log_loss", "softmax", "logistic"),
        ("log_loss", "logistic", "tanh"),
        ("squared_error", "softmax", "logistic"),
        ("squared_error", "identity", "relu"),
        ("squared_error", "logistic", "logistic"),
    ],
)
def test_feedforward_gradient(loss, out_act, hidden_act):
    rng = np.random.RandomState(0)
    sizes = [5, 4, 3, 4]
    coefs = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=b) for b in sizes[1:]]
    X = rng.uniform(size=(7, 5))
    T = np.eye(4)[rng.randint(0, 4, 7)]
    if loss == "squared_error":
        T = rng.uniform(size=(7, 4))
    w = rng.uniform(0.5, 1.5, size=7)

    def f():
        acts = forward_pass(coefs, intercepts, X, hidden_act, out_act)
        return output_loss_grad(acts, T, loss, out_act, w)[0]

    acts = forward_pass(coefs, intercepts, X, hidden_act, out_act)
    _, g = output_loss_grad(acts, T, loss, out_act, w)
    cg, ig = backward_pass(coefs, acts, g, hidden_act)
    for P, G in [*zip(coefs, cg), *zip(intercepts, ig)]:
        assert rel_err(G, numeric_grad(f, P)) < 1e-6
    # Frozen layers get no gradient and the rest is unchanged.
    cg2, ig2 = backward_pass(coefs, acts, g, hidden_act, frozen=2)
    assert cg2[0] is None and cg2[1] is None and ig2[1] is None
    assert_allclose(cg2[2], cg[2])


def test_denoising_autoencoder_gradient_with_tied_weights():
    rng = np.random.RandomState(0)
    W = rng.normal(size=(6, 4))
    b, c = rng.normal(size=4), rng.normal(size=6)
    X = rng.uniform(size=(5, 6))
    Xc = X * (rng.uniform(size=X.shape) > 0.3)
    loss, dW, db, dc = dae_loss_grad(W, b, c, X, Xc)
    for P, G in [(W, dW), (b, db), (c, dc)]:
        num = numeric_grad(lambda: dae_loss_grad(W, b, c, X, Xc)[0], P)
        assert rel_err(G, num) < 1e-6


def test_optimizers_minimise_a_quadratic_and_skip_frozen():
    for opt_cls, kw in [
        (SGDOptimizer, {"learning_rate_init": 0.1}),
        (AdamOptimizer, {"learning_rate_init": 0.05}),
    ]:
        p = np.array([3.0, -2.0])
        frozen = np.array([1.0])
        opt = opt_cls([p, frozen], **kw)
        for _ in range(500):
            opt.update_params([p, frozen], [2 * p, None])
        assert np.abs(p).max() < 1e-2
        assert frozen[0] == 1.0


def _reference_updates(kind, params, grads, n_steps, lr, mu=0.9, b1=0.9, b2=0.999):
    """NumPy reference of SGD-momentum and Adam steps (float64 arithmetic)."""
    params = [p.astype(np.float64) for p in params]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    for t in range(1, n_steps + 1):
        for p, g, m, v in zip(params, grads, first, second):
            if kind == "sgd":
                m[...] = mu * m - lr * g
                p += m
            else:
                m[...] = b1 * m + (1 - b1) * g
                v[...] = b2 * v + (1 - b2) * g * g
                step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
                p -= step * m / (np.sqrt(v) + 1e-8)
    return params


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_optimizer_steps_match_numpy(kind, dtype):
    rng = np.random.RandomState(0)
    shapes = [(30, 20), (20,), (7, 3)]
    start = [rng.normal(size=s).astype(dtype) for s in shapes]
    grads = [rng.normal(size=s).astype(dtype) for s in shapes]
    # A non-contiguous parameter takes the NumPy path; both must agree.
    wide = rng.normal(size=(7, 6)).astype(dtype)
    params = [p.copy() for p in start[:2]] + [wide[:, ::2]]
    params[2][...] = start[2]
    cls, kw = (
        (SGDOptimizer, {"learning_rate_init": 0.05, "momentum": 0.9})
        if kind == "sgd"
        else (AdamOptimizer, {"learning_rate_init": 0.01})
    )
    opt = cls(params, **kw)
    for _ in range(5):
        opt.update_params(params, grads)
    expected = _reference_updates(kind, start, grads, 5, kw["learning_rate_init"])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for got, want in zip(params, expected):
        assert got.dtype == dtype
        assert_allclose(got, want, rtol=tol, atol=tol)


def test_sgd_schedules():
    p = np.zeros(1)
    opt = SGDOptimizer(
        [p],
        learning_rate_init=1.0,
        momentum_schedule=lambda e: 0.5 if e == 0 else 0.7,
        decay_epochs=10,
        final_fraction=0.1,
    )
    assert opt.momentum == 0.5
    opt.iteration_ends(0)
    assert opt.momentum == 0.7 and opt.learning_rate == pytest.approx(1 - 0.1 * 0.9)
    for e in range(1, 20):
        opt.iteration_ends(e)
    assert opt.learning_rate == pytest.approx(0.1)


def test_column_norm_clipping():
    rng = np.random.RandomState(0)
    W = rng.normal(size=(20, 6)) * 3
    W[:, 0] *= 1e-3  # a short column stays as it is
    before = W[:, 0].copy()
    inplace_clip_column_norms(W, 1.5)
    norms = np.linalg.norm(W, axis=0)
    assert np.all(norms <= 1.5 + 1e-9)
    assert_allclose(W[:, 0], before)
