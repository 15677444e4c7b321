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
