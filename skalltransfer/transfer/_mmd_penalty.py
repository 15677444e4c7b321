"""The DAN fine-tuning penalty: MK-MMD between source and target hidden codes.

:func:`mmd_penalty` builds the ``penalty`` hook of a family's training
objective (:meth:`skalltransfer._core._families.Family.objective`). For every
target minibatch it draws a source minibatch of the same size, runs both
through the network being fine-tuned and adds
``mmd_lambda * sum_l MK-MMD²(H_s^l, H_t^l)`` over the chosen hidden layers,
with its gradient back-propagated through both branches (Long et al. 2015,
eq. 4). Only hidden layers can be adapted: the source and target label spaces
differ, so their outputs are not comparable. The network's family runs the
forward pass and back-propagates the codes' gradients, so the penalty works
for every family that can (``Family.hidden_penalty_unsupported`` is None).
"""

import numpy as np
from sklearn.utils import check_random_state

from skalltransfer._kernels._mmd import mk_mmd2


def check_mmd_layers(layers, n_layers):
    """Validated tuple of 1-based hidden-layer indices of an ``n_layers`` net."""
    layers = (layers,) if np.isscalar(layers) else tuple(layers)
    if not layers:
        raise ValueError(
            "mmd_layers must name at least one hidden layer (1-based), or be None "
            "for the top one."
        )
    n_hidden = n_layers - 1
    for layer in layers:
        if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool):
            raise TypeError(f"mmd_layers must hold integers, got {layer!r}.")
        if layer == n_layers:
            raise ValueError(
                f"Layer {layer} is the output layer. The MMD penalty only "
                "applies to hidden layers, because the source and target label "
                f"spaces differ; choose layers in [1, {n_hidden}]."
            )
        if not 1 <= layer <= n_hidden:
            raise ValueError(
                f"mmd_layers are 1-based hidden-layer indices in [1, {n_hidden}], "
                f"got {layer}."
            )
    return tuple(sorted({int(layer) for layer in layers}))


def mmd_penalty(
    stack,
    X_source,
    layers,
    mmd_lambda,
    *,
    estimator="linear",
    n_kernels=5,
    kernel_mul=2.0,
    bandwidth="mean",
    batch_size=None,
    rng=None,
):
    """DAN's MK-MMD penalty, the ``penalty`` hook of a family's ``objective``.

    Parameters
    ----------
    stack : LayerStack
        The network being fine-tuned; its live weights are read at every call.
    X_source : array-like of shape (n_source_samples, n_features)
        Source samples (cast once to the stack's dtype).
    layers : int or sequence of int
        1-based hidden-layer indices to adapt (``1 .. n_layers - 1``).
    mmd_lambda : float
        Weight of the penalty.
    estimator : {"linear", "quadratic"}, default="linear"
        Linear-time quad-tuple estimator (DAN's default; the random source
        draw makes the pairing random) or the quadratic U-statistic.
    n_kernels : int, default=5
    kernel_mul : float, default=2.0
        Gaussian kernel family of :mod:`skalltransfer._kernels._mmd`.
    bandwidth : {"mean", "median"} or float, default="mean"
        Base bandwidth from each pooled minibatch, or a fixed value. Batch
        bandwidths are constants in the gradient (DAN's stop-gradient).
    batch_size : int, default=None
        Source minibatch size; None matches the target minibatch.
    rng : int, RandomState instance or None, default=None
        Generator of the source minibatches. None draws them from the ``rng``
        the training loop passes at each call; an int or generator gives the
        penalty its own stream (a fixed int re-seeded for each new penalty
        reproduces the same source batches).

    Returns
    -------
    penalty : callable
        ``penalty(cache, batch, rng, coef_grads, intercept_grads) -> float``:
        ``cache`` holds the target minibatch's forward pass
        (``stack.family.forward_cache``); the gradient of the penalty is
        added in place to the non-None entries of ``coef_grads`` and
        ``intercept_grads``, and its value returned. Minibatches with fewer
        than 2 samples contribute nothing.
    """
    family = stack.family
    family.check_hidden_penalty()
    layers = check_mmd_layers(layers, stack.n_layers)
    if estimator not in ("linear", "quadratic"):
        raise ValueError(
            f"estimator must be 'linear' or 'quadratic', got {estimator!r}."
        )
    if not mmd_lambda >= 0:
        raise ValueError(f"mmd_lambda must be non-negative, got {mmd_lambda}.")
    X_source = np.asarray(X_source, dtype=stack.dtype)
    if X_source.ndim != 2 or X_source.shape[1] != stack.layer_sizes[0]:
        raise ValueError(
            f"X_source must have shape (n_samples, {stack.layer_sizes[0]}), "
            f"got {X_source.shape}."
        )
    own_rng = None if rng is None else check_random_state(rng)
    top = max(layers)

    def penalty(cache, batch, rng, coef_grads, intercept_grads):
        n_target = len(batch)
        size = batch_size or n_target
        if mmd_lambda == 0 or size < 2 or n_target < 2:
            return 0.0
        gen = own_rng if own_rng is not None else check_random_state(rng)
        n_source = X_source.shape[0]
        idx = gen.choice(n_source, size=size, replace=size > n_source)
        cache_s = family.forward_cache(stack, X_source[idx], top)
        value = 0.0
        grads_s, grads_t = {}, {}
        for layer in layers:
            v, gs, gt = mk_mmd2(
                family.cache_hidden(cache_s, layer),
                family.cache_hidden(cache, layer),
                estimator=estimator,
                n_kernels=n_kernels,
                kernel_mul=kernel_mul,
                bandwidth=bandwidth,
                return_grad=True,
            )
            value += float(v)
            grads_s[layer] = (mmd_lambda * gs).astype(stack.dtype, copy=False)
            grads_t[layer] = (mmd_lambda * gt).astype(stack.dtype, copy=False)
        for branch, grads in ((cache_s, grads_s), (cache, grads_t)):
            family.backward_hidden(stack, branch, grads, coef_grads, intercept_grads)
        return mmd_lambda * value

    return penalty
