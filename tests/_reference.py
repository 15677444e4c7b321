"""Plain reference implementations the kernel tests compare against; the
package itself does not need them."""

import numpy as np

from skalltransfer._kernels._activations import inplace_logistic, inplace_softmax
from skalltransfer._kernels._mmd import (
    _check_weights,
    _kernel_sums,
    _removed_mmd2,
    mmd2_linear_grad,
    mmd2_quadratic_grad,
)
from skalltransfer._kernels.conv._gemm import MAX_BYTES, images_per_chunk
from skalltransfer._kernels.conv._im2col import col2im
from skalltransfer._kernels.conv._pool import maxpool_bias


def softplus(Z):
    """``log(1 + exp(Z))`` as a new array, without overflow for large ``|Z|``."""
    return np.logaddexp(np.zeros((), dtype=Z.dtype), Z)


def logistic(Z):
    """Logistic sigmoid of ``Z`` as a new array."""
    return inplace_logistic(np.array(Z, copy=True))


def softmax(Z):
    """Row-wise softmax of ``Z`` as a new array."""
    return inplace_softmax(np.array(Z, copy=True))


def maxpool_forward(x, p, out, argmax):
    """Max-pool ``x`` (B, H, W, C) over p x p windows (stride p, floor of H and
    W) into ``out`` (B, H//p, W//p, C); ``argmax`` (same shape, int) receives
    each maximum's row-major index in its window. The first maximum wins ties."""
    maxpool_bias(x, np.zeros(x.shape[3], dtype=x.dtype), p, out, argmax)
    return out


def conv_transpose(h, W, kh, kw, pad, out, max_bytes=MAX_BYTES):
    """Adjoint of the convolution: ``out = col2im(h @ W.T)``, the "full"
    correlation of ``h`` (B, Ho, Wo, C_out) with the spatially flipped kernels,
    into ``out`` (B, H, W, C_in) ("same" padding: the input shape)."""
    B, Ho, Wo, C_out = h.shape
    K = W.shape[0]
    step = images_per_chunk(B, Ho * Wo, K, h.itemsize, max_bytes)
    cols = np.empty((step * Ho * Wo, K), dtype=h.dtype)
    h2 = h.reshape(-1, C_out)
    for s in range(0, B, step):
        n = min(step, B - s)
        r = n * Ho * Wo
        np.matmul(h2[s * Ho * Wo : s * Ho * Wo + r], W.T, out=cols[:r])
        col2im(cols[:r], kh, kw, pad, out[s : s + n])
    return out


def mmd2_quadratic(Hs, Ht, gammas, beta=None):
    """Unbiased MK-MMD² U-statistic over all pairs (value only)."""
    return mmd2_quadratic_grad(Hs, Ht, gammas, beta, grad=False)[0]


def mmd2_linear(Hs, Ht, gammas, beta=None):
    """DAN's linear-time MK-MMD² over quad-tuples in row order (value only)."""
    return mmd2_linear_grad(Hs, Ht, gammas, beta, grad=False)[0]


def mmd2_leave_one_out(Hs, Ht, gammas, beta=None, chunk_size=512):
    """Biased MK-MMD² of (S, T) and of (S, T without t_i) for every i, in
    closed form, as ``(mmd2, loo)`` in float64."""
    Hs = np.asarray(Hs, dtype=np.float64)
    Ht = np.asarray(Ht, dtype=np.float64)
    m, n = Hs.shape[0], Ht.shape[0]
    C, a, b = _kernel_sums(Hs, Ht, gammas, beta, chunk_size)
    A, B = float(a.sum()), float(b.sum())
    k_diag = np.full(n, float(np.sum(_check_weights(gammas, beta)[1])))
    full = C / m**2 + A / n**2 - 2.0 * B / (m * n)
    return full, _removed_mmd2(C, A, B, a, b, k_diag, m, n)
