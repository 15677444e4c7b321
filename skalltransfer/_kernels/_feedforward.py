"""Forward and backward passes of a feed-forward stack.

``coefs[k]`` has shape (n_k, n_{k+1}); hidden layers share one activation and
the output layer has its own (``"softmax"``, ``"logistic"`` or ``"identity"``).
"""

import numpy as np

from skalltransfer._kernels._activations import ACTIVATIONS, DERIVATIVES, log_softmax


def forward_pass(
    coefs, intercepts, X, hidden_activation, output_activation, n_layers=None
):
    """Activations of every layer, starting with ``X`` itself.

    With ``n_layers`` given, stop after that many weight layers (all hidden
    activations); otherwise the last layer uses ``output_activation`` and the
    returned list also holds the output logits as its final element.
    """
    activations = [X]
    stop = len(coefs) if n_layers is None else n_layers
    hidden = ACTIVATIONS[hidden_activation]
    for k in range(stop):
        Z = activations[-1] @ coefs[k]
        Z += intercepts[k]
        if k == len(coefs) - 1:
            logits = Z.copy()
            activations.append(ACTIVATIONS[output_activation](Z))
            activations.append(logits)
        else:
            activations.append(hidden(Z))
    return activations


def output_loss_grad(activations, targets, loss, output_activation, sample_weight):
    """Loss of the output layer and its gradient w.r.t. the output logits.

    ``loss="log_loss"`` with a softmax output is the multinomial cross-entropy
    (computed from the logits); with a logistic output it is the per-unit
    Bernoulli cross-entropy. ``loss="squared_error"`` is ``0.5 * ||out - t||^2``
    and back-propagates through the output activation, including the softmax
    Jacobian. Both are averaged with ``sample_weight`` over the batch.
    """
    out, logits = activations[-2], activations[-1]
    w = sample_weight[:, None] / sample_weight.sum()
    if loss == "log_loss":
        if output_activation == "softmax":
            log_p = log_softmax(logits)
            value = -float(np.sum(w * targets * log_p))
            grad = (out - targets) * w
        elif output_activation == "logistic":
            sp = np.logaddexp(0, logits)
            value = float(np.sum(w * (sp - targets * logits)))
            grad = (out - targets) * w
        else:
            raise ValueError(
                "log_loss needs a softmax or logistic output, "
                f"got {output_activation!r}"
            )
        return value, grad.astype(out.dtype, copy=False)
    diff = out - targets
    value = 0.5 * float(np.sum(w * diff**2))
    g = diff * w
    if output_activation == "softmax":
        grad = out * (g - np.sum(g * out, axis=1, keepdims=True))
    elif output_activation == "logistic":
        grad = g * out * (1 - out)
    else:
        grad = g
    return value, grad.astype(out.dtype, copy=False)


def backward_pass(coefs, activations, output_grad, hidden_activation, frozen=0):
    """Gradients of every layer's weights and biases from the output gradient.

    ``activations`` is the list returned by :func:`forward_pass`. Layers below
    index ``frozen`` get no gradient (``None``), which also skips their GEMMs.
    Returns the lists ``coef_grads, intercept_grads``.
    """
    n = len(coefs)
    coef_grads = [None] * n
    intercept_grads = [None] * n
    derivative = DERIVATIVES[hidden_activation]
    delta = output_grad
    for k in range(n - 1, frozen - 1, -1):
        coef_grads[k] = activations[k].T @ delta
        intercept_grads[k] = delta.sum(axis=0)
        if k > frozen:
            delta = delta @ coefs[k].T
            derivative(activations[k], delta)
    return coef_grads, intercept_grads


def backward_hidden(
    coefs, activations, layer_grads, hidden_activation, coef_grads, intercept_grads
):
    """Add the gradient of a penalty on hidden activations into the gradients.

    ``layer_grads`` maps a 1-based hidden layer ``l`` to dPenalty/d
    ``activations[l]``. One backward sweep serves every layer; layers whose
    gradient entry is None (frozen) are skipped, and the sweep stops below the
    lowest trainable one.
    """
    derivative = DERIVATIVES[hidden_activation]
    trainable = [k for k, g in enumerate(coef_grads) if g is not None]
    if not trainable:
        return
    lowest = trainable[0]
    delta = None
    for k in range(max(layer_grads) - 1, lowest - 1, -1):
        # Entering layer k + 1 from above: add that layer's own penalty term.
        top = layer_grads.get(k + 1)
        if top is not None:
            delta = top.copy() if delta is None else delta + top
        if delta is None:
            continue
        derivative(activations[k + 1], delta)
        if coef_grads[k] is not None:
            coef_grads[k] += activations[k].T @ delta
            intercept_grads[k] += delta.sum(axis=0)
        if k > lowest:
            delta = delta @ coefs[k].T
