"""The feed-forward family: multilayer perceptrons trained by back-propagation
(the stacked autoencoders after pretraining, scikit-learn's MLPClassifier)."""

import numpy as np

from .._kernels._feedforward import (
    backward_hidden,
    backward_pass,
    forward_pass,
    output_loss_grad,
)
from ._base import Family, FinetuneDefaults, add_weight_penalty, register_family

# Feed-forward fine-tuning uses Adam at this step unless told otherwise: on the
# development tasks it beat the SAE source's own SGD (lr 0.1, momentum 0.9) by
# 0.4 to 0.6 points of mean accuracy at n = 10, 50 and 100 per class.
FINETUNE_SOLVER = "adam"
FINETUNE_LEARNING_RATE = 1e-3


class FeedForwardFamily(Family):
    """A feed-forward net: ``hidden_activation`` on every hidden layer and
    ``output_activation`` on the output layer."""

    name = "feedforward"

    def output_proba(self, stack, X):
        return self.forward_cache(stack, X, None)[-2]

    def hidden(self, stack, X, layer):
        return self.forward_cache(stack, X, layer)[layer]

    def objective(
        self,
        stack,
        X,
        targets,
        *,
        rng,
        loss="log_loss",
        sample_weight=None,
        l2=0.0,
        anchor=None,
        penalty=None,
    ):
        n_samples = X.shape[0]
        weights = (
            np.ones(n_samples, dtype=X.dtype)
            if sample_weight is None
            else np.asarray(sample_weight, dtype=X.dtype)
        )

        def loss_grad(batch, rng):
            acts = self.forward_cache(stack, X[batch], None)
            value, out_grad = output_loss_grad(
                acts, targets[batch], loss, stack.output_activation, weights[batch]
            )
            coef_grads, intercept_grads = backward_pass(
                stack.coefs, acts, out_grad, stack.hidden_activation
            )
            if penalty is not None:
                value += penalty(acts, batch, rng, coef_grads, intercept_grads)
            value += add_weight_penalty(stack, coef_grads, l2, anchor, 1.0 / n_samples)
            return value, [*coef_grads, *intercept_grads]

        return [*stack.coefs, *stack.intercepts], loss_grad

    def finetune_defaults(self, source_params, network):
        return FinetuneDefaults(
            solver=FINETUNE_SOLVER,
            learning_rate_init=FINETUNE_LEARNING_RATE,
            momentum=source_params.get("momentum", 0.9),
        )

    # The cache of a feed-forward net is its list of activations
    # (``forward_pass``): the penalty reads hidden codes from it directly.
    def forward_cache(self, stack, X, n_layers):
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
