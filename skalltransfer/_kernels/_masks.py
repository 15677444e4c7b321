"""Fused sampling kernels: dynamic binarization, multi-prediction masks and
masking noise, drawn with the explicit-state PRNG of ``_rng``.

These are the places where Numba beats NumPy: one pass writes every output,
with no temporaries for the uniform draws.
"""

from numba import njit

from skalltransfer._kernels._rng import next_float32


@njit(cache=True)
def sample_multiprediction_batch(
    X, binarize, drop_prob, label_drop_prob, visible_init, state, Xb, Mv, My, V0
):
    """Draw one multi-prediction minibatch in place.

    Parameters
    ----------
    X : ndarray of shape (B, D), values in [0, 1]
    binarize : bool
        Replace ``X`` by Bernoulli(X) samples (dynamic binarization).
    drop_prob, label_drop_prob : float
        Probability that a pixel, or an example's label, is a prediction target.
    visible_init : ndarray of shape (D,)
        Initial state of dropped pixels, ``sigmoid(b_v)``.
    state : ndarray of shape (1,), uint64
        Kernel RNG state, advanced in place.
    Xb, Mv : ndarray of shape (B, D)
        Outputs: the (binarized) data and the pixel mask (1 = target).
    My : ndarray of shape (B,)
        Output: the label mask (1 = target).
    V0 : ndarray of shape (B, D)
        Output: the initial visible state ``Mv * visible_init + (1 - Mv) * Xb``.
    """
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            x = X[i, j]
            if binarize:
                x = 1.0 if next_float32(state) < x else 0.0
            Xb[i, j] = x
            if next_float32(state) < drop_prob:
                Mv[i, j] = 1.0
                V0[i, j] = visible_init[j]
            else:
                Mv[i, j] = 0.0
                V0[i, j] = x
        My[i] = 1.0 if next_float32(state) < label_drop_prob else 0.0


@njit(cache=True)
def masking_noise(X, corruption, binarize, state, Xb, Xc):
    """Draw a denoising-autoencoder minibatch in place.

    ``Xb`` receives the (optionally binarized) clean input and ``Xc`` the
    corrupted copy, where each entry is zeroed with probability ``corruption``.
    """
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            x = X[i, j]
            if binarize:
                x = 1.0 if next_float32(state) < x else 0.0
            Xb[i, j] = x
            Xc[i, j] = 0.0 if next_float32(state) < corruption else x
