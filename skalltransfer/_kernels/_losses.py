"""Fused loss-and-gradient reductions over logits.

Computing the loss from logits (softplus / log-sum-exp) keeps it finite for
saturated units; fusing it with the output gradient reads each array once.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def masked_bernoulli_loss_grad(Z, X, M, scale, grad):
    """Masked Bernoulli cross-entropy from logits, and its gradient.

    Returns ``scale * sum(M * (softplus(Z) - X * Z))`` and writes
    ``scale * M * (sigmoid(Z) - X)`` into ``grad``. ``M`` may be ``None``-like:
    pass an array of ones to use every entry.
    """
    n, d = Z.shape
    total = 0.0
    for i in range(n):
        for j in range(d):
            m = M[i, j]
            if m == 0.0:
                grad[i, j] = 0.0
                continue
            z = Z[i, j]
            e = np.exp(-abs(z))
            # softplus(z) = max(z, 0) + log1p(exp(-|z|)); sigmoid from the same e
            sp = max(z, 0.0) + np.log1p(e)
            total += m * (sp - X[i, j] * z)
            sig = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
            grad[i, j] = scale * m * (sig - X[i, j])
    return scale * total


def masked_bernoulli_loss_grad_numpy(Z, X, M, scale):
    """NumPy reference of :func:`masked_bernoulli_loss_grad` (for tests)."""
    sp = np.logaddexp(0.0, Z.astype(np.float64))
    loss = scale * np.sum(M * (sp - X * Z))
    sig = 0.5 * np.tanh(0.5 * Z.astype(np.float64)) + 0.5
    return loss, (scale * M * (sig - X)).astype(Z.dtype)


def softmax_cross_entropy_grad(Z, Y, weights, scale):
    """Weighted softmax cross-entropy from logits, and its gradient.

    ``Y`` is one-hot (or a probability row), ``weights`` has one entry per row.
    Returns ``scale * sum_i w_i * (-sum_k Y_ik log softmax(Z)_ik)`` and the
    gradient ``scale * w_i * (softmax(Z) - Y)`` as a new array.
    """
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_norm
    loss = -scale * float(np.sum(weights[:, None] * Y * log_p))
    grad = np.exp(log_p)
    grad -= Y
    grad *= (scale * weights)[:, None]
    return loss, grad.astype(Z.dtype, copy=False)


@njit(cache=True)
def bernoulli_loss_grad(Z, X, scale, grad):
    """Bernoulli cross-entropy from logits summed over all entries, and its
    gradient: returns ``scale * sum(softplus(Z) - X * Z)`` and writes
    ``scale * (sigmoid(Z) - X)`` into ``grad``."""
    n, d = Z.shape
    total = 0.0
    for i in range(n):
        for j in range(d):
            z = Z[i, j]
            e = np.exp(-abs(z))
            total += max(z, 0.0) + np.log1p(e) - X[i, j] * z
            sig = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
            grad[i, j] = scale * (sig - X[i, j])
    return scale * total
