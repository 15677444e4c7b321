"""The feed-forward family: multilayer perceptrons trained by back-propagation
(the stacked autoencoders after pretraining, scikit-learn's MLPClassifier)."""

from skalltransfer._core._families._backprop import BackpropFamily
from skalltransfer._core._families._base import register_family
from skalltransfer._kernels._feedforward import (
    backward_hidden,
    backward_pass,
    forward_pass,
)


class FeedForwardFamily(BackpropFamily):
    """A feed-forward net: ``hidden_activation`` on every hidden layer and
    ``output_activation`` on the output layer."""

    name = "feedforward"
    # Fine-tuning: Adam at 1e-3 (BackpropFamily's defaults), which transferred
    # better than the SAE source's own SGD (lr 0.1, momentum 0.9); see the
    # benchmarks page (docs/benchmarks.rst).

    def output_proba(self, stack, X):
        return self.forward_cache(stack, X, None)[-2]

    def hidden(self, stack, X, layer):
        return self.forward_cache(stack, X, layer)[layer]

    def hidden_layers(self, stack, X):
        return self.forward_cache(stack, X, stack.n_layers - 1)[1:]

    def activations(self, cache):
        return cache

    def backward(self, stack, cache, output_grad, workspace):
        return backward_pass(stack.coefs, cache, output_grad, stack.hidden_activation)

    # The cache of a feed-forward net is its list of activations
    # (``forward_pass``): the penalty reads hidden codes from it directly.
    def forward_cache(self, stack, X, n_layers, workspace=None):
        return forward_pass(
            stack.coefs,
            stack.intercepts,
            X,
            stack.hidden_activation,
            stack.output_activation,
            n_layers=n_layers,
        )

    def cache_hidden(self, cache, layer):
        return cache[layer]

    def backward_hidden(self, stack, cache, layer_grads, coef_grads, intercept_grads):
        backward_hidden(
            stack.coefs,
            cache,
            layer_grads,
            stack.hidden_activation,
            coef_grads,
            intercept_grads,
        )


FEEDFORWARD = register_family(FeedForwardFamily())
