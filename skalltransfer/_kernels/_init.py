"""Fresh weights for new layers."""

import numpy as np


def init_weights(fan_in, fan_out, rng, dtype, scheme="glorot", sparse_init=15):
    """Fresh weights of shape (fan_in, fan_out).

    ``"glorot"`` draws U(+-sqrt(6 / (fan_in + fan_out))) scaled by 4 for sigmoid
    units (Glorot & Bengio 2010, as in the Deep Learning Tutorials);
    ``"sparse"`` gives each unit ``sparse_init`` non-zero N(0, 1) incoming
    weights (Martens 2010; pylearn2's ``sparse_init``) at scale 1; ``"he"``
    draws U(+-sqrt(6 / fan_in)), the variance-preserving scale for ReLU units
    (He et al. 2015). A convolution's ``fan_in`` is ``kh * kw * C_in``.
    """
    if scheme == "sparse":
        W = np.zeros((fan_in, fan_out), dtype=dtype)
        k = min(sparse_init, fan_in)
        for j in range(fan_out):
            rows = rng.choice(fan_in, size=k, replace=False)
            W[rows, j] = rng.standard_normal(k)
        return W
    if scheme == "he":
        bound = np.sqrt(6.0 / fan_in)
        return rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype)
    if scheme != "glorot":
        raise ValueError(f"scheme must be 'glorot', 'he' or 'sparse', got {scheme!r}.")
    bound = 4.0 * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype)
