"""Convolutional layers in NHWC layout, a conv-stack network and the tied
convolutional denoising autoencoder (Masci et al. 2011).

Images are C-contiguous ``(B, H, W, C)`` arrays. A conv layer's weights are a
GEMM matrix ``W`` of shape ``(kh * kw * C_in, C_out)`` whose rows are ordered
``(dy, dx, c_in)``, its bias ``b`` has shape ``(C_out,)``; stride 1, zero
padding ``pad`` (``pad = k // 2`` keeps the size for odd ``k``). A convolution
is ``im2col`` then one matrix product, done for a chunk of images at a time so
that the ``im2col`` buffer never exceeds ``max_bytes`` whatever the batch size.

Max-pooling (size and stride ``p``, floor of the spatial size) is fused with
the convolution and applied to the *pre-activation*: every hidden activation
here is non-decreasing, so ``pool(act(z)) == act(pool(z))``, and pooling first
runs the activation on a map ``p * p`` times smaller and never stores the
un-pooled map. Within a window the first maximum in row-major order wins. The
gradients are those of activation-then-pooling, except where a saturated
activation rounds distinct maxima to a tie; its derivative is (nearly) zero
there.

A layer with a 5 x 5 kernel, padding 2, 2 x 2 pooling and enough input maps
(the default conv source's second layer) runs as Winograd F(2x2, 5x5)
instead (:mod:`._winograd`: 2.8 times fewer FLOPs in its products);
:func:`conv_algorithm` says which layers do.

Every function keeps the dtype of its inputs (float32 in, float32 out).
"""

import contextlib
from typing import NamedTuple

import numpy as np
from numba import njit

from . import _winograd
from ._activations import ACTIVATIONS, DERIVATIVES
from ._losses import bernoulli_loss_grad
from ._scratch import UINT as _U
from ._scratch import scratch as _scratch
from ._threads import n_threads, run_parts, single_threaded_blas, split

# Size of the im2col buffer of one chunk of images: small enough that the
# patches are still in cache when their GEMM reads them. At batch 64 on 2
# cores, 2 to 8 MB measured best (1 thread: alike; 2 threads: 4 MB by 2-3%),
# 16 MB and more 10-30% slower (benchmarks/bench_conv_kernels.py).
MAX_BYTES = 4 * 2**20
# A network's forward pass keeps a layer's whole-batch patches for the
# backward pass when they take at most this much (else they are recomputed).
KEEP_BYTES = 16 * 2**20
# A weight gradient ``P.T @ dZ`` with at most this many entries is a single
# block of OpenBLAS's thread partition, so the whole long product runs on
# one thread, and at 2 threads it measured half the speed of 1 thread (the
# first conv layer's 25 x 32 over 41,552 rows: 30 against 61 GFLOP/s).
# Summing one product per image keeps it fast (about 105 GFLOP/s).
SMALL_WEIGHT_GRAD = 4096


def _matmul(a, b, out=None):
    """``a @ b`` (into ``out``); every matrix product of this module goes
    through here, so a benchmark can record their shapes."""
    return np.matmul(a, b, out=out)


def _rows_matmul(a, b, threads):
    """``a @ b`` with the rows of ``a`` split over ``threads`` threads (one
    product for None or 1)."""
    if not threads or threads == 1:
        return _matmul(a, b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    run_parts(
        split(a.shape[0], threads),
        lambda start, stop, _: _matmul(a[start:stop], b, out=out[start:stop]),
    )
    return out


def _rows_gram(a, b, threads):
    """``a.T @ b``, summed from the products of row parts of ``a`` and
    ``b`` on ``threads`` threads (one product for None or 1)."""
    if not threads or threads == 1:
        return _matmul(a.T, b)
    parts = run_parts(
        split(a.shape[0], threads),
        lambda start, stop, _: _matmul(a[start:stop].T, b[start:stop]),
    )
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def _part_workspace(workspace, index):
    """Scratch buffers of part ``index`` of a batch split over threads: the
    caller's for the first part, a sub-dict of them for the others."""
    if workspace is None or index == 0:
        return workspace
    return workspace.setdefault(("part", index), {})


# -- im2col / col2im -------------------------------------------------------------------


@njit(cache=True)
def im2col(x, kh, kw, pad, out):
    """Patches of ``x`` (B, H, W, C) as the rows of ``out`` (B*Ho*Wo, kh*kw*C),
    rows ordered (b, y, x), columns (dy, dx, c); zero outside the image."""
    B, H, W, C = x.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    # In a zero-padded copy every kernel row of a patch is one full contiguous
    # run: no clipping tests (1.5x faster for one channel, as fast for 32).
    xp = np.zeros((B, Hp, Wp, C), dtype=x.dtype)
    xf = x.reshape(-1)
    pf = xp.reshape(-1)
    for b in range(B):
        for y in range(H):
            d = _U(((b * Hp + y + pad) * Wp + pad) * C)
            s = _U((b * H + y) * W * C)
            for j in range(_U(W * C)):
                pf[d + j] = xf[s + j]
    of = out.reshape(-1)
    run = _U(kw * C)
    o = _U(0)
    for b in range(B):
        for y in range(Ho):
            for xo in range(Wo):
                for dy in range(kh):
                    s = _U(((b * Hp + y + dy) * Wp + xo) * C)
                    for j in range(run):
                        of[o + j] = pf[s + j]
                    o += run


@njit(cache=True)
def col2im(cols, kh, kw, pad, out):
    """Adjoint of :func:`im2col`: write into ``out`` (B, H, W, C) the sum of
    the entries of ``cols`` (B*Ho*Wo, kh*kw*C) read from each pixel."""
    B, H, W, C = out.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    # Accumulate into a zero-padded image (full runs, as in im2col), then
    # drop the padding.
    xp = np.zeros((B, Hp, Wp, C), dtype=out.dtype)
    pf = xp.reshape(-1)
    cf = cols.reshape(-1)
    run = _U(kw * C)
    o = _U(0)
    for b in range(B):
        for y in range(Ho):
            for xo in range(Wo):
                for dy in range(kh):
                    d = _U(((b * Hp + y + dy) * Wp + xo) * C)
                    for j in range(run):
                        pf[d + j] += cf[o + j]
                    o += run
    of = out.reshape(-1)
    for b in range(B):
        for y in range(H):
            s = _U(((b * Hp + y + pad) * Wp + pad) * C)
            d = _U((b * H + y) * W * C)
            for j in range(_U(W * C)):
                of[d + j] = pf[s + j]


# -- max-pooling -----------------------------------------------------------------------
@njit(cache=True)
def _maxpool_bias(x, b, p, out, argmax):
    """``out = maxpool(x) + b`` and the window index of each maximum."""
    B, H, W, C = x.shape
    Hp, Wp = H // p, W // p
    xf = x.reshape(-1)
    of = out.reshape(-1)
    af = argmax.reshape(-1)
    o = 0
    for n in range(B):
        for i in range(Hp):
            for j in range(Wp):
                d = _U(o)
                o += C
                s = _U(((n * H + i * p) * W + j * p) * C)
                for c in range(_U(C)):
                    of[d + c] = xf[s + c]
                    af[d + c] = 0
                for u in range(p):
                    for v in range(p):
                        if u == 0 and v == 0:
                            continue
                        k = u * p + v
                        s = _U(((n * H + i * p + u) * W + j * p + v) * C)
                        for c in range(_U(C)):
                            val = xf[s + c]
                            # Strictly greater: the first maximum wins ties.
                            if val > of[d + c]:
                                of[d + c] = val
                                af[d + c] = k
                for c in range(_U(C)):
                    of[d + c] += b[c]


def maxpool_forward(x, p, out, argmax):
    """Max-pool ``x`` (B, H, W, C) over p x p windows (stride p, floor of H and
    W) into ``out`` (B, H//p, W//p, C); ``argmax`` (same shape, int) receives
    each maximum's row-major index in its window. The first maximum wins ties."""
    _maxpool_bias(x, np.zeros(x.shape[3], dtype=x.dtype), p, out, argmax)
    return out


@njit(cache=True)
def maxpool_backward(dout, argmax, p, dx):
    """Adjoint of max-pooling: write ``dx`` (B, H, W, C), each entry of
    ``dout`` (B, H//p, W//p, C) at its window's maximum, zero elsewhere."""
    B, H, W, C = dx.shape
    Hp, Wp = dout.shape[1], dout.shape[2]
    xf = dx.reshape(-1)
    df = dout.reshape(-1)
    af = argmax.reshape(-1)
    o = 0
    for n in range(B):
        # Every window is written whole: no separate zeroing pass.
        for i in range(Hp):
            for j in range(Wp):
                d = _U(o)
                o += C
                for u in range(p):
                    for v in range(p):
                        k = u * p + v
                        s = _U(((n * H + i * p + u) * W + j * p + v) * C)
                        for c in range(_U(C)):
                            xf[s + c] = df[d + c] if af[d + c] == k else 0
        # Rows and columns cut off by the floor of H / p and W / p.
        for y in range(H):
            for xo in range(0 if y >= Hp * p else Wp * p, W):
                s = _U(((n * H + y) * W + xo) * C)
                for c in range(_U(C)):
                    xf[s + c] = 0


@njit(cache=True)
def _relu_derivative(A, delta):
    """Zero ``delta`` where the ReLU output ``A`` is 0 (same shapes)."""
    af = A.reshape(-1)
    df = delta.reshape(-1)
    for i in range(_U(af.size)):
        if af[i] <= 0:
            df[i] = 0


def _inplace_relu_derivative(A, delta):
    """:func:`_relu_derivative` for C-contiguous arrays, NumPy otherwise."""
    if A.flags.c_contiguous and delta.flags.c_contiguous:
        _relu_derivative(A, delta)
    else:
        DERIVATIVES["relu"](A, delta)


# NumPy's boolean-mask assignment builds a mask array and scatters; this
# kernel is ~50x faster on a conv layer's output (64 x 6272 floats).
_DERIVATIVES = {**DERIVATIVES, "relu": _inplace_relu_derivative}


def argmax_dtype(p):
    """Smallest integer dtype holding a window index of p x p pooling."""
    return np.int8 if p * p <= 127 else np.int32


# -- convolution -----------------------------------------------------------------------
ALGORITHMS = ("auto", "im2col", "winograd")


def conv_algorithm(kh, kw, pad, pool, in_shape, n_maps, algorithm="auto"):
    """The algorithm a conv layer of ``n_maps`` output maps runs on inputs of
    ``in_shape`` (H, W, C): ``"winograd"`` where the F(2x2, 5x5) kernels fit
    the geometry and pay for the layer's width (:func:`._winograd.fits`,
    :func:`._winograd.pays`), else ``"im2col"``. An explicit ``"winograd"``
    needs only the geometry (a test may run thin layers)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}.")
    fits = _winograd.fits(kh, kw, pad, pool, in_shape)
    if algorithm == "winograd" and not fits:
        raise ValueError(
            "The Winograd kernels need a 5x5 kernel, padding 2, 2x2 pooling and "
            f"inputs of at least 2x2 pixels; got a {kh}x{kw} kernel, padding "
            f"{pad}, pooling {pool}, input {tuple(in_shape)}."
        )
    if algorithm == "auto":
        return "winograd" if fits and _winograd.pays(in_shape[2], n_maps) else "im2col"
    return algorithm


def _runs_winograd(kh, kw, pad, pool, x, n_maps, algorithm, patches):
    """Whether :func:`conv_forward` / :func:`conv_backward` take the Winograd
    path: never when the caller keeps im2col ``patches``."""
    chosen = conv_algorithm(kh, kw, pad, pool, x.shape[1:], n_maps, algorithm)
    if patches is not None and algorithm == "winograd":
        raise ValueError(
            "patches keeps the im2col patches of an im2col layer; "
            "algorithm='winograd' computes none: pass patches=None."
        )
    return chosen == "winograd" and patches is None


def conv_output_shape(H, W, kh, kw, pad):
    """Spatial size ``(Ho, Wo)`` of a stride-1 convolution."""
    return H + 2 * pad - kh + 1, W + 2 * pad - kw + 1


def _chunk(n_images, rows_per_image, n_cols, itemsize, max_bytes, threads=None):
    """Images per chunk so that an im2col buffer fits in ``max_bytes`` (and,
    over several ``threads``, each thread gets an equal share of chunks)."""
    per_image = max(1, rows_per_image * n_cols * itemsize)
    step = int(max(1, min(n_images, max_bytes // per_image)))
    if threads and threads > 1:
        step = max(1, min(step, -(-n_images // threads)))
    return step


def _weight_grad(P, dZ, n_images, out, workspace=None):
    """``out = P.T @ dZ`` for the patches ``P`` and output gradients ``dZ``
    of ``n_images`` images (rows grouped by image)."""
    K, C_out = out.shape
    if n_images == 1 or K * C_out > SMALL_WEIGHT_GRAD:
        return _matmul(P.T, dZ, out=out)
    rows = P.shape[0] // n_images
    parts = _scratch(workspace, "dw_parts", (n_images, K, C_out), P.dtype)
    _matmul(
        P.reshape(n_images, rows, K).transpose(0, 2, 1),
        dZ.reshape(n_images, rows, C_out),
        out=parts,
    )
    return parts.sum(axis=0, out=out)


def _check_conv(x, W, kh, kw):
    if x.ndim != 4 or not x.flags.c_contiguous:
        raise ValueError("x must be a C-contiguous (B, H, W, C) array.")
    if W.shape[0] != kh * kw * x.shape[3]:
        raise ValueError(
            f"W has {W.shape[0]} rows, expected kh*kw*C_in = {kh * kw * x.shape[3]}."
        )
    if W.dtype != x.dtype:
        raise TypeError(f"W is {W.dtype} but x is {x.dtype}.")


def conv_forward(
    x,
    W,
    b,
    kh,
    kw,
    pad,
    pool=1,
    argmax=None,
    out=None,
    patches=None,
    max_bytes=MAX_BYTES,
    workspace=None,
    algorithm="auto",
    threads=None,
):
    """Convolution plus bias ``(B, H, W, C_in) -> (B, Ho, Wo, C_out)``.

    With ``pool > 1`` the result is max-pooled to ``(B, Ho//pool, Wo//pool,
    C_out)`` inside the chunk loop (the un-pooled map is never stored) and
    ``argmax`` (an int array of that shape) receives the window indices.
    ``out`` may be given. ``patches``, a (B*Ho*Wo, kh*kw*C_in) array, keeps
    the whole batch's im2col for :func:`conv_backward`; otherwise they live
    in a chunk buffer of at most ``max_bytes``. ``workspace`` is an optional
    dict of scratch buffers reused across calls. ``algorithm`` (see
    :func:`conv_algorithm`): ``"auto"`` runs Winograd where it applies, unless
    ``patches`` are to be kept (Winograd keeps none, and chunks the batch by
    two images whatever ``max_bytes``); ``threads`` is the Winograd kernels'
    thread count, and how many threads share the im2col chunks (None:
    :func:`._threads.n_threads` for Winograd, one thread for im2col).
    """
    _check_conv(x, W, kh, kw)
    B, H, Wd, _ = x.shape
    K, C_out = W.shape
    Ho, Wo = conv_output_shape(H, Wd, kh, kw, pad)
    Hp, Wp = Ho // pool, Wo // pool
    if out is None:
        out = np.empty((B, Hp, Wp, C_out), dtype=x.dtype)
    if pool > 1 and argmax is None:
        raise ValueError("pool > 1 needs an argmax array of the pooled shape.")
    if _runs_winograd(kh, kw, pad, pool, x, C_out, algorithm, patches):
        return _winograd.conv_pool_forward(x, W, b, out, argmax, workspace, threads)
    step = _chunk(B, Ho * Wo, K, x.itemsize, max_bytes, threads)
    rows = step * Ho * Wo
    out2 = out.reshape(B * Hp * Wp, C_out)

    def work(start, stop, index):
        own = _part_workspace(workspace, index)
        if patches is None:
            cols = _scratch(own, "cols", (rows, K), x.dtype)
        if pool > 1:
            Z = _scratch(own, "z", (rows, C_out), x.dtype)
        for s in range(start, stop, step):
            n = min(step, stop - s)
            r0, r = s * Ho * Wo, n * Ho * Wo
            P = cols[:r] if patches is None else patches[r0 : r0 + r]
            im2col(x[s : s + n], kh, kw, pad, P)
            if pool == 1:
                _matmul(P, W, out=out2[r0 : r0 + r])
            else:
                _matmul(P, W, out=Z[:r])
                _maxpool_bias(
                    Z[:r].reshape(n, Ho, Wo, C_out),
                    b,
                    pool,
                    out[s : s + n],
                    argmax[s : s + n],
                )

    run_parts(split(B, threads or 1, step), work)
    if pool == 1:
        out2 += b
    return out


def conv_backward(
    x,
    W,
    dout,
    kh,
    kw,
    pad,
    pool=1,
    argmax=None,
    need_dx=True,
    patches=None,
    max_bytes=MAX_BYTES,
    workspace=None,
    algorithm="auto",
    threads=None,
):
    """Gradients ``(dW, db, dx)`` of :func:`conv_forward` from ``dout``, the
    gradient w.r.t. its (pooled) output; ``dx`` is None unless ``need_dx``.

    Per chunk: ``dW += P.T @ dZ`` and ``dx = col2im(dZ @ W.T)``, where the
    patches ``P`` come from ``patches`` (kept by the forward pass) or are
    recomputed by ``im2col``: cheaper than keeping a large batch's patches.
    Layers that run Winograd (``algorithm`` and ``threads`` as in
    :func:`conv_forward`) recompute their input tiles instead.
    """
    _check_conv(x, W, kh, kw)
    B, H, Wd, C_in = x.shape
    K, C_out = W.shape
    if _runs_winograd(kh, kw, pad, pool, x, C_out, algorithm, patches):
        return _winograd.conv_pool_backward(
            x, W, dout, argmax, need_dx, workspace, threads
        )
    Ho, Wo = conv_output_shape(H, Wd, kh, kw, pad)
    db = dout.reshape(-1, C_out).sum(axis=0)
    dW = np.zeros((K, C_out), dtype=x.dtype)
    dx = np.empty_like(x) if need_dx else None
    step = _chunk(B, Ho * Wo, K, x.itemsize, max_bytes, threads)
    rows = step * Ho * Wo
    dZ_all = dout.reshape(-1, C_out)

    def work(start, stop, index):
        own = _part_workspace(workspace, index)
        cols = _scratch(own, "cols", (rows, K), x.dtype)
        dW_chunk = _scratch(own, "dw", (K, C_out), x.dtype)
        dW_own = dW if index == 0 else np.zeros_like(dW)
        if pool > 1:
            dZ_chunk = _scratch(own, "z", (rows, C_out), x.dtype)
        for s in range(start, stop, step):
            n = min(step, stop - s)
            r0, r = s * Ho * Wo, n * Ho * Wo
            if pool > 1:
                dZ = dZ_chunk[:r]
                maxpool_backward(
                    dout[s : s + n],
                    argmax[s : s + n],
                    pool,
                    dZ.reshape(n, Ho, Wo, C_out),
                )
            else:
                dZ = dZ_all[r0 : r0 + r]
            if patches is None:
                P = cols[:r]
                im2col(x[s : s + n], kh, kw, pad, P)
            else:
                P = patches[r0 : r0 + r]
            _weight_grad(P, dZ, n, dW_chunk, own)
            dW_own += dW_chunk
            if need_dx:
                # The chunk buffer takes dZ @ W.T (the patches are used up,
                # or kept elsewhere and left intact).
                _matmul(dZ, W.T, out=cols[:r])
                col2im(cols[:r], kh, kw, pad, dx[s : s + n])
        return dW_own

    for part in run_parts(split(B, threads or 1, step), work)[1:]:
        dW += part
    return dW, db, dx


def conv_transpose(h, W, kh, kw, pad, out, max_bytes=MAX_BYTES, workspace=None):
    """Adjoint of the convolution: ``out = col2im(h @ W.T)``, the "full"
    correlation of ``h`` (B, Ho, Wo, C_out) with the spatially flipped kernels,
    into ``out`` (B, H, W, C_in) ("same" padding: the input shape)."""
    B, Ho, Wo, C_out = h.shape
    K = W.shape[0]
    step = _chunk(B, Ho * Wo, K, h.itemsize, max_bytes)
    cols = _scratch(workspace, "cols", (step * Ho * Wo, K), h.dtype)
    h2 = h.reshape(-1, C_out)
    for s in range(0, B, step):
        n = min(step, B - s)
        r = n * Ho * Wo
        _matmul(h2[s * Ho * Wo : s * Ho * Wo + r], W.T, out=cols[:r])
        col2im(cols[:r], kh, kw, pad, out[s : s + n])
    return out


# -- conv-stack network ----------------------------------------------------------------
class ConvGeometry(NamedTuple):
    """Geometry of the conv part of a network.

    ``image_shape`` is ``(H, W, C)`` of one input image; ``layers`` holds one
    ``(kh, kw, pad, pool)`` per conv layer (``pool = 1``: no pooling). The
    number of maps of each layer is the width of its weight matrix.
    """

    image_shape: tuple
    layers: tuple


class ConvCache(NamedTuple):
    """What :func:`conv_net_forward` keeps for :func:`conv_net_backward`.

    ``activations`` is ``[X, A_1, ..., A_L]`` with every hidden layer's output
    as a flat (B, n_units) array (conv layers: after pooling, NHWC order);
    after a full pass it ends with the output activations and the logits, as
    :func:`~skalltransfer._kernels._feedforward.forward_pass` does.
    ``argmax`` holds each conv layer's pooling indices (None without
    pooling), ``patches`` its whole-batch im2col when the layer runs im2col
    and they fit in ``keep_bytes`` (else None: the backward pass recomputes
    them, or the Winograd tiles, chunk by chunk); ``shapes`` is
    :func:`conv_layer_shapes`' first result.
    """

    activations: list
    argmax: list
    patches: list
    geometry: tuple
    shapes: list


def conv_layer_shapes(geometry, n_maps):
    """Shapes through the conv layers of ``geometry`` with ``n_maps[k]`` maps.

    Returns ``shapes``, one ``(in_shape, conv_shape, out_shape)`` per conv
    layer as (H, W, C) tuples (``out_shape`` after pooling), and ``sizes``,
    the flattened sizes ``[H*W*C, n_1, ..., n_K]`` of the input and of every
    pooled output (``sizes[-1]`` is the first dense layer's input size).
    """
    H, W, C = geometry[0]
    layers = geometry[1]
    if len(n_maps) != len(layers):
        raise ValueError(f"{len(layers)} conv layers but {len(n_maps)} map counts.")
    shapes, sizes = [], [H * W * C]
    for k, ((kh, kw, pad, pool), c_out) in enumerate(zip(layers, n_maps)):
        Ho, Wo = conv_output_shape(H, W, kh, kw, pad)
        Hp, Wp = Ho // pool, Wo // pool
        if min(Hp, Wp) < 1 or pad < 0 or pool < 1:
            raise ValueError(
                f"Conv layer {k + 1} (kernel {kh}x{kw}, pad {pad}, pool {pool}) "
                f"does not fit its {H}x{W} input."
            )
        shapes.append(((H, W, C), (Ho, Wo, c_out), (Hp, Wp, c_out)))
        H, W, C = Hp, Wp, c_out
        sizes.append(H * W * C)
    return shapes, sizes


@contextlib.contextmanager
def _network_threads(coefs, geometry, shapes, layers):
    """Threads of a network pass whose conv ``layers`` include a Winograd
    one (None if none does: BLAS then runs every layer's products on its own
    threads). Meanwhile BLAS is held at one thread
    (:func:`._threads.single_threaded_blas`): the Winograd layers split
    their batch over the threads, the im2col and dense layers their chunks or
    rows."""
    winograd = any(
        conv_algorithm(*geometry[1][k], shapes[k][0], coefs[k].shape[1]) == "winograd"
        for k in layers
    )
    threads = n_threads() if winograd else None
    if threads is None or threads == 1:
        yield threads
        return
    with single_threaded_blas():
        yield threads


def _net_shapes(coefs, geometry, n_layers):
    n_conv = len(geometry[1])
    if n_layers is None and len(coefs) <= n_conv:
        # Only a truncated pass (layer-wise pretraining) may lack dense layers.
        raise ValueError("A conv network needs at least one dense (output) layer.")
    if n_layers is not None and not 1 <= n_layers <= len(coefs):
        raise ValueError(f"n_layers must be in 1..{len(coefs)}, got {n_layers}.")
    if len(coefs) < n_conv:
        raise ValueError(f"{n_conv} conv layers but only {len(coefs)} weight layers.")
    shapes, sizes = conv_layer_shapes(geometry, [W.shape[1] for W in coefs[:n_conv]])
    for k, ((kh, kw, _, _), (in_shape, _, _)) in enumerate(zip(geometry[1], shapes)):
        if coefs[k].shape[0] != kh * kw * in_shape[2]:
            raise ValueError(
                f"coefs[{k}] has {coefs[k].shape[0]} rows, expected "
                f"{kh * kw * in_shape[2]} for a {kh}x{kw}x{in_shape[2]} kernel."
            )
    if len(coefs) > n_conv and coefs[n_conv].shape[0] != sizes[-1]:
        raise ValueError(
            f"coefs[{n_conv}] has {coefs[n_conv].shape[0]} rows, expected "
            f"{sizes[-1]} (the flattened last conv output)."
        )
    return shapes


def _forward(
    coefs,
    intercepts,
    X,
    geometry,
    hidden_activation,
    output_activation,
    n_layers,
    keep,
    max_bytes,
    keep_bytes,
    workspace,
):
    """Forward pass; with ``keep`` every layer's output, argmax and (when
    they fit in ``keep_bytes``) patches are kept, otherwise only the last
    output (argmax in reused scratch buffers)."""
    shapes = _net_shapes(coefs, geometry, n_layers)
    n_conv = len(shapes)
    X = np.ascontiguousarray(X)
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        # A float64 weight would silently upcast a float32 pass.
        if W.dtype != X.dtype or b.dtype != X.dtype:
            raise TypeError(
                f"Layer {k} has {W.dtype}/{b.dtype} parameters for {X.dtype} input."
            )
    if X.ndim != 2 or X.shape[1] != np.prod(geometry[0]):
        raise ValueError(
            f"X must have shape (n_samples, {np.prod(geometry[0])}), got {X.shape}."
        )
    B = X.shape[0]
    hidden = ACTIVATIONS[hidden_activation]
    stop = len(coefs) if n_layers is None else n_layers
    activations, argmaxes, patches = [X], [], []
    A = X
    conv_layers = range(min(stop, n_conv))
    with _network_threads(coefs, geometry, shapes, conv_layers) as threads:
        for k in range(stop):
            if k < n_conv:
                kh, kw, pad, pool = geometry[1][k]
                in_shape, _, out_shape = shapes[k]
                out = np.empty((B, *out_shape), dtype=X.dtype)
                am = None
                if pool > 1:
                    am_shape = (B, *out_shape)
                    am = (
                        np.empty(am_shape, dtype=argmax_dtype(pool))
                        if keep
                        else _scratch(workspace, "argmax", am_shape, argmax_dtype(pool))
                    )
                P = None
                K = coefs[k].shape[0]
                n_rows = B * shapes[k][1][0] * shapes[k][1][1]
                im2col_layer = (
                    conv_algorithm(kh, kw, pad, pool, in_shape, coefs[k].shape[1])
                    == "im2col"
                )
                if keep and im2col_layer and n_rows * K * X.itemsize <= keep_bytes:
                    # Small enough to keep: the backward pass skips its im2col.
                    P = np.empty((n_rows, K), dtype=X.dtype)
                conv_forward(
                    A.reshape(B, *in_shape),
                    coefs[k],
                    intercepts[k],
                    kh,
                    kw,
                    pad,
                    pool=pool,
                    argmax=am,
                    out=out,
                    patches=P,
                    max_bytes=max_bytes,
                    workspace=workspace,
                    threads=threads,
                )
                A = hidden(out.reshape(B, int(np.prod(out_shape))))
                argmaxes.append(am)
                patches.append(P)
            else:
                Z = _rows_matmul(A, coefs[k], threads)
                Z += intercepts[k]
                if k == len(coefs) - 1:
                    logits = Z.copy()
                    A = ACTIVATIONS[output_activation](Z)
                    if keep:
                        activations.append(A)
                        A = logits
                else:
                    A = hidden(Z)
            if keep:
                activations.append(A)
    return activations, argmaxes, patches, shapes, A


def conv_net_forward(
    coefs,
    intercepts,
    X,
    geometry,
    hidden_activation,
    output_activation,
    n_layers=None,
    max_bytes=MAX_BYTES,
    keep_bytes=KEEP_BYTES,
    workspace=None,
):
    """Forward pass of a conv stack, keeping what the backward pass needs.

    ``coefs`` / ``intercepts`` list the conv layers' GEMM matrices (one per
    entry of ``geometry.layers``), then the dense layers'; every conv layer is
    followed by ``hidden_activation`` and its max-pooling, its flattened (NHWC)
    output feeds the next layer. ``X`` has shape (B, H*W*C) (row-major
    images). With ``n_layers`` the pass stops after that many weight layers
    (conv and dense counted together; ``coefs`` may then end with the conv
    layers, as layer-wise pretraining needs). Returns a :class:`ConvCache`; after a
    full pass ``cache.activations[-2]`` is the output and ``[-1]`` the logits.
    ``max_bytes`` bounds the im2col chunk buffer; a layer's whole-batch
    patches are kept for the backward pass if they take at most
    ``keep_bytes`` (0: never).
    """
    activations, argmaxes, patches, shapes, _ = _forward(
        coefs,
        intercepts,
        X,
        geometry,
        hidden_activation,
        output_activation,
        n_layers,
        True,
        max_bytes,
        keep_bytes,
        workspace,
    )
    return ConvCache(activations, argmaxes, patches, geometry, shapes)


def conv_net_predict(
    coefs,
    intercepts,
    X,
    geometry,
    hidden_activation,
    output_activation,
    n_layers=None,
    batch_size=256,
    max_bytes=MAX_BYTES,
    workspace=None,
):
    """Output activations (or, with ``n_layers``, that layer's flat output)
    of :func:`conv_net_forward` for every row of ``X``, computed
    ``batch_size`` rows at a time without a cache: memory is flat in n_samples
    beyond the result itself."""
    n = X.shape[0]
    result = None
    for s in range(0, max(n, 1), batch_size):
        A = _forward(
            coefs,
            intercepts,
            X[s : s + batch_size],
            geometry,
            hidden_activation,
            output_activation,
            n_layers,
            False,
            max_bytes,
            0,
            workspace,
        )[-1]
        if result is None:
            result = np.empty((n, A.shape[1]), dtype=A.dtype)
        result[s : s + A.shape[0]] = A
    return result


def conv_net_backward(
    coefs,
    cache,
    output_grad,
    hidden_activation,
    frozen=0,
    hidden_grads=None,
    max_bytes=MAX_BYTES,
    workspace=None,
):
    """Gradients of every layer's weights and biases from ``output_grad``, the
    gradient w.r.t. the output logits (as ``output_loss_grad`` returns it).

    ``cache`` comes from a full :func:`conv_net_forward`. Layers below index
    ``frozen`` get None, which also skips their work (and the first trained
    conv layer computes no input gradient). ``hidden_grads`` maps a 1-based
    hidden layer ``l`` to a gradient w.r.t. its flat output
    ``cache.activations[l]``, added in during the sweep (e.g. an MMD penalty
    on hidden codes). Returns the lists ``coef_grads, intercept_grads``.
    """
    activations, argmaxes, patches, geometry, shapes = cache
    n = len(coefs)
    n_conv = len(shapes)
    if len(activations) != n + 2:
        raise ValueError("conv_net_backward needs the cache of a full forward pass.")
    hidden_grads = {} if hidden_grads is None else hidden_grads
    for layer in hidden_grads:
        if not 1 <= layer <= n - 1:
            raise ValueError(f"Hidden layers are numbered 1..{n - 1}, got {layer}.")
    coef_grads = [None] * n
    intercept_grads = [None] * n
    derivative = _DERIVATIVES[hidden_activation]
    delta = output_grad
    B = activations[0].shape[0]
    layers = range(frozen, n_conv)
    with _network_threads(coefs, geometry, shapes, layers) as threads:
        for k in range(n - 1, frozen - 1, -1):
            if k >= n_conv:
                coef_grads[k] = _rows_gram(activations[k], delta, threads)
                intercept_grads[k] = delta.sum(axis=0)
                grad = _rows_matmul(delta, coefs[k].T, threads) if k > frozen else None
            else:
                kh, kw, pad, pool = geometry[1][k]
                in_shape, _, out_shape = shapes[k]
                coef_grads[k], intercept_grads[k], dx = conv_backward(
                    activations[k].reshape(B, *in_shape),
                    coefs[k],
                    delta.reshape(B, *out_shape),
                    kh,
                    kw,
                    pad,
                    pool=pool,
                    argmax=argmaxes[k],
                    need_dx=k > frozen,
                    patches=patches[k],
                    max_bytes=max_bytes,
                    workspace=workspace,
                    threads=threads,
                )
                grad = None if dx is None else dx.reshape(activations[k].shape)
            if grad is not None:
                if k in hidden_grads:
                    grad += hidden_grads[k]
                derivative(activations[k], grad)
                delta = grad
    return coef_grads, intercept_grads


# -- convolutional denoising autoencoder -----------------------------------------------
def conv_dae_loss_grad(
    W,
    b,
    c,
    x_clean,
    x_corrupt,
    kh,
    kw,
    pad,
    activation="relu",
    loss="cross_entropy",
    max_bytes=MAX_BYTES,
    workspace=None,
):
    """Loss and gradients ``(loss, dW, db, dc)`` of one minibatch of a tied
    convolutional denoising autoencoder.

    Encoder ``h = act(conv(x_corrupt, W) + b)``, decoder logits
    ``z = conv_transpose(h, W) + c`` (``c`` of shape (C_in,)); the loss is the
    Bernoulli cross-entropy of ``sigmoid(z)`` against ``x_clean``
    (``loss="cross_entropy"``, inputs in [0, 1]) or ``0.5 * (z - x_clean)**2``
    (``"squared_error"``, identity output), summed over pixels and channels
    and averaged over the batch. Images are (B, H, W, C_in) with a padding
    that keeps their size. The tied ``dW`` is the encoder part plus the
    decoder part. Work runs chunk by chunk of images.
    """
    if loss not in ("cross_entropy", "squared_error"):
        raise ValueError(
            f"loss must be 'cross_entropy' or 'squared_error', got {loss!r}"
        )
    _check_conv(x_corrupt, W, kh, kw)
    B, H, Wd, C_in = x_clean.shape
    K, C_out = W.shape
    Ho, Wo = conv_output_shape(H, Wd, kh, kw, pad)
    if (Ho, Wo) != (H, Wd):
        raise ValueError("The autoencoder needs a padding that keeps the image size.")
    act, derivative = ACTIVATIONS[activation], _DERIVATIVES[activation]
    dt = x_clean.dtype
    step = _chunk(B, Ho * Wo, K, x_clean.itemsize, max_bytes)
    rows = step * Ho * Wo
    cols = _scratch(workspace, "cols", (rows, K), dt)
    dcols = _scratch(workspace, "dcols", (rows, K), dt)
    h_buf = _scratch(workspace, "z", (rows, C_out), dt)
    dh_buf = _scratch(workspace, "dh", (rows, C_out), dt)
    z_buf = _scratch(workspace, "xhat", (step, H, Wd, C_in), dt)
    dz_buf = _scratch(workspace, "dxhat", (step, H, Wd, C_in), dt)
    dW_part = _scratch(workspace, "dw", (K, C_out), dt)
    dW = np.zeros((K, C_out), dtype=dt)
    db = np.zeros(C_out, dtype=dt)
    dc = np.zeros(C_in, dtype=dt)
    total = 0.0
    for s in range(0, B, step):
        n = min(step, B - s)
        r = n * Ho * Wo
        C, D, h, dh = cols[:r], dcols[:r], h_buf[:r], dh_buf[:r]
        z, dz = z_buf[:n], dz_buf[:n]
        im2col(x_corrupt[s : s + n], kh, kw, pad, C)
        _matmul(C, W, out=h)
        h += b
        act(h)
        _matmul(h, W.T, out=D)
        col2im(D, kh, kw, pad, z)
        z += c
        z2, dz2 = z.reshape(n, -1), dz.reshape(n, -1)
        x2 = x_clean[s : s + n].reshape(n, -1)
        if loss == "cross_entropy":
            total += bernoulli_loss_grad(z2, x2, 1.0 / B, dz2)
        else:
            np.subtract(z2, x2, out=dz2)
            total += 0.5 * float(np.sum(np.square(dz2, dtype=np.float64))) / B
            dz2 *= dt.type(1.0 / B)
        dc += dz.reshape(-1, C_in).sum(axis=0)
        # Decoder: z = col2im(h W^T), so d(h W^T) = im2col(dz).
        im2col(dz, kh, kw, pad, D)
        _weight_grad(D, h, n, dW_part, workspace)
        dW += dW_part
        _matmul(D, W, out=dh)
        derivative(h, dh)
        db += dh.sum(axis=0)
        _weight_grad(C, dh, n, dW_part, workspace)
        dW += dW_part
    return float(total), dW, db, dc


def conv_net_backward_hidden(
    coefs,
    cache,
    hidden_grads,
    hidden_activation,
    coef_grads,
    intercept_grads,
    max_bytes=MAX_BYTES,
    workspace=None,
):
    """Add the gradient of a penalty on hidden codes to ``coef_grads`` and
    ``intercept_grads`` in place.

    ``cache`` comes from :func:`conv_net_forward`, possibly stopped at the
    highest penalised layer; ``hidden_grads`` maps a 1-based hidden layer
    ``l`` to the gradient w.r.t. ``cache.activations[l]``. Layers whose
    ``coef_grads`` entry is None are frozen: the sweep stops below the lowest
    trainable layer.
    """
    activations, argmaxes, patches, geometry, shapes = cache
    n_conv = len(shapes)
    trainable = [k for k, g in enumerate(coef_grads) if g is not None]
    if not trainable or not hidden_grads:
        return
    lowest = trainable[0]
    derivative = _DERIVATIVES[hidden_activation]
    B = activations[0].shape[0]
    delta = None
    layers = range(lowest, min(max(hidden_grads), n_conv))
    with _network_threads(coefs, geometry, shapes, layers) as threads:
        for k in range(max(hidden_grads) - 1, lowest - 1, -1):
            # Entering layer k (0-based) from its output: add that output's term.
            top = hidden_grads.get(k + 1)
            if top is not None:
                delta = top.copy() if delta is None else delta + top
            if delta is None:
                continue
            derivative(activations[k + 1], delta)
            if k >= n_conv:
                if coef_grads[k] is not None:
                    coef_grads[k] += _matmul(activations[k].T, delta)
                    intercept_grads[k] += delta.sum(axis=0)
                if k > lowest:
                    delta = _matmul(delta, coefs[k].T)
                continue
            kh, kw, pad, pool = geometry[1][k]
            in_shape, _, out_shape = shapes[k]
            dW, db, dx = conv_backward(
                activations[k].reshape(B, *in_shape),
                coefs[k],
                np.ascontiguousarray(delta).reshape(B, *out_shape),
                kh,
                kw,
                pad,
                pool=pool,
                argmax=argmaxes[k],
                need_dx=k > lowest,
                patches=patches[k],
                max_bytes=max_bytes,
                workspace=workspace,
                threads=threads,
            )
            if coef_grads[k] is not None:
                coef_grads[k] += dW
                intercept_grads[k] += db
            if dx is not None:
                delta = dx.reshape(B, -1)
