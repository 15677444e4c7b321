"""The shared minibatch training loop: stopping rules."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skalltransfer._core._training import make_optimizer, run_training


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
    dbm = MPDBMClassifier(
        (16,), n_mean_field_iter=3, max_iter=4, discriminative_max_iter=0
    )
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


def test_training_progress_reports_every_epoch_of_a_fit_in_its_block(digits):
    import threading

    from skalltransfer import StackedAutoencoderClassifier
    from skalltransfer._core._training import training_progress

    X, y = digits
    calls = []

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            StackedAutoencoderClassifier(
                (8, 6), pretrain_max_iter=2, max_iter=3, random_state=0
            ).fit(X[:200], y[:200])

    with training_progress(lambda epoch, loss: calls.append((epoch, loss))):
        fit()
        # A fit in another thread (as under joblib's threading backend) does
        # not report into this block: the callback is context-local.
        thread = threading.Thread(target=fit)
        thread.start()
        thread.join()
    # Pretraining 2 epochs per hidden layer, then 3 fine-tuning epochs.
    assert [epoch for epoch, _ in calls] == [0, 1, 0, 1, 0, 1, 2]
    assert all(np.isfinite(loss) for _, loss in calls)
    fit()  # outside the block: no callback
    assert len(calls) == 7


def test_verbose_prints_one_line_per_epoch_and_nothing_by_default(digits, capsys):
    from skalltransfer import AllTransferClassifier, StackedAutoencoderClassifier

    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source = StackedAutoencoderClassifier(
            (8,), pretrain_max_iter=2, max_iter=3, random_state=0
        ).fit(X[y < 6], y[y < 6])
        AllTransferClassifier(source, max_iter=2, random_state=0).fit(
            X[y >= 6], y[y >= 6]
        )
        assert capsys.readouterr().out == ""
        source.set_params(verbose=1).fit(X[y < 6], y[y < 6])
        lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert all(" epoch " in line and "loss = " in line for line in lines)
