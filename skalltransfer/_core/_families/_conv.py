"""The convolutional family: conv layers (each followed by its activation
and a max-pooling), then dense layers, trained by back-propagation.

A conv stack's ``coefs[k]`` for a conv layer is its GEMM matrix of shape
``(kh * kw * C_in, C_out)``, rows ordered ``(dy, dx, c_in)``; its geometry
travels in ``config``: ``image_shape`` ``(H, W, C)`` of one input image and
``conv_layers``, one ``(kh, kw, pad, pool)`` per conv layer. Inputs are rows
of flattened ``(H, W, C)`` images, as everywhere in scikit-learn.
"""

import numpy as np

from skalltransfer._core._families._backprop import BackpropFamily
from skalltransfer._core._families._base import register_family
from skalltransfer._kernels._init import init_weights
from skalltransfer._kernels.conv._network import (
    ConvGeometry,
    conv_layer_shapes,
    conv_net_backward,
    conv_net_backward_hidden,
    conv_net_forward,
    conv_net_predict,
)


def geometry(stack):
    """The :class:`ConvGeometry` of a conv stack's config."""
    config = stack.config
    return ConvGeometry(
        tuple(int(s) for s in config["image_shape"]),
        tuple(tuple(int(v) for v in layer) for layer in config["conv_layers"]),
    )


def n_conv_layers(stack):
    """Number of conv layers of ``stack`` (its first weight layers)."""
    return len(stack.config["conv_layers"])


class ConvFamily(BackpropFamily):
    """Conv layers then dense layers: ``hidden_activation`` after every conv
    and dense hidden layer, ``output_activation`` on the output layer."""

    name = "conv"
    new_layer_scheme = "he"
    # Fine-tuning: Adam at 1e-3 (BackpropFamily's defaults); smaller steps
    # transferred no better (see the benchmarks page (docs/benchmarks.rst)).
    # Random +-1 pixel shifts of the target images: convolutions see a
    # shifted image as the same features moved, so the shifts add examples
    # at no cost in labels (see the benchmarks page (docs/benchmarks.rst)).
    # A budget of at least 400 minibatch updates, all of them: ten images per
    # class are one minibatch an epoch, and the shifts keep the training loss
    # moving, so neither 100 epochs nor a stop on a plateau gives them the
    # steps they need (see the benchmarks page (docs/benchmarks.rst)).
    # Re-measure: python benchmarks/bench_alltransfer.py --sources conv
    finetune_shift_augmentation = 1
    finetune_min_updates = 400
    finetune_stop_on_plateau = False
    reads_image_layout = True

    # -- shapes ---------------------------------------------------------------
    def _shapes(self, stack):
        n_conv = n_conv_layers(stack)
        n_maps = [W.shape[1] for W in stack.coefs[:n_conv]]
        return conv_layer_shapes(geometry(stack), n_maps)

    def image_shape(self, stack):
        return geometry(stack).image_shape

    def check_layers(self, stack):
        config = stack.config
        if "image_shape" not in config or "conv_layers" not in config:
            raise ValueError(
                "A conv stack needs config['image_shape'] (H, W, C) and "
                "config['conv_layers'] (one (kh, kw, pad, pool) per conv layer)."
            )
        n_conv = n_conv_layers(stack)
        if stack.n_layers <= n_conv:
            raise ValueError(
                f"A conv stack needs a dense output layer after its {n_conv} "
                f"conv layer(s); it has {stack.n_layers} weight layers."
            )
        shapes, sizes = self._shapes(stack)
        for k, ((kh, kw, _, _), (in_shape, _, _)) in enumerate(
            zip(geometry(stack).layers, shapes)
        ):
            expected = kh * kw * in_shape[2]
            W, b = stack.coefs[k], stack.intercepts[k]
            if W.ndim != 2 or W.shape[0] != expected or b.shape != (W.shape[1],):
                raise ValueError(
                    f"Conv layer {k}: coef shape {W.shape} and intercept shape "
                    f"{b.shape} do not fit a {kh}x{kw} kernel over "
                    f"{in_shape[2]} input map(s) ({expected} rows)."
                )
        fan_in = sizes[-1]
        for k in range(n_conv, stack.n_layers):
            W, b = stack.coefs[k], stack.intercepts[k]
            if W.ndim != 2 or W.shape[0] != fan_in or b.shape != (W.shape[1],):
                raise ValueError(
                    f"Layer {k}: coef shape {W.shape} and intercept shape "
                    f"{b.shape} do not fit its {fan_in} inputs."
                )
            fan_in = W.shape[1]

    def layer_sizes(self, stack):
        sizes = self._shapes(stack)[1]
        return sizes + [W.shape[1] for W in stack.coefs[n_conv_layers(stack) :]]

    def rebuilt_config(self, stack, n_kept, new_sizes):
        # Fresh layers that take the place and size of the stack's own conv
        # layers stay conv layers (re-initialised); the first other fresh
        # layer ends the conv part.
        n_conv = min(n_conv_layers(stack), n_kept)
        sizes = self.layer_sizes(stack)
        for index, size in enumerate(new_sizes, start=n_kept):
            if index >= n_conv_layers(stack) or size != sizes[index + 1]:
                break
            n_conv += 1
        return {**stack.config, "conv_layers": stack.config["conv_layers"][:n_conv]}

    def new_layer(self, stack, index, fan_in, size, rng, scheme=None):
        scheme = scheme or self.new_layer_scheme
        if index < n_conv_layers(stack):
            # Re-initialise conv layer ``index`` with its own kernel shape.
            n_rows, n_maps = stack.coefs[index].shape
            W = init_weights(n_rows, n_maps, rng, stack.dtype, scheme)
            return W, np.zeros(n_maps, dtype=stack.dtype)
        W = init_weights(fan_in, size, rng, stack.dtype, scheme)
        return W, np.zeros(size, dtype=stack.dtype)

    # -- inference ------------------------------------------------------------
    def _predict(self, stack, X, n_layers=None):
        return conv_net_predict(
            stack.coefs,
            stack.intercepts,
            X,
            geometry(stack),
            stack.hidden_activation,
            stack.output_activation,
            n_layers=n_layers,
        )

    def output_proba(self, stack, X):
        return self._predict(stack, X)

    def hidden(self, stack, X, layer):
        return self._predict(stack, X, n_layers=layer)

    def hidden_layers(self, stack, X):
        # One pass keeping every layer's output (patches too, for a chunk of
        # rows at most: the callers read the target set in chunks).
        cache = self.forward_cache(stack, X, stack.n_layers - 1)
        return cache.activations[1:]

    # -- training -------------------------------------------------------------
    def activations(self, cache):
        return cache.activations

    def backward(self, stack, cache, output_grad, workspace):
        return conv_net_backward(
            stack.coefs,
            cache,
            output_grad,
            stack.hidden_activation,
            workspace=workspace,
        )

    # -- penalties on hidden codes --------------------------------------------
    def forward_cache(self, stack, X, n_layers, workspace=None):
        return conv_net_forward(
            stack.coefs,
            stack.intercepts,
            np.ascontiguousarray(X),
            geometry(stack),
            stack.hidden_activation,
            stack.output_activation,
            n_layers=n_layers,
            workspace=workspace,
        )

    def cache_hidden(self, cache, layer):
        return cache.activations[layer]

    def backward_hidden(self, stack, cache, layer_grads, coef_grads, intercept_grads):
        conv_net_backward_hidden(
            stack.coefs,
            cache,
            layer_grads,
            stack.hidden_activation,
            coef_grads,
            intercept_grads,
        )


CONV = register_family(ConvFamily())
