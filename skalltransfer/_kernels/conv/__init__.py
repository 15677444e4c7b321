"""Convolutional layers in NHWC layout, a conv-stack network and the tied
convolutional denoising autoencoder (Masci et al. 2011).

Images are C-contiguous ``(B, H, W, C)`` arrays. A conv layer's weights are a
GEMM matrix ``W`` of shape ``(kh * kw * C_in, C_out)`` whose rows are ordered
``(dy, dx, c_in)``, its bias ``b`` has shape ``(C_out,)``; stride 1, zero
padding ``pad`` (``pad = k // 2`` keeps the size for odd ``k``). A convolution
is ``im2col`` then one matrix product, done for a chunk of images at a time so
that the ``im2col`` buffer never exceeds ``max_bytes`` whatever the batch size.

Max-pooling (size and stride ``p``, floor of the spatial size) is fused with
the convolution and applied to the *pre-activation*: every hidden activation
here is non-decreasing, so ``pool(act(z)) == act(pool(z))``, and pooling first
runs the activation on a map ``p * p`` times smaller and never stores the
un-pooled map. Within a window the first maximum in row-major order wins. The
gradients are those of activation-then-pooling, except where a saturated
activation rounds distinct maxima to a tie; its derivative is (nearly) zero
there.

A layer with a 5 x 5 kernel, padding 2, 2 x 2 pooling and enough input maps
(the default conv source's second layer) runs as Winograd F(2x2, 5x5)
instead (:mod:`._winograd`: 2.8 times fewer FLOPs in its products);
:func:`conv_algorithm` says which layers do.

Every function keeps the dtype of its inputs (float32 in, float32 out).
"""
