"""Central finite differences shared by the gradient tests."""

import numpy as np


def numeric_grad(f, P, eps=1e-6):
    """d f() / d P by central differences, perturbing ``P`` in place (and
    restoring it) one element at a time."""
    num = np.zeros_like(P)
    for idx in np.ndindex(P.shape):
        old = P[idx]
        P[idx] = old + eps
        up = f()
        P[idx] = old - eps
        down = f()
        P[idx] = old
        num[idx] = (up - down) / (2 * eps)
    return num


def rel_err(a, b):
    """Largest absolute difference relative to the largest entry of ``b``."""
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
