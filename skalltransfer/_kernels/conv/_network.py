"""A network of conv layers (each pooled) under dense layers: forward and
backward passes over a whole batch."""

import contextlib
from typing import NamedTuple

import numpy as np

from skalltransfer._kernels._activations import ACTIVATIONS
from skalltransfer._kernels._scratch import scratch as _scratch
from skalltransfer._kernels._threads import (
    n_threads,
    single_threaded_blas,
)
from skalltransfer._kernels.conv._gemm import (
    KEEP_BYTES,
    MAX_BYTES,
    rows_gram,
    rows_matmul,
)
from skalltransfer._kernels.conv._layer import (
    CONV_DERIVATIVES,
    conv_algorithm,
    conv_backward,
    conv_forward,
    conv_output_shape,
)
from skalltransfer._kernels.conv._pool import argmax_dtype


# -- conv-stack network ----------------------------------------------------------------
class ConvGeometry(NamedTuple):
    """Geometry of the conv part of a network.

    ``image_shape`` is ``(H, W, C)`` of one input image; ``layers`` holds one
    ``(kh, kw, pad, pool)`` per conv layer (``pool = 1``: no pooling). The
    number of maps of each layer is the width of its weight matrix.
    """

    image_shape: tuple
    layers: tuple


class ConvCache(NamedTuple):
    """What :func:`conv_net_forward` keeps for :func:`conv_net_backward`.

    ``activations`` is ``[X, A_1, ..., A_L]`` with every hidden layer's output
    as a flat (B, n_units) array (conv layers: after pooling, NHWC order);
    after a full pass it ends with the output activations and the logits, as
    :func:`~skalltransfer._kernels._feedforward.forward_pass` does.
    ``argmax`` holds each conv layer's pooling indices (None without
    pooling), ``patches`` its whole-batch im2col when the layer runs im2col
    and they fit in ``keep_bytes`` (else None: the backward pass recomputes
    them, or the Winograd tiles, chunk by chunk); ``shapes`` is
    :func:`conv_layer_shapes`' first result.
    """

    activations: list
    argmax: list
    patches: list
    geometry: tuple
    shapes: list


def conv_layer_shapes(geometry, n_maps):
    """Shapes through the conv layers of ``geometry`` with ``n_maps[k]`` maps.

    Returns ``shapes``, one ``(in_shape, conv_shape, out_shape)`` per conv
    layer as (H, W, C) tuples (``out_shape`` after pooling), and ``sizes``,
    the flattened sizes ``[H*W*C, n_1, ..., n_K]`` of the input and of every
    pooled output (``sizes[-1]`` is the first dense layer's input size).
    """
    H, W, C = geometry[0]
    layers = geometry[1]
    if len(n_maps) != len(layers):
        raise ValueError(f"{len(layers)} conv layers but {len(n_maps)} map counts.")
    shapes, sizes = [], [H * W * C]
    for k, ((kh, kw, pad, pool), c_out) in enumerate(zip(layers, n_maps)):
        Ho, Wo = conv_output_shape(H, W, kh, kw, pad)
        Hp, Wp = Ho // pool, Wo // pool
        if min(Hp, Wp) < 1 or pad < 0 or pool < 1:
            raise ValueError(
                f"Conv layer {k + 1} (kernel {kh}x{kw}, pad {pad}, pool {pool}) "
                f"does not fit its {H}x{W} input: each pooling halves the image, "
                "so use fewer conv_layers, pooling=1 or larger images (check "
                "image_shape)."
            )
        shapes.append(((H, W, C), (Ho, Wo, c_out), (Hp, Wp, c_out)))
        H, W, C = Hp, Wp, c_out
        sizes.append(H * W * C)
    return shapes, sizes


@contextlib.contextmanager
def _network_threads(coefs, geometry, shapes, layers):
    """Threads of a network pass whose conv ``layers`` include a Winograd
    one (None if none does: BLAS then runs every layer's products on its own
    threads). Meanwhile BLAS is held at one thread
    (:func:`~skalltransfer._kernels._threads.single_threaded_blas`): the
    Winograd layers split their batch over the threads, the im2col and dense
    layers their chunks or rows."""
    winograd = any(
        conv_algorithm(*geometry[1][k], shapes[k][0], coefs[k].shape[1]) == "winograd"
        for k in layers
    )
    threads = n_threads() if winograd else None
    if threads is None or threads == 1:
        yield threads
        return
    with single_threaded_blas():
        yield threads


def _net_shapes(coefs, geometry, n_layers):
    n_conv = len(geometry[1])
    if n_layers is None and len(coefs) <= n_conv:
        # Only a truncated pass (layer-wise pretraining) may lack dense layers.
        raise ValueError("A conv network needs at least one dense (output) layer.")
    if n_layers is not None and not 1 <= n_layers <= len(coefs):
        raise ValueError(f"n_layers must be in 1..{len(coefs)}, got {n_layers}.")
    if len(coefs) < n_conv:
        raise ValueError(f"{n_conv} conv layers but only {len(coefs)} weight layers.")
    shapes, sizes = conv_layer_shapes(geometry, [W.shape[1] for W in coefs[:n_conv]])
    for k, ((kh, kw, _, _), (in_shape, _, _)) in enumerate(zip(geometry[1], shapes)):
        if coefs[k].shape[0] != kh * kw * in_shape[2]:
            raise ValueError(
                f"coefs[{k}] has {coefs[k].shape[0]} rows, expected "
                f"{kh * kw * in_shape[2]} for a {kh}x{kw}x{in_shape[2]} kernel."
            )
    if len(coefs) > n_conv and coefs[n_conv].shape[0] != sizes[-1]:
        raise ValueError(
            f"coefs[{n_conv}] has {coefs[n_conv].shape[0]} rows, expected "
            f"{sizes[-1]} (the flattened last conv output)."
        )
    return shapes


def _forward(
    coefs,
    intercepts,
    X,
    geometry,
    hidden_activation,
    output_activation,
    n_layers,
    keep,
    max_bytes,
    keep_bytes,
    workspace,
):
    """Forward pass; with ``keep`` every layer's output, argmax and (when
    they fit in ``keep_bytes``) patches are kept, otherwise only the last
    output (argmax in reused scratch buffers)."""
    shapes = _net_shapes(coefs, geometry, n_layers)
    n_conv = len(shapes)
    X = np.ascontiguousarray(X)
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        # A float64 weight would silently upcast a float32 pass.
        if W.dtype != X.dtype or b.dtype != X.dtype:
            raise TypeError(
                f"Layer {k} has {W.dtype}/{b.dtype} parameters for {X.dtype} input."
            )
    if X.ndim != 2 or X.shape[1] != np.prod(geometry[0]):
        raise ValueError(
            f"X must have shape (n_samples, {np.prod(geometry[0])}), got {X.shape}."
        )
    B = X.shape[0]
    hidden = ACTIVATIONS[hidden_activation]
    stop = len(coefs) if n_layers is None else n_layers
    activations, argmaxes, patches = [X], [], []
    A = X
    conv_layers = range(min(stop, n_conv))
    with _network_threads(coefs, geometry, shapes, conv_layers) as threads:
        for k in range(stop):
            if k < n_conv:
                kh, kw, pad, pool = geometry[1][k]
                in_shape, _, out_shape = shapes[k]
                out = np.empty((B, *out_shape), dtype=X.dtype)
                am = None
                if pool > 1:
                    am_shape = (B, *out_shape)
                    am = (
                        np.empty(am_shape, dtype=argmax_dtype(pool))
                        if keep
                        else _scratch(workspace, "argmax", am_shape, argmax_dtype(pool))
                    )
                P = None
                K = coefs[k].shape[0]
                n_rows = B * shapes[k][1][0] * shapes[k][1][1]
                im2col_layer = (
                    conv_algorithm(kh, kw, pad, pool, in_shape, coefs[k].shape[1])
                    == "im2col"
                )
                if keep and im2col_layer and n_rows * K * X.itemsize <= keep_bytes:
                    # Small enough to keep: the backward pass skips its im2col.
                    P = np.empty((n_rows, K), dtype=X.dtype)
                conv_forward(
                    A.reshape(B, *in_shape),
                    coefs[k],
                    intercepts[k],
                    kh,
                    kw,
                    pad,
                    pool=pool,
                    argmax=am,
                    out=out,
                    patches=P,
                    max_bytes=max_bytes,
                    workspace=workspace,
                    threads=threads,
                )
                A = hidden(out.reshape(B, int(np.prod(out_shape))))
                argmaxes.append(am)
                patches.append(P)
            else:
                Z = rows_matmul(A, coefs[k], threads)
                Z += intercepts[k]
                if k == len(coefs) - 1:
                    logits = Z.copy()
                    A = ACTIVATIONS[output_activation](Z)
                    if keep:
                        activations.append(A)
                        A = logits
                else:
                    A = hidden(Z)
            if keep:
                activations.append(A)
    return activations, argmaxes, patches, shapes, A


def conv_net_forward(
    coefs,
    intercepts,
    X,
    geometry,
    hidden_activation,
    output_activation,
    n_layers=None,
    max_bytes=MAX_BYTES,
    keep_bytes=KEEP_BYTES,
    workspace=None,
):
    """Forward pass of a conv stack, keeping what the backward pass needs.

    ``coefs`` / ``intercepts`` list the conv layers' GEMM matrices (one per
    entry of ``geometry.layers``), then the dense layers'; every conv layer is
    followed by ``hidden_activation`` and its max-pooling, its flattened (NHWC)
    output feeds the next layer. ``X`` has shape (B, H*W*C) (row-major
    images). With ``n_layers`` the pass stops after that many weight layers
    (conv and dense counted together; ``coefs`` may then end with the conv
    layers, as layer-wise pretraining needs). Returns a :class:`ConvCache`; after a
    full pass ``cache.activations[-2]`` is the output and ``[-1]`` the logits.
    ``max_bytes`` bounds the im2col chunk buffer; a layer's whole-batch
    patches are kept for the backward pass if they take at most
    ``keep_bytes`` (0: never).
    """
    activations, argmaxes, patches, shapes, _ = _forward(
        coefs,
        intercepts,
        X,
        geometry,
        hidden_activation,
        output_activation,
        n_layers,
        True,
        max_bytes,
        keep_bytes,
        workspace,
    )
    return ConvCache(activations, argmaxes, patches, geometry, shapes)


def conv_net_predict(
    coefs,
    intercepts,
    X,
    geometry,
    hidden_activation,
    output_activation,
    n_layers=None,
    batch_size=256,
    max_bytes=MAX_BYTES,
    workspace=None,
):
    """Output activations (or, with ``n_layers``, that layer's flat output)
    of :func:`conv_net_forward` for every row of ``X``, computed
    ``batch_size`` rows at a time without a cache: memory is flat in n_samples
    beyond the result itself."""
    n = X.shape[0]
    result = None
    for s in range(0, max(n, 1), batch_size):
        A = _forward(
            coefs,
            intercepts,
            X[s : s + batch_size],
            geometry,
            hidden_activation,
            output_activation,
            n_layers,
            False,
            max_bytes,
            0,
            workspace,
        )[-1]
        if result is None:
            result = np.empty((n, A.shape[1]), dtype=A.dtype)
        result[s : s + A.shape[0]] = A
    return result


def conv_net_backward(
    coefs,
    cache,
    output_grad,
    hidden_activation,
    frozen=0,
    hidden_grads=None,
    max_bytes=MAX_BYTES,
    workspace=None,
):
    """Gradients of every layer's weights and biases from ``output_grad``, the
    gradient w.r.t. the output logits (as ``output_loss_grad`` returns it).

    ``cache`` comes from a full :func:`conv_net_forward`. Layers below index
    ``frozen`` get None, which also skips their work (and the first trained
    conv layer computes no input gradient). ``hidden_grads`` maps a 1-based
    hidden layer ``l`` to a gradient w.r.t. its flat output
    ``cache.activations[l]``, added in during the sweep (e.g. an MMD penalty
    on hidden codes). Returns the lists ``coef_grads, intercept_grads``.
    """
    activations, argmaxes, patches, geometry, shapes = cache
    n = len(coefs)
    n_conv = len(shapes)
    if len(activations) != n + 2:
        raise ValueError("conv_net_backward needs the cache of a full forward pass.")
    hidden_grads = {} if hidden_grads is None else hidden_grads
    for layer in hidden_grads:
        if not 1 <= layer <= n - 1:
            raise ValueError(f"Hidden layers are numbered 1..{n - 1}, got {layer}.")
    coef_grads = [None] * n
    intercept_grads = [None] * n
    derivative = CONV_DERIVATIVES[hidden_activation]
    delta = output_grad
    B = activations[0].shape[0]
    layers = range(frozen, n_conv)
    with _network_threads(coefs, geometry, shapes, layers) as threads:
        for k in range(n - 1, frozen - 1, -1):
            if k >= n_conv:
                coef_grads[k] = rows_gram(activations[k], delta, threads)
                intercept_grads[k] = delta.sum(axis=0)
                grad = rows_matmul(delta, coefs[k].T, threads) if k > frozen else None
            else:
                kh, kw, pad, pool = geometry[1][k]
                in_shape, _, out_shape = shapes[k]
                coef_grads[k], intercept_grads[k], dx = conv_backward(
                    activations[k].reshape(B, *in_shape),
                    coefs[k],
                    delta.reshape(B, *out_shape),
                    kh,
                    kw,
                    pad,
                    pool=pool,
                    argmax=argmaxes[k],
                    need_dx=k > frozen,
                    patches=patches[k],
                    max_bytes=max_bytes,
                    workspace=workspace,
                    threads=threads,
                )
                grad = None if dx is None else dx.reshape(activations[k].shape)
            if grad is not None:
                if k in hidden_grads:
                    grad += hidden_grads[k]
                derivative(activations[k], grad)
                delta = grad
    return coef_grads, intercept_grads


def conv_net_backward_hidden(
    coefs,
    cache,
    hidden_grads,
    hidden_activation,
    coef_grads,
    intercept_grads,
    max_bytes=MAX_BYTES,
    workspace=None,
):
    """Add the gradient of a penalty on hidden codes to ``coef_grads`` and
    ``intercept_grads`` in place.

    ``cache`` comes from :func:`conv_net_forward`, possibly stopped at the
    highest penalised layer; ``hidden_grads`` maps a 1-based hidden layer
    ``l`` to the gradient w.r.t. ``cache.activations[l]``. Layers whose
    ``coef_grads`` entry is None are frozen: the sweep stops below the lowest
    trainable layer.
    """
    activations, argmaxes, patches, geometry, shapes = cache
    n_conv = len(shapes)
    trainable = [k for k, g in enumerate(coef_grads) if g is not None]
    if not trainable or not hidden_grads:
        return
    lowest = trainable[0]
    derivative = CONV_DERIVATIVES[hidden_activation]
    B = activations[0].shape[0]
    delta = None
    layers = range(lowest, min(max(hidden_grads), n_conv))
    with _network_threads(coefs, geometry, shapes, layers) as threads:
        for k in range(max(hidden_grads) - 1, lowest - 1, -1):
            # Entering layer k (0-based) from its output: add that output's term.
            top = hidden_grads.get(k + 1)
            if top is not None:
                delta = top.copy() if delta is None else delta + top
            if delta is None:
                continue
            derivative(activations[k + 1], delta)
            if k >= n_conv:
                if coef_grads[k] is not None:
                    coef_grads[k] += np.matmul(activations[k].T, delta)
                    intercept_grads[k] += delta.sum(axis=0)
                if k > lowest:
                    delta = np.matmul(delta, coefs[k].T)
                continue
            kh, kw, pad, pool = geometry[1][k]
            in_shape, _, out_shape = shapes[k]
            dW, db, dx = conv_backward(
                activations[k].reshape(B, *in_shape),
                coefs[k],
                np.ascontiguousarray(delta).reshape(B, *out_shape),
                kh,
                kw,
                pad,
                pool=pool,
                argmax=argmaxes[k],
                need_dx=k > lowest,
                patches=patches[k],
                max_bytes=max_bytes,
                workspace=workspace,
                threads=threads,
            )
            if coef_grads[k] is not None:
                coef_grads[k] += dW
                intercept_grads[k] += db
            if dx is not None:
                delta = dx.reshape(B, -1)
