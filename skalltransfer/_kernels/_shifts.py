"""Images shifted by whole pixels, zeros entering at the border: the
augmentation of training and fine-tuning, and of active learning's patches."""

import numpy as np
from numba import njit

from skalltransfer._kernels._rng import next_float32


@njit(cache=True)
def shift_images(X, dy, dx, height, width, channels, out):
    """Write row ``i`` of ``X`` (a flattened ``(height, width, channels)``
    image, channels last) into ``out[i]``, shifted by ``dy[i]`` rows and
    ``dx[i]`` columns: ``out[y, x] = X[y - dy, x - dx]``, zero outside."""
    for i in range(X.shape[0]):
        for y in range(height):
            sy = y - dy[i]
            for x in range(width):
                sx = x - dx[i]
                o = (y * width + x) * channels
                if 0 <= sy < height and 0 <= sx < width:
                    s = (sy * width + sx) * channels
                    for c in range(channels):
                        out[i, o + c] = X[i, s + c]
                else:
                    for c in range(channels):
                        out[i, o + c] = 0.0


@njit(cache=True)
def _draw_shifts(n, max_shift, state, dy, dx):
    span = 2 * max_shift + 1
    for i in range(n):
        dy[i] = min(int(next_float32(state) * span), span - 1) - max_shift
        dx[i] = min(int(next_float32(state) * span), span - 1) - max_shift


def random_shifts(X, height, width, channels, max_shift, state, out):
    """Write each row of ``X`` into ``out`` shifted by random integers ``dy,
    dx`` in ``[-max_shift, max_shift]`` drawn from the generator ``state``
    (two draws per row, in row order)."""
    n = X.shape[0]
    dy = np.empty(n, dtype=np.int64)
    dx = np.empty(n, dtype=np.int64)
    _draw_shifts(n, max_shift, state, dy, dx)
    shift_images(X, dy, dx, height, width, channels, out)
    return out
