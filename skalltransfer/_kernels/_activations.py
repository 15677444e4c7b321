"""Numerically stable activations, in place, for float32 and float64 arrays.

Every function overwrites its argument and returns it, so hot loops can reuse
buffers. The sigmoid is computed as ``0.5 * tanh(0.5 * z) + 0.5``: it never
overflows and uses NumPy's SIMD ``tanh``.
"""

import numpy as np


def inplace_logistic(Z):
    """Logistic sigmoid of ``Z`` in place; stable for any finite input."""
    np.multiply(Z, 0.5, out=Z)
    np.tanh(Z, out=Z)
    np.multiply(Z, 0.5, out=Z)
    np.add(Z, 0.5, out=Z)
    return Z


def inplace_tanh(Z):
    """Hyperbolic tangent of ``Z`` in place."""
    return np.tanh(Z, out=Z)


def inplace_relu(Z):
    """Rectified linear unit of ``Z`` in place."""
    return np.maximum(Z, 0, out=Z)


def inplace_identity(Z):
    """Leave ``Z`` unchanged."""
    return Z


def inplace_softmax(Z):
    """Row-wise softmax of ``Z`` in place (max-shifted, so it never overflows)."""
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


def log_softmax(Z):
    """Row-wise log-softmax of ``Z`` as a new array (log-sum-exp shifted)."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


# Derivatives are written in terms of the activation's *output* A and multiply
# the incoming gradient ``delta`` in place, as scikit-learn's MLP does.
def inplace_logistic_derivative(A, delta):
    """Multiply ``delta`` by the logistic derivative ``A * (1 - A)``."""
    delta *= A
    delta *= 1 - A


def inplace_tanh_derivative(A, delta):
    """Multiply ``delta`` by the tanh derivative ``1 - A**2``."""
    delta *= 1 - A**2


def inplace_relu_derivative(A, delta):
    """Zero ``delta`` where the ReLU was inactive."""
    delta[A <= 0] = 0


def inplace_identity_derivative(A, delta):
    """Identity derivative: nothing to do."""


ACTIVATIONS = {
    "identity": inplace_identity,
    "logistic": inplace_logistic,
    "tanh": inplace_tanh,
    "relu": inplace_relu,
    "softmax": inplace_softmax,
}

DERIVATIVES = {
    "identity": inplace_identity_derivative,
    "logistic": inplace_logistic_derivative,
    "tanh": inplace_tanh_derivative,
    "relu": inplace_relu_derivative,
}
