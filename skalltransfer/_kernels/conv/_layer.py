"""One convolutional layer: convolution, bias, max-pooling and activation,
forward and backward, by im2col + GEMM or by Winograd F(2x2, 5x5)."""

import numpy as np
from numba import njit

from skalltransfer._kernels._activations import DERIVATIVES
from skalltransfer._kernels._scratch import UINT as _U
from skalltransfer._kernels._scratch import scratch as _scratch
from skalltransfer._kernels._threads import run_parts, split
from skalltransfer._kernels.conv import _winograd
from skalltransfer._kernels.conv._gemm import (
    MAX_BYTES,
    images_per_chunk,
    part_workspace,
    weight_grad,
)
from skalltransfer._kernels.conv._im2col import col2im, im2col
from skalltransfer._kernels.conv._pool import maxpool_backward, maxpool_bias


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
# kernel makes one pass over a conv layer's output instead.
CONV_DERIVATIVES = {**DERIVATIVES, "relu": _inplace_relu_derivative}


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


def check_conv(x, W, kh, kw):
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
    :func:`~skalltransfer._kernels._threads.n_threads` for Winograd, one
    thread for im2col).
    """
    check_conv(x, W, kh, kw)
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
    step = images_per_chunk(B, Ho * Wo, K, x.itemsize, max_bytes, threads)
    rows = step * Ho * Wo
    out2 = out.reshape(B * Hp * Wp, C_out)

    def work(start, stop, index):
        own = part_workspace(workspace, index)
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
                np.matmul(P, W, out=out2[r0 : r0 + r])
            else:
                np.matmul(P, W, out=Z[:r])
                maxpool_bias(
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
    check_conv(x, W, kh, kw)
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
    step = images_per_chunk(B, Ho * Wo, K, x.itemsize, max_bytes, threads)
    rows = step * Ho * Wo
    dZ_all = dout.reshape(-1, C_out)

    def work(start, stop, index):
        own = part_workspace(workspace, index)
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
            weight_grad(P, dZ, n, dW_chunk, own)
            dW_own += dW_chunk
            if need_dx:
                # The chunk buffer takes dZ @ W.T (the patches are used up,
                # or kept elsewhere and left intact).
                np.matmul(dZ, W.T, out=cols[:r])
                col2im(cols[:r], kh, kw, pad, dx[s : s + n])
        return dW_own

    for part in run_parts(split(B, threads or 1, step), work)[1:]:
        dW += part
    return dW, db, dx
