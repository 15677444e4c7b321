"""Winograd F(2x2, 5x5) kernels: the transform matrices against direct
correlation, the fused conv + pooling and its gradients against NumPy
references and finite differences, odd sizes, threads, dtypes, and the
network path that picks them."""

import numpy as np
import pytest
from _gradcheck import check_gradient
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from test_conv_kernels import conv_ref, maxpool_ref
from threadpoolctl import threadpool_limits

from skalltransfer._kernels import _threads
from skalltransfer._kernels._feedforward import output_loss_grad
from skalltransfer._kernels.conv import _winograd
from skalltransfer._kernels.conv._layer import (
    conv_algorithm,
    conv_backward,
    conv_forward,
)
from skalltransfer._kernels.conv._network import (
    ConvGeometry,
    conv_net_backward,
    conv_net_backward_hidden,
    conv_net_forward,
    conv_net_predict,
)
from skalltransfer._kernels.conv._winograd import AT, BT, G


def _conv_pool(x, W, b, algorithm="winograd"):
    B, H, Wd, _ = x.shape
    out = np.full((B, H // 2, Wd // 2, W.shape[1]), np.nan, dtype=x.dtype)
    am = np.full(out.shape, -1, dtype=np.int8)
    conv_forward(x, W, b, 5, 5, 2, pool=2, argmax=am, out=out, algorithm=algorithm)
    return out, am


def _case(rng, B, H, Wd, C, K, dtype=np.float64):
    x = rng.normal(size=(B, H, Wd, C)).astype(dtype)
    W = (rng.normal(size=(25 * C, K)) / np.sqrt(25 * C)).astype(dtype)
    b = rng.normal(size=K).astype(dtype)
    return x, W, b


# -- the transform matrices ------------------------------------------------------------
def test_matrices_compute_correlations_in_one_and_two_dimensions():
    rng = np.random.RandomState(0)
    for _ in range(20):
        d, g = rng.normal(size=6), rng.normal(size=5)
        direct = np.array([g @ d[i : i + 5] for i in range(2)])
        assert_allclose(AT @ ((G @ g) * (BT @ d)), direct, atol=1e-12)
        # F(5, 2) by duality: the weight gradient of a 2-output correlation.
        dy = rng.normal(size=2)
        dual = np.array([dy @ d[k : k + 2] for k in range(5)])
        assert_allclose(G.T @ ((AT.T @ dy) * (BT @ d)), dual, atol=1e-12)
        D, Gk = rng.normal(size=(6, 6)), rng.normal(size=(5, 5))
        direct2 = np.array(
            [[np.sum(Gk * D[i : i + 5, j : j + 5]) for j in range(2)] for i in range(2)]
        )
        Y = AT @ ((G @ Gk @ G.T) * (BT @ D @ BT.T)) @ AT.T
        assert_allclose(Y, direct2, atol=1e-12)


def test_kernel_transforms_are_adjoint():
    # <kernel_tiles(W), dU> == <W, kernel_grad(dU)>: the weight gradient is
    # the exact adjoint of the kernel transform.
    rng = np.random.RandomState(1)
    W = rng.normal(size=(25 * 3, 4))
    dU = rng.normal(size=(36, 3, 4))
    U = _winograd.kernel_tiles(W, 3)
    assert U.shape == (36, 3, 4)
    assert_allclose(np.vdot(U, dU), np.vdot(W, _winograd.kernel_grad(dU)), rtol=1e-12)


# -- fused convolution + pooling -------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    B=st.integers(1, 5),
    H=st.integers(2, 9),
    Wd=st.integers(2, 9),
    C=st.integers(1, 5),
    K=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_forward_matches_direct_convolution_and_pooling(B, H, Wd, C, K, seed):
    x, W, b = _case(np.random.RandomState(seed), B, H, Wd, C, K)
    out, am = _conv_pool(x, W, b)
    ref, ref_am = maxpool_ref(conv_ref(x, W, b, 5, 5, 2), 2)
    assert_allclose(out, ref, rtol=1e-10, atol=1e-10)
    assert_array_equal(am, ref_am)  # random float64: no near-ties


@settings(max_examples=15, deadline=None)
@given(
    B=st.integers(1, 4),
    H=st.integers(2, 8),
    Wd=st.integers(2, 8),
    C=st.integers(1, 4),
    K=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_backward_matches_im2col(B, H, Wd, C, K, seed):
    rng = np.random.RandomState(seed)
    x, W, b = _case(rng, B, H, Wd, C, K)
    _, am = _conv_pool(x, W, b, "im2col")
    dout = rng.normal(size=am.shape)
    ref = conv_backward(x, W, dout, 5, 5, 2, pool=2, argmax=am, algorithm="im2col")
    got = conv_backward(x, W, dout, 5, 5, 2, pool=2, argmax=am, algorithm="winograd")
    for g, r in zip(got, ref):
        assert_allclose(g, r, rtol=1e-10, atol=1e-10)


def test_backward_matches_finite_differences():
    rng = np.random.RandomState(2)
    x, W, b = _case(rng, 2, 5, 6, 2, 3)
    Gout = rng.normal(size=(2, 2, 3, 3))  # loss = <Gout, pooled output>

    def f():
        return np.vdot(Gout, _conv_pool(x, W, b)[0])

    am = _conv_pool(x, W, b)[1]
    dW, db, dx = conv_backward(
        x, W, Gout, 5, 5, 2, pool=2, argmax=am, algorithm="winograd"
    )
    for P, grad in [(W, dW), (b, db), (x, dx)]:
        check_gradient(f, P, grad, rtol=1e-7)
    no_dx = conv_backward(
        x, W, Gout, 5, 5, 2, pool=2, argmax=am, need_dx=False, algorithm="winograd"
    )
    assert no_dx[2] is None
    assert_allclose(no_dx[0], dW, rtol=1e-12)


def test_float32_stays_float32_within_rounding():
    rng = np.random.RandomState(3)
    x, W, b = _case(rng, 6, 14, 14, 32, 64, np.float32)
    out, am = _conv_pool(x, W, b)
    ref = maxpool_ref(conv_ref(x, W, b, 5, 5, 2), 2)[0]  # float64 sums
    assert out.dtype == np.float32
    assert np.abs(out - ref).max() < 1e-5 * np.abs(ref).max()
    dout = rng.normal(size=out.shape).astype(np.float32)
    grads = conv_backward(x, W, dout, 5, 5, 2, pool=2, argmax=am)
    refs = conv_backward(
        x.astype(np.float64), W.astype(np.float64), dout.astype(np.float64),
        5, 5, 2, pool=2, argmax=am, algorithm="im2col",
    )  # fmt: skip
    for g, r in zip(grads, refs):
        assert g.dtype == np.float32
        assert np.abs(g - r).max() < 1e-5 * np.abs(r).max()


@pytest.mark.parametrize("B", [1, 7, 10])
def test_threads_and_reused_workspaces_give_the_same_results(B):
    rng = np.random.RandomState(4)
    x, W, b = _case(rng, B, 6, 8, 8, 5)
    dout = rng.normal(size=(B, 3, 4, 5))
    results = []
    workspace = {}
    for threads in (1, 2, 3, 1):
        with threadpool_limits(threads):
            assert _threads.n_threads() == threads
            out, am = np.empty((B, 3, 4, 5)), np.empty((B, 3, 4, 5), np.int8)
            _winograd.conv_pool_forward(x, W, b, out, am, workspace)
            grads = _winograd.conv_pool_backward(x, W, dout, am, True, workspace)
        results.append((out, am, *grads))
        # A smaller batch through the same buffers sees no stale data.
        small = np.empty((1, 3, 4, 5)), np.empty((1, 3, 4, 5), np.int8)
        _winograd.conv_pool_forward(x[:1] * 2, W, b, *small, workspace)
        assert_allclose(small[0], _conv_pool(x[:1] * 2, W, b)[0], rtol=1e-12)
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    ref = conv_backward(x, W, dout, 5, 5, 2, pool=2, argmax=results[0][1])
    assert_allclose(results[0][2], ref[0], rtol=1e-10)


def test_split_covers_the_batch_in_chunks():
    for n in (1, 2, 3, 9, 64):
        for parts in (1, 2, 3):
            for chunk in (1, _winograd.CHUNK, 5):
                ranges = _threads.split(n, parts, chunk)
                assert ranges[0][0] == 0 and ranges[-1][1] == n
                assert all(a < b for a, b in ranges)
                assert all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:]))
                assert all(a % chunk == 0 for a, _ in ranges)
                assert len(ranges) <= parts
    assert _threads.split(0, 2) == []


@pytest.mark.parametrize("pool", [1, 2])
@pytest.mark.parametrize("keep", [False, True])
def test_im2col_layers_split_over_threads_give_the_same_results(pool, keep):
    rng = np.random.RandomState(12)
    B, kh, pad = 7, 3, 1
    x = rng.normal(size=(B, 6, 5, 2))
    W, b = rng.normal(size=(kh * kh * 2, 4)), rng.normal(size=4)
    shape = (B, 6 // pool, 5 // pool, 4)
    dout = rng.normal(size=shape)
    results = []
    for threads in (None, 2, 3):
        am = np.empty(shape, np.int8) if pool > 1 else None
        P = np.empty((B * 30, kh * kh * 2)) if keep else None
        kw = dict(pool=pool, argmax=am, patches=P, max_bytes=1, workspace={})
        out = conv_forward(x, W, b, kh, kh, pad, threads=threads, **kw)
        grads = conv_backward(x, W, dout, kh, kh, pad, threads=threads, **kw)
        results.append((out, *grads))
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_algorithm_choice():
    # The default source's second layer runs Winograd, its first im2col.
    assert conv_algorithm(5, 5, 2, 2, (14, 14, 32), 64) == "winograd"
    assert conv_algorithm(5, 5, 2, 2, (28, 28, 1), 32) == "im2col"
    assert conv_algorithm(5, 5, 2, 2, (14, 14, 32), 64, "im2col") == "im2col"
    assert conv_algorithm(3, 3, 1, 2, (14, 14, 32), 64) == "im2col"
    assert conv_algorithm(5, 5, 2, 1, (14, 14, 32), 64) == "im2col"
    assert conv_algorithm(5, 5, 2, 2, (1, 14, 32), 64) == "im2col"
    # Explicitly: thin layers are allowed, other geometries are not.
    assert conv_algorithm(5, 5, 2, 2, (6, 6, 1), 1, "winograd") == "winograd"
    with pytest.raises(ValueError, match="5x5 kernel, padding 2, 2x2 pooling"):
        conv_algorithm(3, 3, 1, 2, (6, 6, 4), 4, "winograd")
    with pytest.raises(ValueError, match="algorithm must be one of"):
        conv_algorithm(5, 5, 2, 2, (6, 6, 4), 4, "fft")


# -- the network path ------------------------------------------------------------------
def test_network_with_a_winograd_layer_matches_im2col(monkeypatch):
    geometry = ConvGeometry((8, 8, 1), ((5, 5, 2, 2), (5, 5, 2, 2)))
    assert conv_algorithm(5, 5, 2, 2, (4, 4, 16), 32) == "winograd"
    rng = np.random.RandomState(5)
    dims = [(25, 16), (400, 32), (128, 6), (6, 3)]
    coefs = [rng.normal(size=d) / np.sqrt(d[0]) for d in dims]
    intercepts = [rng.normal(size=d[1]) * 0.1 for d in dims]
    X = rng.uniform(size=(5, 64))
    T = np.eye(3)[rng.randint(0, 3, 5)]

    def run():
        cache = conv_net_forward(coefs, intercepts, X, geometry, "relu", "softmax")
        loss, g = output_loss_grad(
            cache.activations, T, "log_loss", "softmax", np.ones(5)
        )
        grads = conv_net_backward(coefs, cache, g, "relu")
        proba = conv_net_predict(coefs, intercepts, X, geometry, "relu", "softmax")
        return cache, loss, grads, proba

    with threadpool_limits(2):  # the threaded path, on any machine
        cache, loss, (cg, ig), proba = run()
    assert cache.patches[1] is None  # Winograd keeps no im2col patches
    check_gradient(lambda: run()[1], coefs[1], cg[1], rtol=1e-6)
    monkeypatch.setattr(_winograd, "MIN_MAP_PRODUCT", 10**9)  # im2col everywhere
    ref_cache, ref_loss, (rcg, rig), ref_proba = run()
    assert ref_cache.patches[1] is not None
    assert_allclose(loss, ref_loss, rtol=1e-12)
    assert_allclose(proba, ref_proba, rtol=1e-10, atol=1e-12)
    for got, want in zip(cg + ig, rcg + rig):
        assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _winograd_net(rng, dtype=np.float64):
    """A network whose second conv layer runs Winograd: 8 x 8 images, conv
    16 maps, conv 32 maps, dense 6, output 3."""
    geometry = ConvGeometry((8, 8, 1), ((5, 5, 2, 2), (5, 5, 2, 2)))
    dims = [(25, 16), (400, 32), (128, 6), (6, 3)]
    coefs = [(rng.normal(size=d) / np.sqrt(d[0])).astype(dtype) for d in dims]
    intercepts = [(rng.normal(size=d[1]) * 0.1).astype(dtype) for d in dims]
    return geometry, coefs, intercepts


def test_network_passes_hold_blas_and_give_winograd_the_threads(monkeypatch):
    geometry, coefs, intercepts = _winograd_net(np.random.RandomState(6))
    X = np.random.RandomState(7).uniform(size=(6, 64))
    seen = []
    forward, backward = _winograd.conv_pool_forward, _winograd.conv_pool_backward

    def spy_forward(*args, **kwargs):
        seen.append(("forward", args[-1], _threads.n_threads()))
        return forward(*args, **kwargs)

    def spy_backward(*args, **kwargs):
        seen.append(("backward", args[-1], _threads.n_threads()))
        return backward(*args, **kwargs)

    monkeypatch.setattr(_winograd, "conv_pool_forward", spy_forward)
    monkeypatch.setattr(_winograd, "conv_pool_backward", spy_backward)
    with threadpool_limits(2):
        cache = conv_net_forward(coefs, intercepts, X, geometry, "relu", "softmax")
        g = np.ones((6, 3)) / 6
        conv_net_backward(coefs, cache, g, "relu")
        conv_net_predict(coefs, intercepts, X, geometry, "relu", "softmax")
        assert _threads.n_threads() == 2  # the limit found is restored
    # Every Winograd call ran with the 2 threads allowed, BLAS held at one.
    assert [kind for kind, _, _ in seen] == ["forward", "backward", "forward"]
    assert all(threads == 2 and blas == 1 for _, threads, blas in seen)

    def failing(*args, **kwargs):
        raise MemoryError("inside the hold")

    monkeypatch.setattr(_winograd, "conv_pool_forward", failing)
    with threadpool_limits(2):
        with pytest.raises(MemoryError, match="inside the hold"):
            conv_net_predict(coefs, intercepts, X, geometry, "relu", "softmax")
        assert _threads.n_threads() == 2


def test_frozen_and_hidden_penalty_paths_through_a_winograd_layer():
    rng = np.random.RandomState(8)
    geometry, coefs, intercepts = _winograd_net(rng)
    X = rng.uniform(size=(5, 64))
    T = np.eye(3)[rng.randint(0, 3, 5)]
    penalty = {2: rng.normal(size=(5, 128))}  # <penalty, conv-2 output>

    def loss():
        cache = conv_net_forward(coefs, intercepts, X, geometry, "relu", "softmax")
        value = output_loss_grad(
            cache.activations, T, "log_loss", "softmax", np.ones(5)
        )[0]
        return value + np.vdot(penalty[2], cache.activations[2])

    with threadpool_limits(2):
        cache = conv_net_forward(coefs, intercepts, X, geometry, "relu", "softmax")
        _, g = output_loss_grad(cache.activations, T, "log_loss", "softmax", np.ones(5))
        # Layer 1 (the Winograd one) is the lowest trained: no input gradient.
        cg, ig = conv_net_backward(coefs, cache, g, "relu", frozen=1)
        cg2 = [None if c is None else c.copy() for c in cg]
        ig2 = [None if i is None else i.copy() for i in ig]
        conv_net_backward_hidden(coefs, cache, penalty, "relu", cg2, ig2)
    assert cg[0] is None
    check_gradient(loss, coefs[1], cg2[1], rtol=1e-6)
    check_gradient(loss, intercepts[1], ig2[1], rtol=1e-6)


def test_empty_batches():
    rng = np.random.RandomState(9)
    x, W, b = _case(rng, 0, 6, 6, 8, 4)
    out, am = _conv_pool(x, W, b)
    assert out.shape == (0, 3, 3, 4)
    dW, db, dx = conv_backward(
        x, W, np.empty((0, 3, 3, 4)), 5, 5, 2, pool=2, argmax=am, algorithm="winograd"
    )
    assert_array_equal(dW, 0) and dW.shape == W.shape
    assert_array_equal(db, 0) and dx.shape == x.shape
    geometry, coefs, intercepts = _winograd_net(rng)
    with threadpool_limits(2):
        proba = conv_net_predict(
            coefs, intercepts, np.empty((0, 64)), geometry, "relu", "softmax"
        )
    assert proba.shape == (0, 3)


def test_kept_patches_and_winograd_exclude_each_other():
    rng = np.random.RandomState(10)
    x, W, b = _case(rng, 2, 6, 6, 8, 4)
    am = np.empty((2, 3, 3, 4), np.int8)
    with pytest.raises(ValueError, match="patches=None"):
        conv_forward(
            x, W, b, 5, 5, 2, pool=2, argmax=am,
            patches=np.empty((72, 200)), algorithm="winograd",
        )  # fmt: skip


def test_tile_kernels_against_numpy():
    rng = np.random.RandomState(11)
    n, H, Wd, C, K = 2, 5, 7, 3, 4
    th, tw = H // 2, Wd // 2
    x = rng.normal(size=(n, H, Wd, C))
    xp = np.full((n, H + 4, Wd + 4, C), np.nan)
    _winograd.pad_images(x, xp)
    assert_array_equal(xp, np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))))
    back = np.full_like(x, np.nan)
    _winograd.crop_images(xp, back)
    assert_array_equal(back, x)
    # Input tiles: BT d B of each 6 x 6 tile at (2 ty, 2 tx).
    V = np.empty((36, n * th * tw, C))
    _winograd.input_tiles(xp, V, np.empty(36 * C))
    tiles = np.stack(
        [xp[b, 2 * i : 2 * i + 6, 2 * j : 2 * j + 6] for b in range(n)
         for i in range(th) for j in range(tw)]
    )  # fmt: skip
    ref = np.einsum("ai,tijc,bj->abtc", BT, tiles, BT).reshape(36, -1, C)
    assert_allclose(V, ref, atol=1e-12)
    # Its adjoint, the scatter of the input gradient.
    P = rng.normal(size=V.shape)
    dxp = np.zeros_like(xp)
    _winograd.scatter_input_grad(P, dxp, np.empty(36 * C), np.empty(36 * C))
    assert_allclose(np.vdot(V, P), np.vdot(xp, dxp), rtol=1e-12)
    # Pooled output: max of AT m A (+ bias), its row-major argmax.
    M = rng.normal(size=(36, n * th * tw, K))
    bias = rng.normal(size=K)
    out, am = np.empty((n, th, tw, K)), np.empty((n, th, tw, K), np.int8)
    _winograd.pooled_output(M, bias, out, am)
    Y = np.einsum("ia,abtk,jb->tkij", AT, M.reshape(6, 6, -1, K), AT)
    Y = Y.reshape(n, th, tw, K, 4)
    assert_allclose(out, Y.max(axis=-1) + bias, atol=1e-12)
    assert_array_equal(am, Y.argmax(axis=-1))
    # Output-gradient tiles: A dY AT of the un-pooled 2 x 2 gradient.
    dout = rng.normal(size=out.shape)
    dY = np.zeros((n, th, tw, K, 4))
    np.put_along_axis(dY, am[..., None].astype(np.intp), dout[..., None], axis=-1)
    Yt = np.empty((36, n * th * tw, K))
    _winograd.output_grad_tiles(dout, am, Yt)
    ref = np.einsum("ai,tkij,bj->abtk", AT.T, dY.reshape(-1, K, 2, 2), AT.T)
    assert_allclose(Yt, ref.reshape(36, -1, K), atol=1e-12)


def test_workers_finish_before_an_error_propagates():
    finished = []

    def work(start, stop, index):
        if index == 0:
            raise RuntimeError("first part failed")
        import time

        time.sleep(0.2)
        finished.append(index)

    with pytest.raises(RuntimeError, match="first part"):
        _threads.run_parts([(0, 2), (2, 4)], work)
    assert finished == [1]  # the other part had ended, not still writing
