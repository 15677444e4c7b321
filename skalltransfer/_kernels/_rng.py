"""A small counter-free PRNG for Numba kernels, with explicit state.

Numba's ``np.random`` has one hidden generator per thread, independent of
NumPy's; seeding it would be global state. Kernels here instead take a
``uint64`` state array drawn from the estimator's ``random_state`` and advance
it in place (xorshift64*, Vigna 2016), so results depend only on
``random_state``.
"""

import numpy as np
from numba import njit

_MULT = np.uint64(0x2545F4914F6CDD1D)
_INV_2_24 = np.float32(1.0 / (1 << 24))


def new_state(rng):
    """Draw a fresh non-zero kernel RNG state from a ``numpy.random.Generator``
    or ``RandomState``."""
    high = np.iinfo(np.int64).max
    draw = rng.integers if hasattr(rng, "integers") else rng.randint
    return np.array([draw(1, high, dtype=np.int64)], dtype=np.uint64)


@njit(cache=True, inline="always")
def next_uint64(state):
    """Advance ``state`` (shape (1,), uint64) and return the next 64-bit draw."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * _MULT


@njit(cache=True, inline="always")
def next_float32(state):
    """Uniform float32 draw in [0, 1) with 24 random bits."""
    return np.float32(next_uint64(state) >> np.uint64(40)) * _INV_2_24
