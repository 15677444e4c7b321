"""Mean-field inference in a deep Boltzmann machine, and the multi-prediction
loss with its gradient written out by hand through the unrolled inference.

Layers are numbered 0 (visible, binary), 1..K (sigmoid hidden) and K + 1 (the
softmax label layer). ``coefs[l - 1]`` of shape (n_{l-1}, n_l) connects layer
l - 1 to layer l; ``intercepts[l - 1]`` is the bias of layer l and
``visible_intercept`` the bias of layer 0. The energy is

    E(v, h, y) = -b_v.v - sum_l h_{l-1} W_l h_l - sum_l b_l.h_l

with h_0 = v and h_{K+1} = y one-hot. A mean-field update of layer l is
``act(h_{l-1} W_l + h_{l+1} W_{l+1}^T + b_l)``.

The schedule follows pylearn2's ``WeightDoubling`` (Goodfellow et al. 2013):
layers 1, 3, 5, ... are updated together, then the visible layer, then layers
2, 4, ...; the first pass runs bottom-up with doubled weights because the
layers above are not yet known. The unrolled computation is recorded as a list
of operations (the "schedule"); the backward pass walks it in reverse.
"""

from functools import lru_cache

import numpy as np

from skalltransfer._kernels._activations import (
    inplace_logistic,
    inplace_softmax,
    log_softmax,
)
from skalltransfer._kernels._losses import masked_bernoulli_loss_grad

# Operation kinds in a schedule.
_HIDDEN, _LABEL, _VISIBLE = 0, 1, 2


@lru_cache(maxsize=64)
def _training_schedule(n_hidden, n_iter):
    """The unrolled multi-prediction inference as a tuple of operations.

    Each operation is ``(kind, layer, inputs, out_version)`` where ``inputs`` is
    a tuple of ``(from_layer, version, factor)``. Versions count the states of
    each layer; version 0 of the visible and label layers is the masked initial
    state. Operations that cannot reach the loss are removed.
    """
    K = n_hidden
    label = K + 1
    version = dict.fromkeys(range(K + 2), -1)
    version[0] = 0  # V0: observed pixels, sigmoid(b_v) where dropped
    version[label] = 0  # Y0: observed labels, softmax(b_y) where dropped
    ops = []

    def emit(kind, layer, inputs):
        version[layer] += 1
        ops.append((kind, layer, tuple(inputs), version[layer]))

    # Iteration 0: bottom-up with doubled weights below the top hidden layer,
    # then the top hidden layer with its real top-down input from Y0.
    for layer in range(1, K):
        emit(_HIDDEN, layer, [(layer - 1, version[layer - 1], 2.0)])
    emit(_HIDDEN, K, [(K - 1, version[K - 1], 1.0), (label, 0, 1.0)])

    def update(layer):
        if layer == 0:
            emit(_VISIBLE, 0, [(1, version[1], 1.0)])
        elif layer == label:
            emit(_LABEL, label, [(K, version[K], 1.0)])
        else:
            emit(
                _HIDDEN,
                layer,
                [
                    (layer - 1, version[layer - 1], 1.0),
                    (layer + 1, version[layer + 1], 1.0),
                ],
            )

    group_a = list(range(1, K + 2, 2))
    group_b = list(range(2, K + 2, 2))
    for _ in range(n_iter - 1):
        for layer in group_a:
            update(layer)
        update(0)
        for layer in group_b:
            update(layer)

    # The loss reads the last visible and label predictions.
    final = {0: version[0], label: version[label]}
    if final[0] == 0 or final[label] == 0:
        raise ValueError("n_iter must be at least 2 for multi-prediction training.")
    return _live_ops(ops, {(0, final[0]), (label, final[label])}), final


def _live_ops(ops, needed):
    """The operations of ``ops`` that the states ``needed`` depend on, in
    order: updates nothing reads are dropped."""
    needed = set(needed)
    live = []
    for op in reversed(ops):
        _, layer, inputs, out = op
        if (layer, out) in needed:
            live.append(op)
            needed.update((src, ver) for src, ver, _ in inputs)
    live.reverse()
    return tuple(live)


def _preactivation(layer, inputs, states, coefs, bias, out):
    """Write ``sum(factor * input @ W) + bias`` for ``layer`` into ``out``."""
    first = True
    for src, ver, factor in inputs:
        S = states[src][ver]
        if src < layer:
            prod = S @ coefs[layer - 1]
        else:
            prod = S @ coefs[src - 1].T
        if factor != 1.0:
            prod *= factor
        if first:
            out[...] = prod
            first = False
        else:
            out += prod
    out += bias
    return out


def mp_forward(coefs, intercepts, visible_intercept, X, Y, Mv, My, V0, n_iter):
    """Run the unrolled masked mean-field inference of one minibatch.

    Returns a dict with ``states`` (per layer, an array of all versions),
    ``raw`` (unmixed predictions of the visible and label layers),
    ``logits`` (final visible and label logits, keyed 0 and K + 1), and the
    ``schedule`` and ``final`` versions used by the backward pass.
    Arguments are those of :func:`mp_loss_grad`.
    """
    K = len(coefs) - 1
    label = K + 1
    B, D = X.shape
    dtype = X.dtype
    schedule, final = _training_schedule(K, n_iter)
    biases = [visible_intercept, *intercepts]
    sizes = [D] + [W.shape[1] for W in coefs]
    n_versions = [1] * (K + 2)
    for _, layer, _, out in schedule:
        n_versions[layer] = max(n_versions[layer], out + 1)
    states = [np.zeros((n_versions[k], B, sizes[k]), dtype=dtype) for k in range(K + 2)]
    # Unmixed predictions of the masked layers, for the backward pass.
    raw = {0: np.empty_like(states[0]), label: np.empty_like(states[label])}

    states[0][0] = V0
    y_init = inplace_softmax(intercepts[-1].astype(dtype, copy=True)[None, :])[0]
    My_col = My[:, None].astype(dtype)
    states[label][0] = My_col * y_init + (1 - My_col) * Y

    Mv_obs = 1 - Mv
    logits = {}
    for kind, layer, inputs, out in schedule:
        dest = states[layer][out]
        _preactivation(layer, inputs, states, coefs, biases[layer], dest)
        if kind == _HIDDEN:
            inplace_logistic(dest)
        elif kind == _VISIBLE:
            if out == final[0]:
                logits[0] = dest.copy()
            A = inplace_logistic(dest)
            raw[0][out] = A
            # V = Mv * V_hat + (1 - Mv) * X
            dest *= Mv
            dest += Mv_obs * X
        else:
            if out == final[label]:
                logits[label] = dest.copy()
            A = inplace_softmax(dest)
            raw[label][out] = A
            dest *= My_col
            dest += (1 - My_col) * Y
    return {
        "states": states,
        "raw": raw,
        "logits": logits,
        "schedule": schedule,
        "final": final,
        "y_init": y_init,
    }


def mp_loss_grad(
    coefs,
    intercepts,
    visible_intercept,
    X,
    Y,
    Mv,
    My,
    V0,
    n_iter,
    label_weight=1.0,
    sample_weight=None,
):
    """Multi-prediction loss and its exact gradient for one minibatch.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Weights and biases of layers 1..K+1 (the last is the label layer).
    visible_intercept : ndarray of shape (D,)
    X : ndarray of shape (B, D)
        Visible targets (binary or in [0, 1]).
    Y : ndarray of shape (B, C)
        One-hot labels.
    Mv : ndarray of shape (B, D)
        Pixel mask, 1 where the pixel is predicted (hidden from the network).
    My : ndarray of shape (B,)
        Label mask, 1 where the label is predicted.
    V0 : ndarray of shape (B, D)
        Initial visible state, ``Mv * sigmoid(b_v) + (1 - Mv) * X``; no gradient
        flows through ``sigmoid(b_v)`` here, as in pylearn2.
    n_iter : int
        Number of mean-field iterations (pylearn2's ``niter``).
    label_weight : float, default=1.0
        Weight of each predicted label relative to one predicted pixel.
        pylearn2's objective is ``label_weight=1``.
    sample_weight : ndarray of shape (B,), default=None
        Per-example weights of both loss terms.

    Returns
    -------
    loss : float
        ``(1 / (B * D)) * sum(Mv * CE(X, V_hat)) + label_weight / (B * D) *
        sum(My * CE(Y, y_hat))``, both from the final iteration's logits.
    coef_grads, intercept_grads : list of ndarray
    visible_intercept_grad : ndarray of shape (D,)
    """
    K = len(coefs) - 1
    label = K + 1
    B, D = X.shape
    dtype = X.dtype
    c = 1.0 / (B * D)
    w = (
        np.ones(B, dtype=dtype)
        if sample_weight is None
        else sample_weight.astype(dtype)
    )
    fwd = mp_forward(coefs, intercepts, visible_intercept, X, Y, Mv, My, V0, n_iter)
    states, raw, schedule, final = (
        fwd["states"],
        fwd["raw"],
        fwd["schedule"],
        fwd["final"],
    )
    z_final, y_init = fwd["logits"], fwd["y_init"]
    My_col = My[:, None].astype(dtype)

    # Loss terms and their gradients w.r.t. the final logits.
    weighted_Mv = Mv * w[:, None] if sample_weight is not None else Mv
    dz_final = {0: np.empty((B, D), dtype=dtype)}
    loss = masked_bernoulli_loss_grad(z_final[0], X, weighted_Mv, c, dz_final[0])
    log_p = log_softmax(z_final[label])
    row_w = (c * label_weight) * My.astype(dtype) * w
    loss += float(-np.sum(row_w * np.sum(Y * log_p, axis=1)))
    dz_final[label] = (np.exp(log_p) - Y) * row_w[:, None]

    coef_grads = [np.zeros_like(W) for W in coefs]
    intercept_grads = [np.zeros_like(b) for b in intercepts]
    visible_grad = np.zeros_like(visible_intercept)
    bias_grads = [visible_grad, *intercept_grads]
    grads = [np.zeros_like(s) for s in states]

    for kind, layer, inputs, out in reversed(schedule):
        g = grads[layer][out]
        if kind == _HIDDEN:
            S = states[layer][out]
            dz = g * S
            dz *= 1 - S
        elif kind == _VISIBLE:
            A = raw[0][out]
            dz = g * Mv
            dz *= A
            dz *= 1 - A
            if out == final[0]:
                dz += dz_final[0]
        else:
            A = raw[label][out]
            gy = g * My_col
            dz = A * (gy - np.sum(gy * A, axis=1, keepdims=True))
            if out == final[label]:
                dz += dz_final[label]
        bias_grads[layer] += dz.sum(axis=0)
        for src, ver, factor in inputs:
            S = states[src][ver]
            scaled = dz if factor == 1.0 else dz * factor
            if src < layer:
                coef_grads[layer - 1] += S.T @ scaled
                W = coefs[layer - 1]
                if not (src == 0 and ver == 0):
                    grads[src][ver] += scaled @ W.T
            else:
                coef_grads[src - 1] += scaled.T @ S
                grads[src][ver] += scaled @ coefs[src - 1]

    # Y0 depends on b_y through the learnable initial label state.
    g0 = np.sum(grads[label][0] * My_col, axis=0)
    intercept_grads[-1] += y_init * (g0 - np.dot(g0, y_init))
    return loss, coef_grads, intercept_grads, visible_grad


def mean_field_labels(
    coefs, intercepts, visible_intercept, X, n_iter, multi_inference=False
):
    """Label-layer marginals by mean-field inference with the label unobserved.

    Plain mean field clamps the visible layer to ``X``. With
    ``multi_inference=True`` the visible state is instead the average of ``X``
    and the network's reconstruction, updated after each pass over layers
    1, 3, ... (Goodfellow et al.'s multi-inference trick).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
    hidden : list of ndarray
        Final marginals of hidden layers 1..K.
    """
    K = len(coefs) - 1
    label = K + 1
    dtype = X.dtype
    if multi_inference:
        v_bias = inplace_logistic(visible_intercept.astype(dtype, copy=True))
        V = 0.5 * X + 0.5 * v_bias
    else:
        V = X
    states = [V]
    for layer in range(1, K + 2):
        Z = states[layer - 1] @ coefs[layer - 1]
        if layer <= K:
            Z *= 2.0
        Z += intercepts[layer - 1]
        states.append(inplace_logistic(Z) if layer <= K else inplace_softmax(Z))

    def update(layer):
        Z = states[layer - 1] @ coefs[layer - 1]
        Z += intercepts[layer - 1]
        if layer <= K:
            Z += states[layer + 1] @ coefs[layer].T
            states[layer] = inplace_logistic(Z)
        else:
            states[layer] = inplace_softmax(Z)

    group_a = list(range(1, K + 2, 2))
    group_b = list(range(2, K + 2, 2))
    for _ in range(n_iter - 1):
        for layer in group_a:
            update(layer)
        if multi_inference:
            R = states[1] @ coefs[0].T
            R += visible_intercept
            inplace_logistic(R)
            R *= 0.5
            R += 0.5 * X
            states[0] = R
        for layer in group_b:
            update(layer)
    return states[label], states[1:label]


# -- discriminative training through the classification inference ------------
@lru_cache(maxsize=64)
def _inference_schedule(n_hidden, n_iter, update_visible):
    """The unrolled classification inference of :func:`mean_field_labels` as
    a tuple of operations (the format of :func:`_training_schedule`), pruned
    to what the final label marginals depend on.

    Iteration 0 runs bottom-up, hidden layers with doubled weights, then the
    label layer; each later iteration updates layers 1, 3, ..., then the
    visible layer when ``update_visible`` (the multi-inference trick), then
    layers 2, 4, .... Version 0 of the visible layer is its initial state.
    """
    K = n_hidden
    label = K + 1
    version = dict.fromkeys(range(K + 2), -1)
    version[0] = 0
    ops = []

    def emit(kind, layer, inputs):
        version[layer] += 1
        ops.append((kind, layer, tuple(inputs), version[layer]))

    for layer in range(1, K + 1):
        emit(_HIDDEN, layer, [(layer - 1, version[layer - 1], 2.0)])
    emit(_LABEL, label, [(K, version[K], 1.0)])

    def update(layer):
        if layer == label:
            emit(_LABEL, label, [(K, version[K], 1.0)])
        else:
            below, above = (
                (layer - 1, version[layer - 1]),
                (layer + 1, version[layer + 1]),
            )
            emit(_HIDDEN, layer, [(*below, 1.0), (*above, 1.0)])

    for _ in range(n_iter - 1):
        # Odd layers, then (after the pixels, in multi-inference) even ones.
        for layer in range(1, K + 2, 2):
            update(layer)
        if update_visible:
            emit(_VISIBLE, 0, [(1, version[1], 1.0)])
        for layer in range(2, K + 2, 2):
            update(layer)
    final = version[label]
    return _live_ops(ops, {(label, final)}), final


def mf_forward(coefs, intercepts, visible_intercept, X, n_iter, multi_inference):
    """Run the unrolled classification inference and keep every state.

    The same computation as :func:`mean_field_labels` (label unobserved;
    pixels clamped, or averaged with their reconstruction when
    ``multi_inference``), recorded for :func:`mf_loss_grad`.

    Returns
    -------
    fwd : dict
        ``states`` ({(layer, version): array}), ``raw`` (unmixed visible
        reconstructions by version), ``logits`` (final label logits),
        ``schedule``, ``final`` and ``x_w`` (``V0 @ W_1``, computed once).
    """
    K = len(coefs) - 1
    dtype = X.dtype
    schedule, final = _inference_schedule(K, n_iter, bool(multi_inference))
    biases = [visible_intercept, *intercepts]
    if multi_inference:
        v_bias = inplace_logistic(visible_intercept.astype(dtype, copy=True))
        V0 = 0.5 * X + 0.5 * v_bias
    else:
        V0 = X
    states = {(0, 0): V0}
    raw = {}
    logits = None
    # Every update of layer 1 reads V0 when the pixels stay clamped: one
    # product serves them all.
    x_w = V0 @ coefs[0]
    for kind, layer, inputs, out in schedule:
        Z = None
        for src, ver, factor in inputs:
            if src == 0 and ver == 0:
                prod = x_w.copy()
            elif src < layer:
                prod = states[src, ver] @ coefs[layer - 1]
            else:
                prod = states[src, ver] @ coefs[src - 1].T
            if factor != 1.0:
                prod *= factor
            if Z is None:
                Z = prod
            else:
                Z += prod
        Z += biases[layer]
        if kind == _HIDDEN:
            states[layer, out] = inplace_logistic(Z)
        elif kind == _VISIBLE:
            A = inplace_logistic(Z)
            raw[out] = A
            states[0, out] = 0.5 * A + 0.5 * X
        else:
            if out == final:
                logits = Z.copy()
            states[layer, out] = inplace_softmax(Z)
    return {
        "states": states,
        "raw": raw,
        "logits": logits,
        "schedule": schedule,
        "final": final,
        "x_w": x_w,
    }


def mf_loss_grad(
    coefs,
    intercepts,
    visible_intercept,
    X,
    targets,
    n_iter,
    multi_inference=False,
    loss="log_loss",
    sample_weight=None,
):
    """Classification loss of the mean-field label marginals and its exact
    gradient, back-propagated through the unrolled inference as through a
    recurrent net (the discriminative fine-tuning of Goodfellow et al. 2013).

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Weights and biases of layers 1..K+1 (the last is the label layer).
    visible_intercept : ndarray of shape (D,)
    X : ndarray of shape (B, D)
        Inputs in [0, 1], as at prediction time.
    targets : ndarray of shape (B, C)
        One-hot rows or probability rows.
    n_iter : int
        Mean-field iterations (at least 1), as in :func:`mean_field_labels`.
    multi_inference : bool, default=False
        Unroll the multi-inference trick instead of plain mean field.
    loss : {"log_loss", "squared_error"}, default="log_loss"
        Cross-entropy of the targets, or ``0.5 * ||p - t||^2``.
    sample_weight : ndarray of shape (B,), default=None

    Returns
    -------
    loss : float
        Weighted mean over the batch.
    coef_grads, intercept_grads : list of ndarray
    visible_intercept_grad : ndarray of shape (D,)
        Nonzero only with ``multi_inference`` (the visible bias enters the
        inference through the reconstructions and the initial state).
    """
    K = len(coefs) - 1
    label = K + 1
    B = X.shape[0]
    dtype = X.dtype
    w = (
        np.full(B, 1.0 / B, dtype=dtype)
        if sample_weight is None
        else (sample_weight / sample_weight.sum()).astype(dtype)
    )[:, None]
    fwd = mf_forward(coefs, intercepts, visible_intercept, X, n_iter, multi_inference)
    states, raw, schedule, final = (
        fwd["states"],
        fwd["raw"],
        fwd["schedule"],
        fwd["final"],
    )
    P = states[label, final]
    if loss == "log_loss":
        value = -float(np.sum(w * targets * log_softmax(fwd["logits"])))
        dz_final = (P - targets) * w
    else:
        diff = P - targets
        value = 0.5 * float(np.sum(w * diff**2))
        g = diff * w
        dz_final = P * (g - np.sum(g * P, axis=1, keepdims=True))

    coef_grads = [np.zeros_like(W) for W in coefs]
    intercept_grads = [np.zeros_like(b) for b in intercepts]
    visible_grad = np.zeros_like(visible_intercept)
    bias_grads = [visible_grad, *intercept_grads]
    grads = {}
    # Sum of the preactivation gradients of every op that reads V0: one
    # product with V0 (and W_1) at the end instead of one per op.
    g_x_w = np.zeros_like(fwd["x_w"])

    def add(key, value):
        if key in grads:
            grads[key] += value
        else:
            grads[key] = value

    for kind, layer, inputs, out in reversed(schedule):
        if kind == _LABEL and out == final:
            dz = dz_final
        else:
            g = grads.pop((layer, out))
            if kind == _HIDDEN:
                S = states[layer, out]
                dz = g * S
                dz *= 1 - S
            elif kind == _VISIBLE:
                A = raw[out]
                dz = g * (0.5 * A)
                dz *= 1 - A
            else:
                A = states[layer, out]
                dz = A * (g - np.sum(g * A, axis=1, keepdims=True))
        bias_grads[layer] += dz.sum(axis=0)
        for src, ver, factor in inputs:
            scaled = dz if factor == 1.0 else dz * factor
            if src == 0 and ver == 0:
                g_x_w += scaled
            elif src < layer:
                coef_grads[layer - 1] += states[src, ver].T @ scaled
                add((src, ver), scaled @ coefs[layer - 1].T)
            else:
                coef_grads[src - 1] += scaled.T @ states[src, ver]
                add((src, ver), scaled @ coefs[src - 1])
    coef_grads[0] += states[0, 0].T @ g_x_w
    if multi_inference:
        # V0 = X / 2 + sigmoid(b_v) / 2.
        s = inplace_logistic(visible_intercept.astype(dtype, copy=True))
        visible_grad += (0.5 * s * (1 - s)) * (coefs[0] @ g_x_w.sum(axis=0))
    return value, coef_grads, intercept_grads, visible_grad
