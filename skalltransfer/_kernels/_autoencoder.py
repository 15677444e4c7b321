"""Denoising autoencoder layer with tied weights: loss and gradient.

Encoder ``h = sigmoid(x_tilde W + b)``, decoder logits ``z = h W^T + c``; the
loss is the Bernoulli cross-entropy between the clean ``x`` and
``sigmoid(z)``, summed over features and averaged over the batch (Vincent et
al. 2010). The gradient of the tied ``W`` is the decoder part plus the encoder
part.
"""

import numpy as np

from skalltransfer._kernels._activations import inplace_logistic
from skalltransfer._kernels._losses import bernoulli_loss_grad


def encode(X, W, b):
    """Hidden code ``sigmoid(X W + b)`` as a new array."""
    H = X @ W
    H += b
    return inplace_logistic(H)


def dae_loss_grad(W, b, c, X_clean, X_corrupt):
    """Loss and gradients ``(loss, dW, db, dc)`` of one denoising AE minibatch."""
    B = X_clean.shape[0]
    H = encode(X_corrupt, W, b)
    Z = H @ W.T
    Z += c
    dZ = np.empty_like(Z)
    loss = bernoulli_loss_grad(Z, X_clean, 1.0 / B, dZ)
    dH = dZ @ W
    dH *= H
    dH *= 1 - H
    dW = dZ.T @ H
    dW += X_corrupt.T @ dH
    return loss, dW, dH.sum(axis=0), dZ.sum(axis=0)
