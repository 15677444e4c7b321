"""Convolution kernels: im2col/col2im and pooling against NumPy references,
convolutions against a direct sum, finite-difference gradients of the conv
network and of the convolutional denoising autoencoder, dtypes."""

import warnings

import numpy as np
import pytest
from _gradcheck import check_gradient
from _reference import conv_transpose, maxpool_forward
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from skalltransfer._kernels._feedforward import output_loss_grad
from skalltransfer._kernels.conv import _gemm
from skalltransfer._kernels.conv._dae import conv_dae_loss_grad
from skalltransfer._kernels.conv._im2col import col2im, im2col
from skalltransfer._kernels.conv._layer import (
    conv_backward,
    conv_forward,
)
from skalltransfer._kernels.conv._network import (
    ConvGeometry,
    conv_layer_shapes,
    conv_net_backward,
    conv_net_forward,
    conv_net_predict,
)
from skalltransfer._kernels.conv._pool import (
    argmax_dtype,
    maxpool_backward,
)


# -- NumPy references ------------------------------------------------------------------
def im2col_ref(x, kh, kw, pad):
    B, H, W, C = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Ho, Wo = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    patches = [
        xp[:, dy : dy + Ho, dx : dx + Wo] for dy in range(kh) for dx in range(kw)
    ]
    return np.stack(patches, axis=3).reshape(B * Ho * Wo, kh * kw * C)


def col2im_ref(cols, shape, kh, kw, pad):
    B, H, W, C = shape
    Ho, Wo = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    xp = np.zeros((B, H + 2 * pad, W + 2 * pad, C), dtype=cols.dtype)
    c = cols.reshape(B, Ho, Wo, kh, kw, C)
    for dy in range(kh):
        for dx in range(kw):
            xp[:, dy : dy + Ho, dx : dx + Wo] += c[:, :, :, dy, dx]
    return xp[:, pad : pad + H, pad : pad + W]


def conv_ref(x, W, b, kh, kw, pad):
    """Direct sum over the kernel taps, no im2col."""
    B, H, Wd, C = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Ho, Wo = H + 2 * pad - kh + 1, Wd + 2 * pad - kw + 1
    Wk = W.reshape(kh, kw, C, -1)
    out = np.zeros((B, Ho, Wo, W.shape[1]))
    for dy in range(kh):
        for dx in range(kw):
            out += xp[:, dy : dy + Ho, dx : dx + Wo] @ Wk[dy, dx]
    return out + b


def maxpool_ref(x, p):
    B, H, W, C = x.shape
    Hp, Wp = H // p, W // p
    win = x[:, : Hp * p, : Wp * p].reshape(B, Hp, p, Wp, p, C)
    win = win.transpose(0, 1, 3, 5, 2, 4).reshape(B, Hp, Wp, C, p * p)
    return win.max(axis=-1), win.argmax(axis=-1)  # argmax: first maximum


# -- im2col / col2im -------------------------------------------------------------------
@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pad = draw(st.integers(0, 3))
    H = draw(st.integers(max(1, kh - 2 * pad), 6))
    W = draw(st.integers(max(1, kw - 2 * pad), 6))
    return draw(st.integers(1, 3)), H, W, draw(st.integers(1, 3)), kh, kw, pad


@settings(max_examples=40, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_im2col_col2im_match_numpy_and_are_adjoint(case, seed):
    B, H, W, C, kh, kw, pad = case
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(B, H, W, C))
    Ho, Wo = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    cols = np.full((B * Ho * Wo, kh * kw * C), np.nan)  # every entry is written
    im2col(x, kh, kw, pad, cols)
    assert_array_equal(cols, im2col_ref(x, kh, kw, pad))
    c = rng.normal(size=cols.shape)
    back = np.full_like(x, np.nan)  # col2im zeroes its output first
    col2im(c, kh, kw, pad, back)
    assert_allclose(back, col2im_ref(c, x.shape, kh, kw, pad), atol=1e-12)
    assert_allclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_keeps_dtype(dtype):
    x = np.ones((2, 4, 4, 3), dtype=dtype)
    cols = np.empty((32, 27), dtype=dtype)
    im2col(x, 3, 3, 1, cols)
    back = np.empty_like(x)
    col2im(cols, 3, 3, 1, back)
    assert cols.dtype == dtype and back.dtype == dtype
    assert back[0, 1, 1, 0] == 9 and back[0, 0, 0, 0] == 4  # taps per pixel


# -- max-pooling -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, p", [((2, 6, 6, 3), 2), ((3, 7, 5, 2), 2), ((1, 7, 8, 1), 3)]
)
def test_maxpool_matches_numpy_with_floor(shape, p):
    rng = np.random.RandomState(0)
    x = rng.normal(size=shape).astype(np.float32)
    B, H, W, C = shape
    out = np.empty((B, H // p, W // p, C), dtype=np.float32)
    am = np.empty(out.shape, dtype=argmax_dtype(p))
    maxpool_forward(x, p, out, am)
    ref, ref_am = maxpool_ref(x, p)
    assert_array_equal(out, ref)
    assert_array_equal(am, ref_am)
    dout = rng.normal(size=out.shape).astype(np.float32)
    dx = np.full_like(x, np.nan)
    maxpool_backward(dout, am, p, dx)
    # Adjoint: <pool(x) selection, dout> == <x, dx>, and rows/columns cut by
    # the floor get no gradient.
    assert_allclose(np.vdot(out, dout), np.vdot(x, dx), rtol=1e-5)
    assert np.all(dx[:, (H // p) * p :] == 0) and np.all(dx[:, :, (W // p) * p :] == 0)
    assert np.count_nonzero(dx) == dout.size


def test_maxpool_ties_first_maximum_wins():
    x = np.zeros((1, 2, 2, 2), dtype=np.float32)
    x[0, 1, 0, 1] = x[0, 1, 1, 1] = 5.0  # tie at window indices 2 and 3
    out = np.empty((1, 1, 1, 2), dtype=np.float32)
    am = np.empty(out.shape, dtype=np.int8)
    maxpool_forward(x, 2, out, am)
    assert am[0, 0, 0].tolist() == [0, 2]
    assert out[0, 0, 0].tolist() == [0.0, 5.0]


# -- convolution -----------------------------------------------------------------------
@pytest.mark.parametrize("pool", [1, 2])
@pytest.mark.parametrize("max_bytes", [1, 2**20])  # one image per chunk / one chunk
def test_conv_forward_matches_direct_sum(pool, max_bytes):
    rng = np.random.RandomState(0)
    kh, kw, pad = 3, 5, 1
    x = rng.normal(size=(5, 7, 8, 3)).astype(np.float32)
    W = rng.normal(size=(kh * kw * 3, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    ref = conv_ref(x, W, b, kh, kw, pad)
    if pool == 1:
        out = conv_forward(x, W, b, kh, kw, pad, max_bytes=max_bytes)
    else:
        Ho, Wo = ref.shape[1:3]
        am = np.empty((5, Ho // 2, Wo // 2, 4), dtype=np.int8)
        ws = {}
        out = conv_forward(
            x, W, b, kh, kw, pad, pool=2, argmax=am, max_bytes=max_bytes, workspace=ws
        )
        ref = maxpool_ref(ref, 2)[0]
        assert ws  # scratch buffers were kept for the next call
    assert out.dtype == np.float32
    assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("pool", [1, 2])
def test_conv_backward_matches_finite_differences(pool):
    rng = np.random.RandomState(1)
    kh, kw, pad = 3, 3, 1
    x = rng.normal(size=(3, 5, 6, 2))
    W = rng.normal(size=(kh * kw * 2, 3))
    b = rng.normal(size=3)
    Ho, Wo = 5 // pool, 6 // pool
    G = rng.normal(size=(3, Ho, Wo, 3))  # loss = <G, conv output>
    am = np.empty(G.shape, dtype=np.int8)

    def f():
        return np.vdot(G, conv_forward(x, W, b, kh, kw, pad, pool=pool, argmax=am))

    f()
    dW, db, dx = conv_backward(x, W, G, kh, kw, pad, pool=pool, argmax=am, max_bytes=1)
    for P, grad in [(W, dW), (b, db), (x, dx)]:
        check_gradient(f, P, grad, rtol=1e-7)
    dW2, db2, dx2 = conv_backward(
        x, W, G, kh, kw, pad, pool=pool, argmax=am, need_dx=False
    )
    assert dx2 is None
    assert_allclose(dW2, dW)


def test_small_weight_gradients_are_summed_per_image(monkeypatch):
    rng = np.random.RandomState(2)
    P = rng.normal(size=(4 * 30, 18)).astype(np.float32)
    dZ = rng.normal(size=(4 * 30, 5)).astype(np.float32)
    ref = P.astype(np.float64).T @ dZ
    for threshold in (0, _gemm.SMALL_WEIGHT_GRAD):  # one product, per image
        monkeypatch.setattr(_gemm, "SMALL_WEIGHT_GRAD", threshold)
        calls = []
        original = np.matmul

        def spy(a, b, out=None, _original=original, _calls=calls):
            _calls.append(a.ndim)
            return _original(a, b, out=out)

        monkeypatch.setattr(np, "matmul", spy)
        out = np.empty((18, 5), dtype=np.float32)
        _gemm.weight_grad(P, dZ, 4, out, workspace={})
        monkeypatch.setattr(np, "matmul", original)
        assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
        assert calls == ([2] if threshold == 0 else [3])


def test_conv_transpose_is_the_adjoint_and_flips_kernels():
    rng = np.random.RandomState(2)
    x = rng.normal(size=(2, 5, 5, 3))
    W = rng.normal(size=(27, 4))
    h = rng.normal(size=(2, 5, 5, 4))
    out = conv_transpose(h, W, 3, 3, 1, np.empty_like(x))
    z = conv_forward(x, W, np.zeros(4), 3, 3, 1)
    assert_allclose(np.vdot(z, h), np.vdot(x, out), rtol=1e-10)
    # "Full" correlation with the flipped kernels: a conv with W reordered.
    Wf = W.reshape(3, 3, 3, 4)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(36, 3)
    assert_allclose(out, conv_ref(h, Wf, 0.0, 3, 3, 1), atol=1e-10)


# -- conv network ----------------------------------------------------------------------
GEOMETRY = ConvGeometry((6, 6, 1), ((3, 3, 1, 2), (3, 3, 1, 1)))


def _tiny_net(rng, dtype=np.float64):
    shapes, sizes = conv_layer_shapes(GEOMETRY, (2, 3))
    assert sizes == [36, 18, 27]
    assert shapes[0] == ((6, 6, 1), (6, 6, 2), (3, 3, 2))
    dims = [(9, 2), (18, 3), (27, 4), (4, 3)]
    coefs = [(rng.normal(size=d) * 0.7).astype(dtype) for d in dims]
    intercepts = [(rng.normal(size=d[1]) * 0.3).astype(dtype) for d in dims]
    return coefs, intercepts


@pytest.mark.parametrize(
    "hidden_act, frozen, with_hidden_grads",
    [("relu", 0, False), ("tanh", 0, True), ("logistic", 1, True), ("relu", 2, True)],
)
def test_conv_net_gradient(hidden_act, frozen, with_hidden_grads):
    rng = np.random.RandomState(3)
    coefs, intercepts = _tiny_net(rng)
    X = rng.uniform(size=(5, 36))
    T = np.eye(3)[rng.randint(0, 3, 5)]
    w = rng.uniform(0.5, 1.5, size=5)
    # A fixed linear penalty <G_l, A_l> on hidden outputs has gradient G_l.
    hidden_grads = (
        {k: rng.normal(size=(5, n)) for k, n in [(1, 18), (2, 27), (3, 4)]}
        if with_hidden_grads
        else None
    )

    def f():
        cache = conv_net_forward(
            coefs, intercepts, X, GEOMETRY, hidden_act, "softmax", max_bytes=1
        )
        value = output_loss_grad(cache.activations, T, "log_loss", "softmax", w)[0]
        for layer, G in (hidden_grads or {}).items():
            value += np.vdot(G, cache.activations[layer])
        return value

    cache = conv_net_forward(coefs, intercepts, X, GEOMETRY, hidden_act, "softmax")
    _, g = output_loss_grad(cache.activations, T, "log_loss", "softmax", w)
    cg, ig = conv_net_backward(
        coefs, cache, g, hidden_act, frozen=frozen, hidden_grads=hidden_grads
    )
    for k in range(len(coefs)):
        if k < frozen:
            assert cg[k] is None and ig[k] is None
            continue
        check_gradient(f, coefs[k], cg[k], rtol=1e-6)
        check_gradient(f, intercepts[k], ig[k], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_net_dtypes_truncation_and_chunked_inference(dtype):
    rng = np.random.RandomState(4)
    coefs, intercepts = _tiny_net(rng, dtype)
    X = rng.uniform(size=(11, 36)).astype(dtype)
    ws = {}
    cache = conv_net_forward(
        coefs, intercepts, X, GEOMETRY, "relu", "softmax", workspace=ws
    )
    acts = cache.activations
    assert [a.shape for a in acts] == [(11, 36), (11, 18), (11, 27), (11, 4)] + [
        (11, 3)
    ] * 2
    assert all(a.dtype == dtype for a in acts)
    assert cache.argmax[0].dtype == np.int8 and cache.argmax[1] is None
    assert_allclose(acts[-2].sum(axis=1), 1, rtol=1e-5)
    _, g = output_loss_grad(
        acts, np.eye(3)[np.arange(11) % 3], "log_loss", "softmax", np.ones(11)
    )
    cg, ig = conv_net_backward(coefs, cache, g, "relu", workspace=ws)
    assert all(a.dtype == dtype for a in cg + ig)
    assert cache.patches[0] is not None  # small enough to keep
    # Patches recomputed chunk by chunk give the same gradients.
    small = conv_net_forward(
        coefs, intercepts, X, GEOMETRY, "relu", "softmax", max_bytes=1, keep_bytes=0
    )
    assert small.patches == [None, None]
    cg1, ig1 = conv_net_backward(coefs, small, g, "relu", max_bytes=1)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for got, want in zip(cg1 + ig1, cg + ig):
        assert_allclose(got, want, rtol=tol, atol=tol)
    # Chunked inference without a cache gives the same output and hidden codes.
    proba = conv_net_predict(
        coefs, intercepts, X, GEOMETRY, "relu", "softmax", batch_size=4
    )
    assert proba.dtype == dtype
    assert_allclose(proba, acts[-2], rtol=tol, atol=tol)
    for n_layers in (1, 2, 3):
        part = conv_net_forward(
            coefs, intercepts, X, GEOMETRY, "relu", "softmax", n_layers=n_layers
        )
        assert len(part.activations) == n_layers + 1
        assert_allclose(part.activations[-1], acts[n_layers], rtol=tol, atol=tol)
        codes = conv_net_predict(
            coefs, intercepts, X, GEOMETRY, "relu", "softmax", n_layers, batch_size=3
        )
        assert_allclose(codes, acts[n_layers], rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="full forward pass"):
        conv_net_backward(coefs, part, g, "relu")
    # Codes of the conv layers alone, as layer-wise pretraining needs them.
    codes = conv_net_predict(
        coefs[:2], intercepts[:2], X, GEOMETRY, "relu", "softmax", n_layers=2
    )
    assert_allclose(codes, acts[2], rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="dense"):
        conv_net_forward(coefs[:2], intercepts[:2], X, GEOMETRY, "relu", "softmax")
    empty = conv_net_predict(coefs, intercepts, X[:0], GEOMETRY, "relu", "softmax")
    assert empty.shape == (0, 3) and empty.dtype == dtype
    with pytest.raises(TypeError, match="parameters"):
        conv_net_forward(
            coefs, intercepts, X.astype(np.float16), GEOMETRY, "relu", "softmax"
        )


def test_conv_net_stable_on_extreme_inputs():
    rng = np.random.RandomState(5)
    coefs, intercepts = _tiny_net(rng, np.float32)
    coefs[-1] *= 1e4
    X = (rng.uniform(size=(4, 36)) * 1e3).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for act in ("relu", "logistic", "tanh"):
            cache = conv_net_forward(coefs, intercepts, X, GEOMETRY, act, "softmax")
            assert np.all(np.isfinite(cache.activations[-2]))


def test_conv_layer_shapes_checks_fit():
    shapes, sizes = conv_layer_shapes(
        ConvGeometry((28, 28, 1), ((5, 5, 2, 2), (5, 5, 2, 2))), (32, 64)
    )
    assert [s[2] for s in shapes] == [(14, 14, 32), (7, 7, 64)]
    assert sizes == [784, 6272, 3136]
    _, sizes = conv_layer_shapes(ConvGeometry((7, 7, 4), ((3, 3, 1, 2),)), (5,))
    assert sizes == [196, 45]  # 7 -> 3 by floor
    with pytest.raises(ValueError, match="does not fit"):
        conv_layer_shapes(ConvGeometry((4, 4, 1), ((5, 5, 0, 1),)), (2,))


# -- convolutional denoising autoencoder -----------------------------------------------
@pytest.mark.parametrize(
    "loss, activation",
    [
        ("cross_entropy", "logistic"),
        ("cross_entropy", "relu"),
        ("squared_error", "relu"),
        ("squared_error", "logistic"),
    ],
)
def test_conv_dae_gradient(loss, activation):
    rng = np.random.RandomState(6)
    kh = kw = 3
    W = rng.normal(size=(kh * kw * 2, 3)) * 0.5
    b, c = rng.normal(size=3) * 0.3, rng.normal(size=2) * 0.3
    x = rng.uniform(size=(3, 5, 4, 2))
    xc = x * (rng.uniform(size=x.shape) > 0.3)

    def f():
        return conv_dae_loss_grad(W, b, c, x, xc, kh, kw, 1, activation, loss)[0]

    value, dW, db, dc = conv_dae_loss_grad(
        W, b, c, x, xc, kh, kw, 1, activation, loss, max_bytes=1
    )
    assert_allclose(value, f(), rtol=1e-12)  # chunking changes nothing
    for P, grad in [(W, dW), (b, db), (c, dc)]:
        check_gradient(f, P, grad, rtol=1e-6)


def test_conv_dae_float32_and_reference_loss():
    rng = np.random.RandomState(7)
    W = (rng.normal(size=(25, 4)) * 0.3).astype(np.float32)
    b = np.zeros(4, np.float32)
    c = np.zeros(1, np.float32)
    x = rng.uniform(size=(4, 6, 6, 1)).astype(np.float32)
    value, dW, db, dc = conv_dae_loss_grad(
        W, b, c, x, x, 5, 5, 2, "logistic", "cross_entropy", workspace={}
    )
    assert dW.dtype == db.dtype == dc.dtype == np.float32
    # Saturated logits and codes: finite, no overflow warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for loss in ("cross_entropy", "squared_error"):
            out = conv_dae_loss_grad(W * 1e4, b, c, x, x, 5, 5, 2, "logistic", loss)
            assert all(np.all(np.isfinite(v)) for v in out)
    # NumPy reference: encoder, transposed conv with flipped kernels, softplus.
    h = 1 / (1 + np.exp(-conv_ref(x, W, b, 5, 5, 2)))
    Wf = W.reshape(5, 5, 1, 4)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(100, 1)
    z = conv_ref(h, Wf, c, 5, 5, 2)
    ref = np.sum(np.logaddexp(0, z) - x * z) / 4
    assert_allclose(value, ref, rtol=1e-5)
