"""Loss and gradients of one tied convolutional denoising autoencoder layer
(Masci et al. 2011)."""

import numpy as np

from skalltransfer._kernels._activations import ACTIVATIONS
from skalltransfer._kernels._losses import bernoulli_loss_grad
from skalltransfer._kernels._scratch import scratch as _scratch
from skalltransfer._kernels.conv._gemm import MAX_BYTES, images_per_chunk, weight_grad
from skalltransfer._kernels.conv._im2col import col2im, im2col
from skalltransfer._kernels.conv._layer import (
    CONV_DERIVATIVES,
    check_conv,
    conv_output_shape,
)


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
    check_conv(x_corrupt, W, kh, kw)
    B, H, Wd, C_in = x_clean.shape
    K, C_out = W.shape
    Ho, Wo = conv_output_shape(H, Wd, kh, kw, pad)
    if (Ho, Wo) != (H, Wd):
        raise ValueError("The autoencoder needs a padding that keeps the image size.")
    act, derivative = ACTIVATIONS[activation], CONV_DERIVATIVES[activation]
    dt = x_clean.dtype
    step = images_per_chunk(B, Ho * Wo, K, x_clean.itemsize, max_bytes)
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
        np.matmul(C, W, out=h)
        h += b
        act(h)
        np.matmul(h, W.T, out=D)
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
        weight_grad(D, h, n, dW_part, workspace)
        dW += dW_part
        np.matmul(D, W, out=dh)
        derivative(h, dh)
        db += dh.sum(axis=0)
        weight_grad(C, dh, n, dW_part, workspace)
        dW += dW_part
    return float(total), dW, db, dc
