"""The MP-DBM family: deep Boltzmann machines run by mean-field inference and
trained by the multi-prediction objective (Goodfellow et al. 2013).

A DBM stack carries the bias of its visible layer (``visible_intercept``)
and, in ``config``, its inference and training settings (mean-field
iterations, mask probabilities, ...), so a transferred network is fine-tuned
with the same objective its source was trained with.
"""

import numpy as np

from skalltransfer._core._families._backprop import BackpropFamily
from skalltransfer._core._families._base import (
    Family,
    FinetuneDefaults,
    add_weight_penalty,
    register_family,
)
from skalltransfer._kernels._masks import sample_multiprediction_batch
from skalltransfer._kernels._mean_field import (
    mean_field_labels,
    mf_loss_grad,
    mp_loss_grad,
)
from skalltransfer._kernels._rng import new_state

# What a DBM stack's config falls back on for an entry it lacks: the
# defaults of MPDBMClassifier (one set; a test holds the two together).
MPDBM_DEFAULTS = {
    "n_mean_field_iter": 10,
    "drop_prob": 0.5,
    "label_drop_prob": 0.5,
    "label_weight": 10.0,
    "binarize": True,
    "multi_inference": True,
    # What the objective trains: a source trains by multi-prediction (then,
    # with a discriminative stage, records "discriminative"); a transfer
    # estimator sets "discriminative" unless told otherwise.
    "objective": "multi_prediction",
}

# Discriminative fine-tuning: Adam at the feed-forward family's step, through
# plain mean field (pixels clamped) unrolled over at most this many
# iterations; the fine-tuned network then predicts with the same inference.
# One iteration is the first, bottom-up pass (doubled weights below the top
# hidden layer): it transferred at least as well as longer chains, for a
# fraction of the cost (see the benchmarks page (docs/benchmarks.rst)).
# Re-measure: python benchmarks/bench_mpdbm_finetuning.py
FINETUNE_MEAN_FIELD_ITER = 1

# MP-DBM fine-tuning steps are the source's divided by this: the source's
# step (15 by default) is tuned for thousands of updates on a large source set
# with a decaying schedule; on a few dozen target images it throws the
# network far from its source weights (see the benchmarks page
# (docs/benchmarks.rst)).
# Re-measure: python benchmarks/bench_mpdbm_finetuning.py
FINETUNE_STEP_DIVISOR = 5.0

# pylearn2's MNIST step, for its loss averaged over 784 pixels: a step of
# 15 / 784 per predicted variable, which "auto" keeps for any image size.
MNIST_STEP, MNIST_PIXELS = 15.0, 784


def resolve_learning_rate(learning_rate_init, solver, n_features):
    """An MP-DBM's ``learning_rate_init``, with ``"auto"`` resolved: for SGD,
    pylearn2's MNIST step scaled by ``n_features / 784``, so that every
    predicted pixel and label gets the same step whatever the image size
    (the loss is an average over pixels); for Adam, which is invariant to
    the scale of the loss, 1e-3."""
    if learning_rate_init != "auto":
        return learning_rate_init
    if solver == "adam":
        return 1e-3
    return MNIST_STEP * n_features / MNIST_PIXELS


def auto_col_norms(n_layers):
    """pylearn2's MNIST column-norm limits, generalised to any depth: 1.81 for
    the first layer, 2.67 for the other hidden layers, 5.18 for the labels."""
    return [1.81] + [2.67] * (n_layers - 2) + [5.18]


def col_norm_limits(max_col_norm, n_layers):
    """The column-norm limits named by an MP-DBM's ``max_col_norm`` for a
    network of ``n_layers`` weight layers: ``"auto"`` becomes
    :func:`auto_col_norms`; None, a float or a sequence pass through."""
    if isinstance(max_col_norm, str):
        return auto_col_norms(n_layers)
    if max_col_norm is not None:
        limits = np.asarray(max_col_norm, dtype=float)
        if limits.ndim > 1 or not np.all(np.isfinite(limits)) or np.any(limits <= 0):
            raise ValueError(
                "max_col_norm must be 'auto', None, a positive number or one "
                f"positive number per weight layer, got {max_col_norm!r}."
            )
    return max_col_norm


def visible_bias_from_marginals(X):
    """A DBM's visible bias: the logits of the pixel marginals of ``X``
    (pylearn2's initialisation), clipped away from 0 and 1."""
    marginals = np.clip(X.mean(axis=0), 1e-7, 1 - 1e-7).astype(np.float64)
    return np.log(marginals / (1 - marginals)).astype(X.dtype)


class MPDBMFamily(Family):
    """A deep Boltzmann machine: binary visible units, sigmoid hidden layers,
    a softmax label layer on top, inference by mean field."""

    name = "mpdbm"
    # pylearn2's sparse initialisation: small, sign-balanced new layers.
    new_layer_scheme = "sparse"
    hidden_penalty_unsupported = (
        "an MP-DBM computes its hidden codes by mean-field inference, not by "
        "a feed-forward pass the penalty can be back-propagated through"
    )
    finetune_objectives = ("discriminative", "multi_prediction")
    # A silenced output layer (output_scale="auto" at 0) leaves the
    # recurrent mean-field net without a learning signal below it.
    fits_output_temperature = False

    @staticmethod
    def setting(stack, name):
        """A config entry of ``stack``, or the family default."""
        return stack.config.get(name, MPDBM_DEFAULTS[name])

    def _mean_field(self, stack, X):
        return mean_field_labels(
            stack.coefs,
            stack.intercepts,
            stack.visible_intercept,
            X,
            self.setting(stack, "n_mean_field_iter"),
            multi_inference=self.setting(stack, "multi_inference"),
        )

    def output_proba(self, stack, X):
        return self._mean_field(stack, X)[0]

    def hidden(self, stack, X, layer):
        # The mean-field marginals with the label layer left free.
        return self._mean_field(stack, X)[1][layer - 1]

    def hidden_layers(self, stack, X):
        return list(self._mean_field(stack, X)[1])

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
        """Minibatch multi-prediction loss and gradients.

        Each call draws fresh pixel and label masks (and, with ``binarize``,
        a fresh binarization of ``X``) from a kernel RNG seeded once from
        ``rng``. The label term is a cross-entropy whatever ``loss`` says:
        probability-row targets (the "mean" relation) are fitted in that
        sense.
        """
        if penalty is not None:
            self.check_hidden_penalty()
        if self.setting(stack, "objective") == "discriminative":
            return self._discriminative_objective(
                stack, X, targets, loss, sample_weight, l2, anchor
            )
        n_iter = self.setting(stack, "n_mean_field_iter")
        p_v = self.setting(stack, "drop_prob")
        p_y = self.setting(stack, "label_drop_prob")
        lam = self.setting(stack, "label_weight")
        binarize = self.setting(stack, "binarize")
        state = new_state(rng)
        dtype = X.dtype
        n_samples, D = X.shape
        weights = (
            None if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
        )

        def loss_grad(batch, rng):
            B = len(batch)
            Xb = np.empty((B, D), dtype=dtype)
            Mv = np.empty((B, D), dtype=dtype)
            My = np.empty(B, dtype=dtype)
            V0 = np.empty((B, D), dtype=dtype)
            v_init = (0.5 * np.tanh(0.5 * stack.visible_intercept) + 0.5).astype(dtype)
            sample_multiprediction_batch(
                X[batch], binarize, p_v, p_y, v_init, state, Xb, Mv, My, V0
            )
            w = None if weights is None else weights[batch] * (B / weights[batch].sum())
            value, gc, gi, gv = mp_loss_grad(
                stack.coefs,
                stack.intercepts,
                stack.visible_intercept,
                Xb,
                targets[batch],
                Mv,
                My,
                V0,
                n_iter,
                label_weight=lam,
                sample_weight=w,
            )
            value += add_weight_penalty(stack, gc, l2, anchor, 1.0 / n_samples)
            return value, [*gc, *gi, gv]

        return stack.params, loss_grad

    def _discriminative_objective(
        self, stack, X, targets, loss, sample_weight, l2, anchor
    ):
        """Cross-entropy (or squared error) of the label marginals that
        classification computes, back-propagated through the unrolled
        inference; deterministic: neither pixel masks nor binarization
        (neither helped transfer; see :ref:`benchmarks`)."""
        n_iter = self.setting(stack, "n_mean_field_iter")
        multi_inference = self.setting(stack, "multi_inference")
        n_samples = X.shape[0]
        weights = (
            None if sample_weight is None else np.asarray(sample_weight, dtype=X.dtype)
        )

        def loss_grad(batch, rng):
            value, gc, gi, gv = mf_loss_grad(
                stack.coefs,
                stack.intercepts,
                stack.visible_intercept,
                X[batch],
                targets[batch],
                n_iter,
                multi_inference=multi_inference,
                loss=loss,
                sample_weight=None if weights is None else weights[batch],
            )
            value += add_weight_penalty(stack, gc, l2, anchor, 1.0 / n_samples)
            # Plain mean field never reads the visible bias: leave it alone.
            return value, [*gc, *gi, gv if multi_inference else None]

        return stack.params, loss_grad

    def loss_window(self, n_batches):
        # The multi-prediction loss draws fresh masks every minibatch: judge
        # convergence on the mean loss of at least ~10 minibatches, or a
        # single lucky epoch of a tiny data set ends training early.
        return -(-10 // n_batches)

    def check_layers(self, stack):
        super().check_layers(stack)
        if stack.visible_intercept is None:
            raise ValueError(
                "An MP-DBM stack needs the bias of its visible layer "
                "(visible_intercept, one value per input)."
            )

    def init_input_layer(self, stack, X):
        stack.visible_intercept = visible_bias_from_marginals(X)

    def finetune_config(self, stack, objective=None):
        """Record the objective; a discriminatively fine-tuned network runs
        (and is trained through) plain mean field with at most
        ``FINETUNE_MEAN_FIELD_ITER`` iterations."""
        config = super().finetune_config(stack, objective)
        if (
            objective == "multi_prediction"
            and self.setting(stack, "objective") == "discriminative"
        ):
            # Its config now names the inference it was trained through
            # (one bottom-up pass), too short a chain for the objective.
            raise ValueError(
                "finetune_objective='multi_prediction' needs a source trained "
                "by multi-prediction only; this one ended with a discriminative "
                "stage. Fit the source with discriminative_max_iter=0."
            )
        config["objective"] = objective or self.finetune_objectives[0]
        if config["objective"] == "discriminative":
            config["multi_inference"] = False
            config["n_mean_field_iter"] = min(
                self.setting(stack, "n_mean_field_iter"), FINETUNE_MEAN_FIELD_ITER
            )
        return config

    def finetune_defaults(self, source_params, network):
        """Adam at 1e-3 for discriminative fine-tuning; for multi-prediction
        fine-tuning, the source's own optimizer with a smaller SGD step and
        its final momentum. Both keep the source's column-norm limits (a
        network of another depth than the source's explicit per-layer limits
        is left unconstrained)."""
        limits = source_params.get("max_col_norm")
        if not (limits is None or isinstance(limits, str) or np.isscalar(limits)):
            if len(limits) != network.n_layers:
                limits = None
        limits = col_norm_limits(limits, network.n_layers)
        momentum = source_params.get("final_momentum", 0.9)
        if self.setting(network, "objective") == "discriminative":
            return FinetuneDefaults(
                solver=BackpropFamily.finetune_solver,
                learning_rate_init=BackpropFamily.finetune_learning_rate,
                momentum=momentum,
                max_col_norm=limits,
            )
        solver = source_params.get("solver", "sgd")
        lr = resolve_learning_rate(
            source_params.get("learning_rate_init", "auto"),
            solver,
            network.layer_sizes[0],
        )
        return FinetuneDefaults(
            solver=solver,
            learning_rate_init=lr / FINETUNE_STEP_DIVISOR if solver == "sgd" else lr,
            momentum=momentum,
            max_col_norm=limits,
        )


MPDBM = register_family(MPDBMFamily())
