"""The shared minibatch training loop: stopping rules."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skalltransfer._training import make_optimizer, run_training


def noisy_decreasing_loss(seed=0):
    """A one-parameter problem whose epoch loss falls slowly under noise, as
    the multi-prediction loss does on a tiny data set (one minibatch per
    epoch, fresh masks every minibatch)."""
    rng = np.random.RandomState(seed)
    calls = []

    def loss_grad(batch, _):
        calls.append(1)
        trend = 1.0 - 0.01 * len(calls)
        return trend + 0.05 * rng.standard_normal(), [np.zeros(1)]

    return loss_grad


def train(loss_window):
    params = [np.zeros(1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = run_training(
            params,
            noisy_decreasing_loss(),
            n_samples=20,
            optimizer=make_optimizer(params, "sgd", 0.1),
            max_iter=80,
            batch_size=32,
            rng=np.random.RandomState(0),
            tol=1e-4,
            n_iter_no_change=10,
            loss_window=loss_window,
        )
    return result["n_iter"]


def test_loss_window_keeps_a_noisy_but_improving_objective_training():
    # One lucky epoch ends training when single epochs are compared ...
    assert train(loss_window=1) < 60
    # ... while the mean of ten epochs keeps improving to the end.
    assert train(loss_window=10) == 80
