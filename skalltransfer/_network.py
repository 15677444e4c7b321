"""How a :class:`LayerStack` computes: outputs, hidden codes and training
objectives, for both families (feed-forward nets and deep Boltzmann machines).

Source models and transfer methods alike train through the objectives here,
so an MP-DBM source is fine-tuned with its own multi-prediction objective and
a feed-forward source with back-propagation.
"""

import numpy as np

from ._kernels._feedforward import backward_pass, forward_pass, output_loss_grad
from ._kernels._masks import sample_multiprediction_batch
from ._kernels._mean_field import mean_field_labels, mp_loss_grad
from ._kernels._optimizers import inplace_clip_column_norms
from ._kernels._rng import new_state

# Defaults of a DBM stack's config (pylearn2's MNIST demo, Goodfellow 2013).
MPDBM_DEFAULTS = {
    "n_mean_field_iter": 14,
    "drop_prob": 0.5,
    "label_drop_prob": 0.5,
    "label_weight": 1.0,
    "binarize": True,
    "multi_inference": False,
}


def _mpdbm_setting(stack, name, override=None):
    if override is not None:
        return override
    return stack.config.get(name, MPDBM_DEFAULTS[name])


# -- inference -----------------------------------------------------------------
def output_proba(stack, X, multi_inference=None):
    """Output-layer probabilities (softmax or per-unit logistic) for ``X``."""
    if stack.family == "mpdbm":
        proba, _ = mean_field_labels(
            stack.coefs,
            stack.intercepts,
            stack.visible_intercept,
            X,
            _mpdbm_setting(stack, "n_mean_field_iter"),
            multi_inference=_mpdbm_setting(stack, "multi_inference", multi_inference),
        )
        return proba
    acts = forward_pass(
        stack.coefs,
        stack.intercepts,
        X,
        stack.hidden_activation,
        stack.output_activation,
    )
    return acts[-2]


def hidden_representation(stack, X, layer=None):
    """Activations of hidden layer ``layer`` (1-based; default the top one).

    For a DBM these are the mean-field marginals with the label layer free.
    """
    n_hidden = stack.n_layers - 1
    layer = n_hidden if layer is None else layer
    if not 1 <= layer <= max(n_hidden, 1):
        raise ValueError(f"layer must be in [1, {n_hidden}], got {layer}.")
    if n_hidden == 0:
        raise ValueError("This stack has no hidden layer.")
    if stack.family == "mpdbm":
        _, hidden = mean_field_labels(
            stack.coefs,
            stack.intercepts,
            stack.visible_intercept,
            X,
            _mpdbm_setting(stack, "n_mean_field_iter"),
            multi_inference=_mpdbm_setting(stack, "multi_inference"),
        )
        return hidden[layer - 1]
    acts = forward_pass(
        stack.coefs,
        stack.intercepts,
        X,
        stack.hidden_activation,
        stack.output_activation,
        n_layers=layer,
    )
    return acts[layer]


# -- objectives ----------------------------------------------------------------
def _add_weight_penalty(stack, grads, l2, anchor, scale):
    """Add ``l2 * ||W||^2 / 2`` (or ``l2 * ||W - W_anchor||^2 / 2``, the
    L2-SP penalty toward the source weights) to the weight gradients and
    return the penalty value. ``anchor[k]`` is None for layers without one."""
    if not l2:
        return 0.0
    value = 0.0
    for k, W in enumerate(stack.coefs):
        g = grads[k]
        if g is None:
            continue
        ref = None if anchor is None else anchor[k]
        diff = W if ref is None else W - ref
        value += 0.5 * l2 * float(np.vdot(diff, diff)) * scale
        g += (l2 * scale) * diff
    return value


def feedforward_objective(
    stack,
    X,
    targets,
    *,
    loss="log_loss",
    sample_weight=None,
    frozen_layers=0,
    l2=0.0,
    anchor=None,
    extra_penalty=None,
):
    """Minibatch loss and gradients of a feed-forward stack.

    ``targets[batch]`` gives the output targets of a minibatch (an array, or
    any object indexable by row indices). Returns ``(params, loss_grad)``: the
    live arrays to optimise and a function ``loss_grad(batch, rng) -> (loss,
    grads)`` aligned with them. Layers below
    ``frozen_layers`` get ``None`` gradients (they stay fixed).
    ``extra_penalty(activations, batch, rng, coef_grads, intercept_grads)``
    may add a penalty (e.g. MMD) and return its value.
    """
    n_samples = X.shape[0]
    weights = (
        np.ones(n_samples, dtype=X.dtype)
        if sample_weight is None
        else np.asarray(sample_weight, dtype=X.dtype)
    )
    params = [*stack.coefs, *stack.intercepts]
    n = stack.n_layers

    def loss_grad(batch, rng):
        Xb = X[batch]
        acts = forward_pass(
            stack.coefs,
            stack.intercepts,
            Xb,
            stack.hidden_activation,
            stack.output_activation,
        )
        w = weights[batch]
        value, out_grad = output_loss_grad(
            acts, targets[batch], loss, stack.output_activation, w
        )
        coef_grads, intercept_grads = backward_pass(
            stack.coefs, acts, out_grad, stack.hidden_activation, frozen=frozen_layers
        )
        if extra_penalty is not None:
            value += extra_penalty(acts, batch, rng, coef_grads, intercept_grads)
        value += _add_weight_penalty(stack, coef_grads, l2, anchor, 1.0 / n_samples)
        return value, [*coef_grads, *intercept_grads]

    assert len(params) == 2 * n
    return params, loss_grad


def mp_objective(
    stack,
    X,
    Y,
    *,
    rng,
    sample_weight=None,
    l2=0.0,
    anchor=None,
    n_mean_field_iter=None,
    drop_prob=None,
    label_drop_prob=None,
    label_weight=None,
    binarize=None,
):
    """Minibatch multi-prediction loss and gradients of a DBM stack.

    Each call draws fresh pixel and label masks (and, with ``binarize``, a
    fresh binarization of ``X``) from a kernel RNG seeded once from ``rng``.
    Returns ``(params, loss_grad)`` like :func:`feedforward_objective`.
    """
    n_iter = _mpdbm_setting(stack, "n_mean_field_iter", n_mean_field_iter)
    p_v = _mpdbm_setting(stack, "drop_prob", drop_prob)
    p_y = _mpdbm_setting(stack, "label_drop_prob", label_drop_prob)
    lam = _mpdbm_setting(stack, "label_weight", label_weight)
    binar = _mpdbm_setting(stack, "binarize", binarize)
    state = new_state(rng)
    dtype = X.dtype
    n_samples, D = X.shape
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
    params = stack.params

    def loss_grad(batch, rng):
        B = len(batch)
        Xb = np.empty((B, D), dtype=dtype)
        Mv = np.empty((B, D), dtype=dtype)
        My = np.empty(B, dtype=dtype)
        V0 = np.empty((B, D), dtype=dtype)
        v_init = 0.5 * np.tanh(0.5 * stack.visible_intercept) + 0.5
        sample_multiprediction_batch(
            X[batch], binar, p_v, p_y, v_init.astype(dtype), state, Xb, Mv, My, V0
        )
        w = None if weights is None else weights[batch] * (B / weights[batch].sum())
        value, gc, gi, gv = mp_loss_grad(
            stack.coefs,
            stack.intercepts,
            stack.visible_intercept,
            Xb,
            Y[batch],
            Mv,
            My,
            V0,
            n_iter,
            label_weight=lam,
            sample_weight=w,
        )
        value += _add_weight_penalty(stack, gc, l2, anchor, 1.0 / n_samples)
        return value, [*gc, *gi, gv]

    return params, loss_grad


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
            f"max_col_norm has {len(limits)} entries but the network has "
            f"{stack.n_layers} weight layers."
        )

    def clip():
        for W, limit in zip(stack.coefs, limits):
            if limit is not None:
                inplace_clip_column_norms(W, limit)

    return clip
