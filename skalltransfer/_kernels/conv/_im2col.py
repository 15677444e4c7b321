"""im2col and its adjoint col2im for NHWC images (stride 1, zero padding)."""

import numpy as np
from numba import njit

from skalltransfer._kernels._scratch import UINT as _U


@njit(cache=True)
def im2col(x, kh, kw, pad, out):
    """Patches of ``x`` (B, H, W, C) as the rows of ``out`` (B*Ho*Wo, kh*kw*C),
    rows ordered (b, y, x), columns (dy, dx, c); zero outside the image."""
    B, H, W, C = x.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    # In a zero-padded copy every kernel row of a patch is one full contiguous
    # run: no clipping tests (faster for few channels, as fast for many).
    xp = np.zeros((B, Hp, Wp, C), dtype=x.dtype)
    xf = x.reshape(-1)
    pf = xp.reshape(-1)
    for b in range(B):
        for y in range(H):
            d = _U(((b * Hp + y + pad) * Wp + pad) * C)
            s = _U((b * H + y) * W * C)
            for j in range(_U(W * C)):
                pf[d + j] = xf[s + j]
    of = out.reshape(-1)
    run = _U(kw * C)
    o = _U(0)
    for b in range(B):
        for y in range(Ho):
            for xo in range(Wo):
                for dy in range(kh):
                    s = _U(((b * Hp + y + dy) * Wp + xo) * C)
                    for j in range(run):
                        of[o + j] = pf[s + j]
                    o += run


@njit(cache=True)
def col2im(cols, kh, kw, pad, out):
    """Adjoint of :func:`im2col`: write into ``out`` (B, H, W, C) the sum of
    the entries of ``cols`` (B*Ho*Wo, kh*kw*C) read from each pixel."""
    B, H, W, C = out.shape
    Hp, Wp = H + 2 * pad, W + 2 * pad
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    # Accumulate into a zero-padded image (full runs, as in im2col), then
    # drop the padding.
    xp = np.zeros((B, Hp, Wp, C), dtype=out.dtype)
    pf = xp.reshape(-1)
    cf = cols.reshape(-1)
    run = _U(kw * C)
    o = _U(0)
    for b in range(B):
        for y in range(Ho):
            for xo in range(Wo):
                for dy in range(kh):
                    d = _U(((b * Hp + y + dy) * Wp + xo) * C)
                    for j in range(run):
                        pf[d + j] += cf[o + j]
                    o += run
    of = out.reshape(-1)
    for b in range(B):
        for y in range(H):
            s = _U(((b * Hp + y + pad) * Wp + pad) * C)
            d = _U((b * H + y) * W * C)
            for j in range(_U(W * C)):
                of[d + j] = pf[s + j]
