"""The minibatch training loop shared by every model in the package.

One loop serves source training (MP-DBM, autoencoder pretraining and
fine-tuning) and every transfer method: it only sees a list of parameter
arrays and a function returning the loss and gradients of a minibatch.
"""

import contextlib
import contextvars
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches

from skalltransfer._kernels._optimizers import (
    AdamOptimizer,
    SGDOptimizer,
    inplace_clip_column_norms,
)
from skalltransfer._kernels._rng import new_state
from skalltransfer._kernels._shifts import random_shifts


def make_optimizer(params, solver, learning_rate_init, momentum=0.9, **kwargs):
    """Build the optimizer named by ``solver`` (``"sgd"`` or ``"adam"``)."""
    if solver == "adam":
        return AdamOptimizer(params, learning_rate_init=learning_rate_init)

    return SGDOptimizer(
        params, learning_rate_init=learning_rate_init, momentum=momentum, **kwargs
    )


def shuffled_batches(n, batch_size, rng, shuffle=True):
    """Yield index arrays covering ``range(n)`` in minibatches, in a fresh
    random order when ``shuffle``.

    A final batch smaller than half a batch is merged into the previous one
    (``min_batch_size`` of ``sklearn.utils.gen_batches``), so a handful of
    leftover examples never gets a full-size update.
    """
    order = rng.permutation(n) if shuffle else np.arange(n)
    for rows in gen_batches(n, batch_size, min_batch_size=batch_size // 2):
        yield order[rows]


class TargetRows:
    """The training targets ``table[codes]``, built one minibatch at a time:
    training never holds the (n_samples, n_outputs) target matrix."""

    def __init__(self, table, codes):
        self.table = table
        self.codes = codes

    def __getitem__(self, rows):
        return self.table[self.codes[rows]]


def column_norm_constraint(stack, max_col_norm):
    """A callable that clips each weight column of ``stack`` after an update.

    ``max_col_norm`` is None (no constraint), a float for every layer, or one
    value per weight layer (``None`` entries leave a layer free).
    """
    if max_col_norm is None:
        return None
    limits = (
        [max_col_norm] * stack.n_layers
        if np.isscalar(max_col_norm)
        else list(max_col_norm)
    )
    if len(limits) != stack.n_layers:
        raise ValueError(
            f"max_col_norm has {len(limits)} values but the network has "
            f"{stack.n_layers} weight layers (the hidden layers plus the output "
            "layer); pass one value per layer, a single float, or None."
        )

    def clip():
        for W, limit in zip(stack.coefs, limits):
            if limit is not None:
                inplace_clip_column_norms(W, limit)

    return clip


# The progress callback of the training loops run in this context, for callers
# that do not call run_training themselves (the command line's progress bar
# around a source fit). A ContextVar, not a module global: it is local to the
# thread (and asyncio task) that set it, so parallel fits in other threads
# never report into it, and worker processes start without one.
_PROGRESS = contextvars.ContextVar("skalltransfer_training_progress", default=None)


@contextlib.contextmanager
def training_progress(callback):
    """Within the block, every :func:`run_training` that is not given a
    ``progress`` callback of its own calls ``callback(epoch, loss)`` after
    each epoch (None: no callback)."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _non_finite_loss(name, loss, epoch, n_updates, optimizer):
    """The message of a loss that is not finite: before any update the cause
    is the starting point (inputs, weights, scales), not the step size."""
    if n_updates == 0:
        return (
            f"{name}: the loss is {loss} before the first update, so the "
            "starting point is the cause, not the step size: check that the "
            "inputs, the class weights and the starting weights (for a "
            "transfer, output_scale) are finite and of a sensible scale."
        )
    hint = " (or use solver='adam')" if isinstance(optimizer, SGDOptimizer) else ""
    return (
        f"{name}: the loss became {loss} at epoch {epoch + 1}, after "
        f"{n_updates} updates: the steps diverged. Lower learning_rate_init"
        f"{hint}."
    )


def run_training(
    params,
    loss_grad,
    n_samples,
    *,
    optimizer,
    max_iter,
    batch_size,
    rng,
    tol=1e-4,
    n_iter_no_change=10,
    validation_score=None,
    after_update=None,
    shuffle=True,
    verbose=0,
    name="training",
    progress=None,
    loss_window=1,
):
    """Run minibatch epochs until convergence, early stopping or ``max_iter``.

    Parameters
    ----------
    params : list of ndarray
        Live parameter arrays, updated in place.
    loss_grad : callable
        ``loss_grad(batch_indices, rng) -> (loss, grads)`` with ``grads``
        aligned with ``params`` (``None`` entries are left unchanged).
    n_samples : int
    optimizer : SGDOptimizer or AdamOptimizer
    max_iter : int
        Maximum number of epochs.
    batch_size : int
    rng : numpy.random.RandomState
    tol, n_iter_no_change : float, int
        Stop when the monitored quantity has not improved by ``tol`` for
        ``n_iter_no_change`` consecutive epochs; ``n_iter_no_change=None``
        runs exactly ``max_iter`` epochs (a fixed budget). The monitored
        quantity is the validation score when ``validation_score`` is given
        (higher is better, and the best parameters are restored at the end),
        the training loss otherwise. A ``ConvergenceWarning`` says that early
        stopping (a ``validation_score``) ran out of epochs before it
        stopped; a training loss still falling at ``max_iter`` is the plan.
    validation_score : callable, default=None
        ``validation_score() -> float`` evaluated after each epoch.
    after_update : callable, default=None
        Called after every parameter update (weight-norm constraints).
    verbose : int
        Print one line per epoch when > 0.
    name : str
        Label used in messages.
    progress : callable, default=None
        ``progress(epoch, loss)`` called after each epoch (progress bars).
        None uses the callback of the enclosing :func:`training_progress`
        block, if any.
    loss_window : int, default=1
        Without ``validation_score``, the monitored training loss is the mean
        of the last ``loss_window`` epoch losses. A stochastic objective (the
        multi-prediction loss draws fresh masks every minibatch) on a tiny
        data set has one noisy minibatch per epoch, and a single lucky epoch
        would otherwise end training after a few dozen updates.

    Returns
    -------
    result : dict
        ``n_iter``, ``loss_curve``, ``validation_scores``, ``best_score``,
        ``converged``.
    """
    if progress is None:
        progress = _PROGRESS.get()
    loss_curve = []
    validation_scores = []
    best_loss = np.inf
    best_score = -np.inf
    best_params = None
    no_improvement = 0
    converged = False
    epoch = -1
    n_updates = 0
    for epoch in range(max_iter):
        start = time.perf_counter()
        total, seen = 0.0, 0
        for batch in shuffled_batches(n_samples, batch_size, rng, shuffle=shuffle):
            loss, grads = loss_grad(batch, rng)
            if not np.isfinite(loss):
                raise FloatingPointError(
                    _non_finite_loss(name, loss, epoch, n_updates, optimizer)
                )
            optimizer.update_params(params, grads)
            n_updates += 1
            if after_update is not None:
                after_update()
            total += loss * len(batch)
            seen += len(batch)
        epoch_loss = total / seen
        loss_curve.append(epoch_loss)
        optimizer.iteration_ends(epoch)

        if validation_score is not None:
            score = float(validation_score())
            validation_scores.append(score)
            if score > best_score + tol:
                no_improvement = 0
            else:
                no_improvement += 1
            if score > best_score:
                best_score = score
                best_params = [p.copy() for p in params]
        else:
            monitored = float(np.mean(loss_curve[-loss_window:]))
            if monitored < best_loss - tol:
                no_improvement = 0
            else:
                no_improvement += 1
            best_loss = min(best_loss, monitored)

        if verbose:
            msg = f"{name}: epoch {epoch + 1}, loss = {epoch_loss:.6f}"
            if validation_score is not None:
                msg += f", validation score = {validation_scores[-1]:.4f}"
            msg += f", {time.perf_counter() - start:.2f} s"
            print(msg)
        if progress is not None:
            progress(epoch, epoch_loss)
        if n_iter_no_change is not None and no_improvement >= n_iter_no_change:
            converged = True
            if verbose:
                what = "validation score" if validation_score else "training loss"
                print(
                    f"{name}: {what} did not improve more than tol={tol} for "
                    f"{n_iter_no_change} consecutive epochs. Stopping."
                )
            break

    if best_params is not None:
        for p, best in zip(params, best_params):
            p[...] = best
    # Only early stopping is a promise to stop before max_iter; a budget of
    # epochs that runs out is the plan, not a failure.
    if (
        not converged
        and max_iter > 0
        and n_iter_no_change is not None
        and validation_score is not None
    ):
        warnings.warn(
            f"{name}: maximum iterations ({max_iter}) reached before early "
            f"stopping: the validation score was still improving by more than "
            f"tol={tol} within {n_iter_no_change} epochs. Raise max_iter if "
            "that matters.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return {
        "n_iter": epoch + 1,
        "loss_curve": loss_curve,
        "validation_scores": validation_scores,
        "best_score": best_score if validation_score is not None else None,
        "converged": converged,
    }


class ShiftedRows:
    """Rows of ``X`` read as images and shifted by random integers in
    ``[-max_shift, max_shift]`` (zeros enter at the border) each time they
    are read: the augmentation of a training loop that indexes ``X[batch]``."""

    def __init__(self, X, image_shape, max_shift, rng):
        self.X = X
        self.image_shape = image_shape
        self.max_shift = max_shift
        self.state = new_state(rng)
        self.shape = X.shape
        self.dtype = X.dtype

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, rows):
        batch = np.ascontiguousarray(self.X[rows])
        out = np.empty_like(batch)
        random_shifts(batch, *self.image_shape, self.max_shift, self.state, out)
        return out


def shifted_training_rows(X, network, max_shift, rng):
    """``X``, or :class:`ShiftedRows` over it with the images of ``network``'s
    input when ``max_shift`` (an estimator's ``shift_augmentation``) is > 0;
    a ValueError when its rows are not images."""
    if not max_shift:
        return X
    image_shape = network.family.image_shape(network)
    if image_shape is None:
        raise ValueError(
            f"shift_augmentation={max_shift} shifts images, but the source's "
            f"{X.shape[1]} inputs are not a square image and it has no image "
            "shape of its own; use shift_augmentation=0."
        )
    return ShiftedRows(X, image_shape, int(max_shift), rng)
