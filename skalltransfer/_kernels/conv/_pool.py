"""Max-pooling (size and stride p) fused with the bias, and its backward pass."""

import numpy as np
from numba import njit

from skalltransfer._kernels._scratch import UINT as _U


# -- max-pooling -----------------------------------------------------------------------
@njit(cache=True)
def maxpool_bias(x, b, p, out, argmax):
    """``out = maxpool(x) + b`` and the window index of each maximum."""
    B, H, W, C = x.shape
    Hp, Wp = H // p, W // p
    xf = x.reshape(-1)
    of = out.reshape(-1)
    af = argmax.reshape(-1)
    o = 0
    for n in range(B):
        for i in range(Hp):
            for j in range(Wp):
                d = _U(o)
                o += C
                s = _U(((n * H + i * p) * W + j * p) * C)
                for c in range(_U(C)):
                    of[d + c] = xf[s + c]
                    af[d + c] = 0
                for u in range(p):
                    for v in range(p):
                        if u == 0 and v == 0:
                            continue
                        k = u * p + v
                        s = _U(((n * H + i * p + u) * W + j * p + v) * C)
                        for c in range(_U(C)):
                            val = xf[s + c]
                            # Strictly greater: the first maximum wins ties.
                            if val > of[d + c]:
                                of[d + c] = val
                                af[d + c] = k
                for c in range(_U(C)):
                    of[d + c] += b[c]


@njit(cache=True)
def maxpool_backward(dout, argmax, p, dx):
    """Adjoint of max-pooling: write ``dx`` (B, H, W, C), each entry of
    ``dout`` (B, H//p, W//p, C) at its window's maximum, zero elsewhere."""
    B, H, W, C = dx.shape
    Hp, Wp = dout.shape[1], dout.shape[2]
    xf = dx.reshape(-1)
    df = dout.reshape(-1)
    af = argmax.reshape(-1)
    o = 0
    for n in range(B):
        # Every window is written whole: no separate zeroing pass.
        for i in range(Hp):
            for j in range(Wp):
                d = _U(o)
                o += C
                for u in range(p):
                    for v in range(p):
                        k = u * p + v
                        s = _U(((n * H + i * p + u) * W + j * p + v) * C)
                        for c in range(_U(C)):
                            xf[s + c] = df[d + c] if af[d + c] == k else 0
        # Rows and columns cut off by the floor of H / p and W / p.
        for y in range(H):
            for xo in range(0 if y >= Hp * p else Wp * p, W):
                s = _U(((n * H + y) * W + xo) * C)
                for c in range(_U(C)):
                    xf[s + c] = 0


def argmax_dtype(p):
    """Smallest integer dtype holding a window index of p x p pooling."""
    return np.int8 if p * p <= 127 else np.int32
