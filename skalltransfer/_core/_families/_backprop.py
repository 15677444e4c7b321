"""What the families trained by back-propagation share: the objective (a
loss on the output of a forward pass, its gradient by one backward sweep,
optional penalties) and the fine-tuning defaults.

A subclass says how its networks run forward (``forward_cache``) and back
(``backward``), and where its cache keeps the activations (``activations``);
the feed-forward and the convolutional families are two such subclasses.
"""

import numpy as np

from skalltransfer._core._families._base import (
    Family,
    FinetuneDefaults,
    add_weight_penalty,
)
from skalltransfer._kernels._feedforward import output_loss_grad


class BackpropFamily(Family):
    """A family whose networks compute by a forward pass and learn by
    back-propagation of a loss on their output layer.

    Subclasses implement :meth:`forward_cache`, :meth:`activations` and
    :meth:`backward` (and the other :class:`Family` methods they need).
    """

    #: Fine-tuning optimizer and step used when a transfer leaves them unset.
    finetune_solver = "adam"
    finetune_learning_rate = 1e-3
    #: Largest random shift of the target images while fine-tuning.
    finetune_shift_augmentation = 0
    #: Fewest minibatch updates of a fine-tuning budget of "auto" epochs.
    finetune_min_updates = 0
    #: Whether fine-tuning stops when the training loss stalls.
    finetune_stop_on_plateau = True

    def activations(self, cache):
        """``[X, A_1, ..., output, logits]`` of a full forward pass's cache."""
        raise NotImplementedError

    def backward(self, stack, cache, output_grad, workspace):
        """``(coef_grads, intercept_grads)`` of every layer from the gradient
        w.r.t. the output logits."""
        raise NotImplementedError

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
        workspace = {}  # scratch buffers reused by every minibatch

        def loss_grad(batch, rng):
            cache = self.forward_cache(stack, X[batch], None, workspace)
            value, out_grad = output_loss_grad(
                self.activations(cache),
                targets[batch],
                loss,
                stack.output_activation,
                weights[batch],
            )
            coef_grads, intercept_grads = self.backward(
                stack, cache, out_grad, workspace
            )
            if penalty is not None:
                value += penalty(cache, batch, rng, coef_grads, intercept_grads)
            value += add_weight_penalty(stack, coef_grads, l2, anchor, 1.0 / n_samples)
            return value, [*coef_grads, *intercept_grads]

        return [*stack.coefs, *stack.intercepts], loss_grad

    def finetune_defaults(self, source_params, network):
        return FinetuneDefaults(
            solver=self.finetune_solver,
            learning_rate_init=self.finetune_learning_rate,
            momentum=source_params.get("momentum", 0.9),
            shift_augmentation=self.finetune_shift_augmentation,
            min_updates=self.finetune_min_updates,
            stop_on_plateau=self.finetune_stop_on_plateau,
        )
