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


def test_validation_scores_mean_the_same_for_every_estimator(digits):
    # One fit skeleton: with early stopping, every estimator scores the
    # held-out labels by their mean log-likelihood and keeps the best epoch.
    from sklearn.base import clone

    from skalltransfer import (
        AllTransferClassifier,
        MPDBMClassifier,
        StackedAutoencoderClassifier,
    )

    X, y = digits
    Xs, ys, Xt, yt = X[y < 6][:400], y[y < 6][:400], X[y >= 6], y[y >= 6]
    sae = StackedAutoencoderClassifier((16,), pretrain_max_iter=1, max_iter=4)
    dbm = MPDBMClassifier((16,), n_mean_field_iter=3, max_iter=4)
    early = dict(early_stopping=True, validation_fraction=0.25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = [clone(sae).set_params(**early).fit(Xs, ys)]
        fitted.append(clone(dbm).set_params(**early).fit(Xs, ys))
        source = clone(sae).set_params(random_state=0).fit(Xs, ys)
        fitted.append(AllTransferClassifier(source, max_iter=4, **early).fit(Xt, yt))
    for est in fitted:
        scores = np.asarray(est.validation_scores_)
        assert len(scores) == est.n_iter_
        assert np.all(scores <= 0)  # log-likelihoods, not accuracies
        assert est.best_validation_score_ == scores.max()
