"""Stochastic optimizers as plain classes, updating parameter arrays in place.

They mirror scikit-learn's ``sklearn/neural_network/_stochastic_optimizers``
contract (``update_params(params, grads)``, ``iteration_ends(epoch)``) but
update in place, so the arrays a caller holds stay the live parameters.
A ``None`` gradient leaves that parameter untouched (a frozen layer).

The element-wise updates avoid NumPy's temporaries: a momentum or Adam step
written as array expressions makes several passes over every parameter array
and allocates as many, and at small batch sizes those memory passes take a
sizeable share of an epoch (see :ref:`benchmarks`). SGD is one fused Numba
loop; Adam fuses its moment updates and leaves the square root and division
to NumPy's SIMD loops on a reused buffer.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def sgd_momentum_step(p, g, v, learning_rate, momentum):
    """In place, one pass: ``v = momentum * v - learning_rate * g; p += v``.

    ``p``, ``g`` and ``v`` are 1-D arrays of one dtype (flattened views of a
    parameter, its gradient and its velocity).
    """
    for i in range(p.shape[0]):
        step = momentum * v[i] - learning_rate * g[i]
        v[i] = step
        p[i] += step


@njit(cache=True)
def adam_moments(g, m, v, beta_1, beta_2):
    """In place, one pass: Adam's first and second moment updates."""
    c1 = 1 - beta_1
    c2 = 1 - beta_2
    for i in range(g.shape[0]):
        gi = g[i]
        m[i] = beta_1 * m[i] + c1 * gi
        v[i] = beta_2 * v[i] + c2 * gi * gi


def _flat(*arrays):
    """1-D views of same-dtype C-contiguous arrays, or None if any is not."""
    dtype = arrays[0].dtype
    if not all(a.flags.c_contiguous and a.dtype == dtype for a in arrays):
        return None
    return [a.reshape(-1) for a in arrays]


class SGDOptimizer:
    """Minibatch SGD with (optionally Nesterov) momentum.

    ``v <- momentum * v - lr * g``; ``p <- p + v``. ``momentum_schedule`` maps an
    epoch to a momentum value (pylearn2's ``MomentumAdjustor``), and
    ``decay_epochs``/``final_fraction`` decay the rate linearly to
    ``final_fraction * learning_rate_init`` (pylearn2's ``LinearDecayOverEpoch``).
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        momentum=0.9,
        nesterov=False,
        momentum_schedule=None,
        decay_epochs=None,
        final_fraction=1.0,
    ):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate_init
        self.momentum = momentum if momentum_schedule is None else momentum_schedule(0)
        self.nesterov = nesterov
        self.momentum_schedule = momentum_schedule
        self.decay_epochs = decay_epochs
        self.final_fraction = final_fraction
        self.velocities = [np.zeros_like(p) for p in params]

    def iteration_ends(self, epoch):
        """Update momentum and learning rate after ``epoch`` (0-based) ends."""
        if self.momentum_schedule is not None:
            self.momentum = self.momentum_schedule(epoch + 1)
        if self.decay_epochs:
            frac = min(1.0, (epoch + 1) / self.decay_epochs)
            scale = 1.0 - frac * (1.0 - self.final_fraction)
            self.learning_rate = self.learning_rate_init * scale

    def update_params(self, params, grads):
        lr, mu = self.learning_rate, self.momentum
        for p, g, v in zip(params, grads, self.velocities):
            if g is None:
                continue
            flat = None if self.nesterov else _flat(p, g, v)
            if flat is not None:
                kind = p.dtype.type
                sgd_momentum_step(*flat, kind(lr), kind(mu))
                continue
            v *= mu
            v -= lr * g
            if self.nesterov:
                p += mu * v - lr * g
            else:
                p += v


class AdamOptimizer:
    """Adam (Kingma & Ba 2015) with bias correction, in place."""

    def __init__(
        self, params, learning_rate_init=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]
        self._buffer = None

    def _scratch(self, size, dtype):
        """A reused 1-D work array of at least ``size`` elements."""
        if (
            self._buffer is None
            or self._buffer.size < size
            or self._buffer.dtype != dtype
        ):
            self._buffer = np.empty(size, dtype=dtype)
        return self._buffer[:size]

    def iteration_ends(self, epoch):
        """Adam keeps its rate across epochs."""

    def update_params(self, params, grads):
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        lr = self.learning_rate * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for p, g, m, v in zip(params, grads, self.ms, self.vs):
            if g is None:
                continue
            flat = _flat(p, g, m, v)
            if flat is not None:
                # Moments in one Numba pass; the square root and division in
                # NumPy's SIMD loops (Numba does not vectorise them) on a
                # reused buffer, so nothing is allocated.
                pf, gf, mf, vf = flat
                kind = p.dtype.type
                adam_moments(gf, mf, vf, kind(b1), kind(b2))
                step = self._scratch(pf.size, p.dtype)
                np.sqrt(vf, out=step)
                # Scalars of the array's dtype keep NumPy in its float32 loops.
                step += kind(self.epsilon)
                np.divide(mf, step, out=step)
                step *= kind(lr)
                pf -= step
                continue
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p -= lr * m / (np.sqrt(v) + self.epsilon)


def inplace_clip_column_norms(W, max_norm):
    """Rescale each column of ``W`` (a unit's incoming weights) to L2 norm
    at most ``max_norm`` (pylearn2's ``MaxL2FilterNorm(axis=0)``)."""
    norms = np.sqrt(np.einsum("ij,ij->j", W, W))
    scale = np.minimum(1.0, max_norm / np.maximum(norms, 1e-7))
    W *= scale.astype(W.dtype, copy=False)
    return W
