"""Winograd F(2x2, 5x5) convolution fused with 2 x 2 max-pooling, and its
gradients (Lavin & Gray, "Fast algorithms for convolutional neural
networks", CVPR 2016).

For a 5 x 5 kernel, padding 2, stride 1 and 2 x 2 pooling, each pooling
window is one 2 x 2 output tile, computed from a 6 x 6 input tile ``d`` as
``Y = AT [(G g G^T) * (BT d B)] A`` (``*`` elementwise). Over ``C_in`` input
and ``C_out`` output maps that is 36 matrix products ``(tiles x C_in) @
(C_in x C_out)``: 36 multiplications per tile where a direct convolution
needs 100, so the products of the default conv source's second layer take
2.8 times fewer FLOPs than im2col's. The transforms are small Numba loops
vectorised over the channels (NHWC keeps them contiguous); the products go to
BLAS.

The interpolation points are 0, 1, -1, 2, -2 and infinity, which keep ``BT``
and ``AT`` integer (the matrices below; ``G`` holds the fractions). The
gradients use the same tiles:

- weights, by the duality F(5x5, 2x2): ``dg = G^T [(A dY AT) * (BT d B)] G``
  summed over tiles, i.e. 36 products ``V^T @ Y``;
- inputs, the adjoint of the forward algorithm: ``dd = B [dM] BT`` with
  ``dM = (A dY AT) @ U^T``, added back at each tile's place (tiles overlap by
  2 pixels).

The un-pooled output gradient ``dY`` is built inside the transform from the
pooled gradient and the argmax, and the forward output transform does the
bias, the pooling and the argmax: the un-pooled map is never stored.

The batch runs in chunks of :data:`CHUNK` images, so a chunk's transformed
tiles stay in the core's cache between the transform and its products, and
the chunk loop itself runs in Numba (its 36 products per chunk through
Numba's ``np.dot``, which calls SciPy's BLAS). Such small products run on
one BLAS thread, so with ``n`` BLAS threads allowed (``threadpoolctl``,
``limit_threads``, ``OMP_NUM_THREADS``) the batch is split into at most ``n``
parts, cut at chunk boundaries, run in Python threads (the kernels release
the GIL). The chunk size is fixed: ``max_bytes`` of the im2col path does not
apply. Results are deterministic for a given thread count; another count
sums the weight gradient in another order (a float32 rounding difference,
as a different BLAS thread count makes in im2col's).

Float32 rounding is larger than im2col's but far below what training
notices; a pooling window whose two largest entries are within rounding of
each other may pick the other maximum.
"""

import numpy as np
from numba import njit

from skalltransfer._kernels._scratch import UINT as _U
from skalltransfer._kernels._scratch import scratch
from skalltransfer._kernels._threads import n_threads, run_parts, split

# Images per chunk: few enough that a chunk's transformed tiles stay in the
# core's cache (larger chunks are slower on the default source's second
# layer; see the benchmarks page (docs/benchmarks.rst)).
# Re-measure: python benchmarks/bench_conv_kernels.py
CHUNK = 2
# Thin products do not pay for the transforms: with fewer than this many
# (input maps x output maps) the layer stays with im2col, which is faster
# there (see the benchmarks page (docs/benchmarks.rst)).
# Re-measure: python benchmarks/bench_conv_kernels.py
MIN_MAP_PRODUCT = 512

# The transform matrices of F(2, 5) with the points 0, 1, -1, 2, -2, inf.
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]], dtype=np.float64)
BT = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, 4, 4, -1, -1, 0],
        [0, -4, 4, 1, -1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=np.float64,
)
G = np.array(
    [
        [1 / 4, 0, 0, 0, 0],
        [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6],
        [1 / 6, -1 / 6, 1 / 6, -1 / 6, 1 / 6],
        [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
        [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
        [0, 0, 0, 0, 1],
    ],
    dtype=np.float64,
)
N_TILE = 36  # entries of a transformed 6 x 6 tile
# A (6 x 2) as float32, and the transforms' constants: float32 keeps a
# float32 kernel in float32 (an integer literal times a float32 value is a
# float64 in Numba); float64 inputs still compute in float64.
_A = AT.T.astype(np.float32)
_2, _4, _5, _0 = np.float32(2), np.float32(4), np.float32(5), np.float32(0)

# Writing many output streams in one loop also stops LLVM from vectorising
# the channel loops (several times slower): the transforms store a few at a
# time.


def fits(kh, kw, pad, pool, in_shape):
    """Whether a conv layer's geometry is one the kernels compute: a 5 x 5
    kernel, padding 2 (stride 1), 2 x 2 pooling, inputs of at least 2 x 2
    pixels (``in_shape`` is (H, W, C))."""
    H, W, _ = in_shape
    return kh == 5 and kw == 5 and pad == 2 and pool == 2 and H >= 2 and W >= 2


def pays(n_in, n_out):
    """Whether products of ``n_in`` by ``n_out`` maps are wide enough to pay
    for the transforms (:data:`MIN_MAP_PRODUCT`)."""
    return n_in * n_out >= MIN_MAP_PRODUCT


# -- 1-D transforms, inlined into the channel loops ---------------------------------
@njit(inline="always")
def _bt(d0, d1, d2, d3, d4, d5):
    """``BT @ d``."""
    a = _4 * d1 - d3
    b = _4 * d2 - d4
    e = d4 - d2
    f = _2 * (d3 - d1)
    return _4 * d0 - _5 * d2 + d4, a + b, b - a, e + f, e - f, _4 * d1 - _5 * d3 + d5


@njit(inline="always")
def _b(p0, p1, p2, p3, p4, p5):
    """``B @ p`` (``BT`` transposed)."""
    s = p3 - p4
    return (
        _4 * p0,
        _4 * (p1 - p2 + p5) - _2 * s,
        _4 * (p1 + p2) - _5 * p0 - p3 - p4,
        p2 - p1 + _2 * s - _5 * p5,
        p0 - p1 - p2 + p3 + p4,
        p5,
    )


@njit(inline="always")
def _at(m0, m1, m2, m3, m4, m5):
    """``AT @ m``."""
    return m0 + m1 + m2 + m3 + m4, m1 - m2 + _2 * (m3 - m4) + m5


@njit(inline="always")
def _a(y0, y1):
    """``A @ y`` (``AT`` transposed)."""
    t = _2 * y1
    return y0, y0 + y1, y0 - y1, y0 + t, y0 - t, y1


@njit(inline="always")
def _tile_strides(plane):
    """Offsets of the tile entries 6, 12, 18, 24 and 30 in a (36, ...) array
    of ``plane`` values per entry."""
    s6 = _U(6) * plane
    return s6, _U(2) * s6, _U(3) * s6, _U(4) * s6, _U(5) * s6


@njit(inline="always")
def _at_tile(mf, p, plane):
    """The 2 x 2 output tile ``AT m A`` of the 6 x 6 tile whose entry
    ``(i, j)`` is ``mf[p + (6 i + j) plane]``."""
    s6, s12, s18, s24, s30 = _tile_strides(plane)
    a0, b0 = _at(mf[p], mf[p + s6], mf[p + s12], mf[p + s18], mf[p + s24], mf[p + s30])
    p += plane
    a1, b1 = _at(mf[p], mf[p + s6], mf[p + s12], mf[p + s18], mf[p + s24], mf[p + s30])
    p += plane
    a2, b2 = _at(mf[p], mf[p + s6], mf[p + s12], mf[p + s18], mf[p + s24], mf[p + s30])
    p += plane
    a3, b3 = _at(mf[p], mf[p + s6], mf[p + s12], mf[p + s18], mf[p + s24], mf[p + s30])
    p += plane
    a4, b4 = _at(mf[p], mf[p + s6], mf[p + s12], mf[p + s18], mf[p + s24], mf[p + s30])
    p += plane
    a5, b5 = _at(mf[p], mf[p + s6], mf[p + s12], mf[p + s18], mf[p + s24], mf[p + s30])
    y00, y01 = _at(a0, a1, a2, a3, a4, a5)
    y10, y11 = _at(b0, b1, b2, b3, b4, b5)
    return y00, y01, y10, y11


# -- tile kernels -------------------------------------------------------------------
@njit(cache=True, nogil=True)
def pad_images(x, xp):
    """``xp`` (n, H + 4, W + 4, C) <- ``x`` (n, H, W, C) with a 2-pixel zero
    border."""
    n, H, W, C = x.shape
    Hp, Wp = xp.shape[1], xp.shape[2]
    xf = x.reshape(-1)
    pf = xp.reshape(-1)
    row = _U(Wp * C)
    edge = _U(2 * C)
    run = _U(W * C)
    for b in range(_U(n)):
        for y in range(_U(Hp)):
            d = (b * _U(Hp) + y) * row
            if y < _U(2) or y >= _U(H + 2):
                for j in range(row):
                    pf[d + j] = 0
                continue
            s = (b * _U(H) + y - _U(2)) * run
            for j in range(edge):
                pf[d + j] = 0
            for j in range(run):
                pf[d + edge + j] = xf[s + j]
            for j in range(edge):
                pf[d + edge + run + j] = 0


@njit(cache=True, nogil=True)
def input_tiles(xp, V, tmp):
    """``V`` (36, n * th * tw, C) <- ``BT d B`` of every 6 x 6 tile ``d`` at
    (2 ty, 2 tx) of the padded images ``xp`` (n, H + 4, W + 4, C), where
    th, tw = H // 2, W // 2; tiles ordered (image, ty, tx). ``tmp`` is a
    scratch array of at least 36 * C entries."""
    n, Hp, Wp, C = xp.shape
    th, tw = (Hp - 4) // 2, (Wp - 4) // 2
    cs = _U(C)
    plane = _U(n * th * tw) * cs
    pf = xp.reshape(-1)
    vf = V.reshape(-1)
    t = _U(0)
    for b in range(_U(n)):
        for ty in range(_U(th)):
            for tx in range(_U(tw)):
                # Along x, each of the tile's 6 rows: tmp[i, j, c].
                for i in range(_U(6)):
                    s = ((b * _U(Hp) + _U(2) * ty + i) * _U(Wp) + _U(2) * tx) * cs
                    o = i * _U(6) * cs
                    for c in range(cs):
                        r0, r1, r2, r3, r4, r5 = _bt(
                            pf[s + c],
                            pf[s + cs + c],
                            pf[s + _U(2) * cs + c],
                            pf[s + _U(3) * cs + c],
                            pf[s + _U(4) * cs + c],
                            pf[s + _U(5) * cs + c],
                        )
                        tmp[o + c] = r0
                        tmp[o + cs + c] = r1
                        tmp[o + _U(2) * cs + c] = r2
                        tmp[o + _U(3) * cs + c] = r3
                        tmp[o + _U(4) * cs + c] = r4
                        tmp[o + _U(5) * cs + c] = r5
                # Along y, each column j, into V[6 i + j, t, c].
                r6 = _U(6) * cs
                base = t * cs
                for j in range(_U(6)):
                    s = j * cs
                    for c in range(cs):
                        r0, r1, r2, r3, r4, r5 = _bt(
                            tmp[s + c],
                            tmp[s + r6 + c],
                            tmp[s + _U(2) * r6 + c],
                            tmp[s + _U(3) * r6 + c],
                            tmp[s + _U(4) * r6 + c],
                            tmp[s + _U(5) * r6 + c],
                        )
                        d = base + j * plane + c
                        vf[d] = r0
                        vf[d + _U(6) * plane] = r1
                        vf[d + _U(12) * plane] = r2
                        vf[d + _U(18) * plane] = r3
                        vf[d + _U(24) * plane] = r4
                        vf[d + _U(30) * plane] = r5
                t += _U(1)


@njit(cache=True, nogil=True)
def pooled_output(M, bias, out, argmax):
    """``out`` (n, th, tw, K) <- the maximum of each 2 x 2 output tile
    ``AT m A`` of ``M`` (36, n * th * tw, K), plus ``bias``; ``argmax`` <- its
    row-major index in the window (the first maximum wins ties)."""
    K = M.shape[2]
    ks = _U(K)
    plane = _U(M.shape[1]) * ks
    mf = M.reshape(-1)
    of = out.reshape(-1)
    af = argmax.reshape(-1)
    for t in range(_U(M.shape[1])):
        base = t * ks
        for k in range(ks):
            y00, y01, y10, y11 = _at_tile(mf, base + k, plane)
            best = y00
            index = 0
            if y01 > best:
                best = y01
                index = 1
            if y10 > best:
                best = y10
                index = 2
            if y11 > best:
                best = y11
                index = 3
            of[base + k] = best + bias[k]
            af[base + k] = index


@njit(cache=True, nogil=True)
def output_grad_tiles(dout, argmax, Y):
    """``Y`` (36, T, K) <- ``A dY AT`` of each un-pooled 2 x 2 gradient tile
    ``dY``: the pooled gradient ``dout`` (n, th, tw, K) at the window's
    ``argmax``, zero elsewhere (T = n * th * tw)."""
    K = dout.shape[3]
    ks = _U(K)
    T = _U(dout.size // K)
    plane = T * ks
    df = dout.reshape(-1)
    af = argmax.reshape(-1)
    yf = Y.reshape(-1)
    s6, s12, s18, s24, s30 = _tile_strides(plane)
    for t in range(T):
        base = t * ks
        # One column j of the 6 x 6 result per loop (few store streams).
        for j in range(6):
            c0 = _A[j, 0]
            c1 = _A[j, 1]
            q = base + _U(j) * plane
            for k in range(ks):
                g = df[base + k]
                a = af[base + k]
                # Row 0 then row 1 of dY, times A's row j (along x) ...
                r = c0 * g if a == 0 else (c1 * g if a == 1 else _0)
                s = c0 * g if a == 2 else (c1 * g if a == 3 else _0)
                # ... then A along y.
                v0, v1, v2, v3, v4, v5 = _a(r, s)
                yf[q + k] = v0
                yf[q + s6 + k] = v1
                yf[q + s12 + k] = v2
                yf[q + s18 + k] = v3
                yf[q + s24 + k] = v4
                yf[q + s30 + k] = v5


@njit(cache=True, nogil=True)
def scatter_input_grad(P, dxp, tmp, tmp2):
    """``dxp`` (n, H + 4, W + 4, C) += ``B p BT`` of each tile ``p`` of ``P``
    (36, n * th * tw, C) at its 6 x 6 place (the adjoint of
    :func:`input_tiles`; ``dxp`` zeroed by the caller). ``tmp``, ``tmp2``:
    scratch of at least 36 * C entries."""
    n, Hp, Wp, C = dxp.shape
    th, tw = (Hp - 4) // 2, (Wp - 4) // 2
    cs = _U(C)
    plane = _U(n * th * tw) * cs
    r6 = _U(6) * cs
    pf = P.reshape(-1)
    xf = dxp.reshape(-1)
    s6, s12, s18, s24, s30 = _tile_strides(plane)
    t = _U(0)
    for b in range(_U(n)):
        for ty in range(_U(th)):
            for tx in range(_U(tw)):
                base = t * cs
                # Along y, each column j: tmp[i, j, c] = (B p[:, j])_i.
                for j in range(_U(6)):
                    s = base + j * plane
                    o = j * cs
                    for c in range(cs):
                        q = s + c
                        v0, v1, v2, v3, v4, v5 = _b(
                            pf[q],
                            pf[q + s6],
                            pf[q + s12],
                            pf[q + s18],
                            pf[q + s24],
                            pf[q + s30],
                        )
                        tmp[o + c] = v0
                        tmp[o + r6 + c] = v1
                        tmp[o + _U(2) * r6 + c] = v2
                        tmp[o + _U(3) * r6 + c] = v3
                        tmp[o + _U(4) * r6 + c] = v4
                        tmp[o + _U(5) * r6 + c] = v5
                # Along x, each row i, into tmp2 (one image row of the tile:
                # 6 * C contiguous values in NHWC) ...
                for i in range(_U(6)):
                    o = i * r6
                    for c in range(cs):
                        v0, v1, v2, v3, v4, v5 = _b(
                            tmp[o + c],
                            tmp[o + cs + c],
                            tmp[o + _U(2) * cs + c],
                            tmp[o + _U(3) * cs + c],
                            tmp[o + _U(4) * cs + c],
                            tmp[o + _U(5) * cs + c],
                        )
                        tmp2[o + c] = v0
                        tmp2[o + cs + c] = v1
                        tmp2[o + _U(2) * cs + c] = v2
                        tmp2[o + _U(3) * cs + c] = v3
                        tmp2[o + _U(4) * cs + c] = v4
                        tmp2[o + _U(5) * cs + c] = v5
                # ... added into the padded image.
                for i in range(_U(6)):
                    d = ((b * _U(Hp) + _U(2) * ty + i) * _U(Wp) + _U(2) * tx) * cs
                    o = i * r6
                    for c in range(r6):
                        xf[d + c] += tmp2[o + c]
                t += _U(1)


@njit(cache=True, nogil=True)
def crop_images(xp, x):
    """``x`` (n, H, W, C) <- the interior of ``xp`` (n, H + 4, W + 4, C)."""
    n, H, W, C = x.shape
    Hp, Wp = xp.shape[1], xp.shape[2]
    xf = x.reshape(-1)
    pf = xp.reshape(-1)
    run = _U(W * C)
    for b in range(_U(n)):
        for y in range(_U(H)):
            s = ((b * _U(Hp) + y + _U(2)) * _U(Wp) + _U(2)) * _U(C)
            d = (b * _U(H) + y) * run
            for j in range(run):
                xf[d + j] = pf[s + j]


# -- chunk loops ----------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _forward_chunks(x, U, bias, out, argmax, start, stop, xp_buf, V_buf, M_buf, tmp):
    """Images ``start:stop`` of :func:`conv_pool_forward`, chunk by chunk."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    K = U.shape[2]
    tiles = (H // 2) * (W // 2)
    chunk = xp_buf.shape[0]
    for s in range(start, stop, chunk):
        n = min(chunk, stop - s)
        T = n * tiles
        xp = xp_buf[:n]
        pad_images(x[s : s + n], xp)
        V = V_buf[: N_TILE * T * C].reshape((N_TILE, T, C))
        input_tiles(xp, V, tmp)
        M = M_buf[: N_TILE * T * K].reshape((N_TILE, T, K))
        for xi in range(N_TILE):
            np.dot(V[xi], U[xi], M[xi])
        pooled_output(M, bias, out[s : s + n], argmax[s : s + n])


@njit(cache=True, nogil=True)
def _backward_chunks(
    x, Ut, dout, argmax, dx, start, stop, need_dx,
    xp_buf, V_buf, Y_buf, dU, dU_chunk, tmp, tmp2,
):  # fmt: skip
    """Images ``start:stop`` of :func:`conv_pool_backward`: their weight
    gradient (transformed) into ``dU``, their input gradient into ``dx``."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    K = dout.shape[3]
    tiles = (H // 2) * (W // 2)
    chunk = xp_buf.shape[0]
    first = True
    for s in range(start, stop, chunk):
        n = min(chunk, stop - s)
        T = n * tiles
        xp = xp_buf[:n]
        pad_images(x[s : s + n], xp)
        V = V_buf[: N_TILE * T * C].reshape((N_TILE, T, C))
        input_tiles(xp, V, tmp)
        Y = Y_buf[: N_TILE * T * K].reshape((N_TILE, T, K))
        output_grad_tiles(dout[s : s + n], argmax[s : s + n], Y)
        target = dU if first else dU_chunk
        for xi in range(N_TILE):
            np.dot(V[xi].T, Y[xi], target[xi])
        if not first:
            df = dU.reshape(-1)
            cf = dU_chunk.reshape(-1)
            for i in range(_U(df.size)):
                df[i] += cf[i]
        first = False
        if need_dx:
            P = V  # the chunk's input tiles are used up
            for xi in range(N_TILE):
                np.dot(Y[xi], Ut[xi], P[xi])
            xp[:] = 0
            scatter_input_grad(P, xp, tmp, tmp2)
            crop_images(xp, dx[s : s + n])


# -- kernel transforms (small: NumPy, float64) -----------------------------------------
def kernel_tiles(W, n_in):
    """``U`` (36, C_in, C_out) = ``G g G^T`` of each 5 x 5 kernel of the GEMM
    matrix ``W`` (25 * C_in, C_out), rows ordered (dy, dx, c_in)."""
    n_out = W.shape[1]
    g = W.astype(np.float64).reshape(5, 5 * n_in * n_out)
    # G along dy, then G along dx (a product per row of the first result).
    rows = (G @ g).reshape(6, 5, n_in * n_out)
    return np.matmul(G, rows).reshape(N_TILE, n_in, n_out).astype(W.dtype)


def kernel_grad(dU):
    """``dW`` (25 * C_in, C_out) = ``G^T dU G`` from the transformed
    gradient ``dU`` (36, C_in, C_out)."""
    _, n_in, n_out = dU.shape
    d = dU.astype(np.float64).reshape(6, 6 * n_in * n_out)
    rows = (G.T @ d).reshape(5, 6, n_in * n_out)
    return np.matmul(G.T, rows).reshape(25 * n_in, n_out).astype(dU.dtype)


def _split(n_images, n_parts):
    """Contiguous image ranges of at most ``n_parts`` parts, cut at chunk
    boundaries."""
    return split(n_images, n_parts, CHUNK)


def _buffers(workspace, index, shapes, dtype):
    """Scratch arrays of the given shapes for part ``index``, reused through
    its own sub-dict of ``workspace`` (a dict, or None for fresh ones)."""
    own = None if workspace is None else workspace.setdefault(("winograd", index), {})
    return [scratch(own, name, shape, dtype) for name, shape in enumerate(shapes)]


# -- drivers ---------------------------------------------------------------------------
def conv_pool_forward(x, W, b, out, argmax, workspace=None, threads=None):
    """5 x 5 convolution (padding 2) of ``x`` (B, H, W, C_in) with the GEMM
    matrix ``W`` (25 * C_in, C_out), plus ``b``, max-pooled 2 x 2 into ``out``
    (B, H // 2, W // 2, C_out); ``argmax`` receives each window's maximum
    index. ``workspace``: an optional dict of reused scratch buffers;
    ``threads``: how many threads share the batch (None: :func:`n_threads`).
    """
    B, H, Wd, C = x.shape
    U = kernel_tiles(W, C)
    T = CHUNK * (H // 2) * (Wd // 2)
    side = (CHUNK, H + 4, Wd + 4, C)
    shapes = (side, (N_TILE * T * C,), (N_TILE * T * W.shape[1],), (N_TILE * C,))

    def work(start, stop, index):
        xp, V, M, tmp = _buffers(workspace, index, shapes, x.dtype)
        _forward_chunks(x, U, b, out, argmax, start, stop, xp, V, M, tmp)

    run_parts(_split(B, threads or n_threads()), work)
    return out


def conv_pool_backward(x, W, dout, argmax, need_dx=True, workspace=None, threads=None):
    """Gradients ``(dW, db, dx)`` of :func:`conv_pool_forward` from ``dout``,
    the gradient w.r.t. its pooled output (``dx`` None unless ``need_dx``);
    ``workspace`` and ``threads`` as there."""
    B, H, Wd, C = x.shape
    K = W.shape[1]
    # A contiguous (36, C_out, C_in) copy: BLAS runs the products with a
    # transposed view more slowly.
    Ut = np.ascontiguousarray(kernel_tiles(W, C).transpose(0, 2, 1))
    db = dout.reshape(-1, K).sum(axis=0)
    dx = np.empty_like(x) if need_dx else np.empty((0, H, Wd, C), dtype=x.dtype)
    T = CHUNK * (H // 2) * (Wd // 2)
    side = (CHUNK, H + 4, Wd + 4, C)
    shapes = (
        side,
        (N_TILE * T * C,),
        (N_TILE * T * K,),
        (N_TILE, C, K),
        (N_TILE, C, K),
        (N_TILE * max(C, K),),
        (N_TILE * max(C, K),),
    )

    def work(start, stop, index):
        xp, V, Y, dU, dU_chunk, tmp, tmp2 = _buffers(workspace, index, shapes, x.dtype)
        _backward_chunks(
            x, Ut, dout, argmax, dx, start, stop, need_dx,
            xp, V, Y, dU, dU_chunk, tmp, tmp2,
        )  # fmt: skip
        return dU

    parts = run_parts(_split(B, threads or n_threads()), work)
    if not parts:  # no image
        return np.zeros_like(W), db, (dx if need_dx else None)
    dU = parts[0]
    for part in parts[1:]:
        dU += part
    return kernel_grad(dU), db, (dx if need_dx else None)
