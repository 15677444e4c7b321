"""What a model family is, and the registry of families.

A :class:`~skalltransfer.LayerStack` holds arrays by index; its family is the
object that says how those arrays compute and learn. Everything that differs
between a feed-forward net, a convolutional net and a deep Boltzmann machine
lives in one :class:`Family` subclass, in one module: source models and
transfer estimators ask the family and never test which one it is.
"""

from dataclasses import dataclass

import numpy as np

from skalltransfer._core._images import square_image_shape
from skalltransfer._kernels._init import init_weights

_REGISTRY = {}


def register_family(family):
    """Make ``family`` (a :class:`Family` instance) known by its ``name``."""
    if not isinstance(family, Family) or not family.name:
        raise TypeError(f"Expected a named Family instance, got {family!r}.")
    _REGISTRY[family.name] = family
    return family


def get_family(family):
    """The registered family named ``family`` (a family passes through)."""
    if isinstance(family, Family):
        return family
    try:
        return _REGISTRY[family]
    except (KeyError, TypeError):
        raise ValueError(
            f"family must be one of {tuple(_REGISTRY)}, got {family!r}."
        ) from None


@dataclass(frozen=True)
class FinetuneDefaults:
    """Fine-tuning settings a family derives from a source, used where a
    transfer estimator's ``solver``, ``learning_rate_init`` or ``momentum``
    are None and its ``shift_augmentation``, ``max_iter`` or
    ``n_iter_no_change`` are "auto".

    Attributes
    ----------
    solver : {"sgd", "adam"}
    learning_rate_init : float
    momentum : float
    max_col_norm : None, float or list
        Column-norm limits for
        :func:`~skalltransfer._core._training.column_norm_constraint`.
    shift_augmentation : int
        Largest random shift (pixels) of the target images while fine-tuning.
    min_updates : int
        Fewest minibatch updates of ``max_iter="auto"``: more epochs than the
        default when the target is a few minibatches.
    stop_on_plateau : bool
        Whether ``n_iter_no_change="auto"`` stops when the training loss
        stalls (False: the budget runs out, unless ``early_stopping``).
    """

    solver: str
    learning_rate_init: float
    momentum: float
    max_col_norm: object = None
    shift_augmentation: int = 0
    min_updates: int = 0
    stop_on_plateau: bool = True


class Family:
    """How a :class:`~skalltransfer.LayerStack` computes and learns.

    One instance per family, registered by name with
    :func:`register_family`; a stack holds the instance. A family instance
    compares equal to its name, so ``stack.family == "mpdbm"`` also works.

    To add a family, subclass this in a module of its own under
    ``skalltransfer/_core/_families/``, implement the methods that raise
    ``NotImplementedError`` (and override the defaults that do not hold),
    register an instance and import the module in
    ``skalltransfer/_core/_families/__init__.py``. Nothing else changes: the
    training loop, the transfer estimators and the MMD penalty only call the
    methods below.
    """

    #: Registered name (``LayerStack(..., family=name)``).
    name = None
    #: Initialisation scheme of fresh layers (:func:`init_weights`).
    new_layer_scheme = "glorot"
    #: Why a penalty on hidden codes (the MMD penalty) cannot be
    #: back-propagated through this family, or None when it can.
    hidden_penalty_unsupported = None
    #: The fine-tuning objectives a transfer estimator's
    #: ``finetune_objective`` may name for this family; the first is the
    #: default. Back-propagation of the output loss is "discriminative".
    finetune_objectives = ("discriminative",)
    #: Whether ``output_scale="auto"`` fits the starting temperature of a
    #: transferred output layer (which may silence it); False keeps it
    #: unchanged (scale 1).
    fits_output_temperature = True
    #: Whether the network reads its input rows in the layout of
    #: :meth:`image_shape` (convolutions do); False when that shape is only
    #: how a square input is shown, and images of another shape with as
    #: many pixels feed it as well.
    reads_image_layout = False

    # -- identity -------------------------------------------------------------
    def __eq__(self, other):
        if isinstance(other, str):
            return other == self.name
        return isinstance(other, Family) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return repr(self.name)

    def __reduce__(self):
        # Pickles name the family; loading returns the registered instance.
        return get_family, (self.name,)

    # -- shapes ---------------------------------------------------------------
    def check_layers(self, stack):
        """Raise a ValueError naming the layer whose arrays do not fit.

        The default is a chain of dense layers: ``coefs[k]`` of shape
        (n_k, n_{k+1}) and ``intercepts[k]`` of shape (n_{k+1},).
        """
        for k, (W, b) in enumerate(zip(stack.coefs, stack.intercepts)):
            if W.ndim != 2 or b.shape != (W.shape[1],):
                raise ValueError(
                    f"Layer {k}: coef shape {W.shape} and intercept shape "
                    f"{b.shape} do not match."
                )
            if k and W.shape[0] != stack.coefs[k - 1].shape[1]:
                raise ValueError(
                    f"Layer {k} expects {W.shape[0]} inputs but layer {k - 1} "
                    f"has {stack.coefs[k - 1].shape[1]} outputs."
                )

    def layer_sizes(self, stack):
        """Units per layer, the input layer first (flattened sizes)."""
        return [stack.coefs[0].shape[0]] + [W.shape[1] for W in stack.coefs]

    def image_shape(self, stack):
        """``(height, width, channels)`` of one input row read as an image,
        or None when the rows are not known to be images: a square
        one-channel image when the input size is a perfect square."""
        return square_image_shape(stack.coefs[0].shape[0])

    # -- inference ------------------------------------------------------------
    def output_proba(self, stack, X):
        """Output-layer values (probabilities) of ``stack`` for rows ``X``."""
        raise NotImplementedError

    def hidden(self, stack, X, layer):
        """Activations of hidden layer ``layer`` (1-based, validated by the
        caller) for rows ``X``, flattened to (n_samples, n_units)."""
        raise NotImplementedError

    def hidden_layers(self, stack, X):
        """Activations of every hidden layer, ``[A_1, ..., A_{L-1}]``, for
        rows ``X``; a family that computes them all in one pass says so."""
        return [self.hidden(stack, X, layer) for layer in range(1, stack.n_layers)]

    # -- training -------------------------------------------------------------
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
        """The training objective of ``stack`` on ``(X, targets)``.

        Parameters
        ----------
        stack : LayerStack
            The network; its arrays are the live parameters.
        X : ndarray of shape (n_samples, n_features)
        targets : indexable by row indices
            ``targets[batch]`` is the output-layer target of a minibatch
            (one-hot rows, or any probability rows).
        rng : numpy.random.RandomState
            Seeds the objective's own randomness (masks, noise) once.
        loss : {"log_loss", "squared_error"}, default="log_loss"
        sample_weight : ndarray of shape (n_samples,) or None
        l2 : float
            Weight of ``||W||^2 / 2`` (``||W - anchor||^2 / 2`` for layers
            with an anchor: L2-SP), scaled by ``1 / n_samples``.
        anchor : list of ndarray or None
            One entry per weight layer (None for layers without anchor).
        penalty : callable or None
            ``penalty(cache, batch, rng, coef_grads, intercept_grads)``, a
            penalty on hidden codes (see :meth:`forward_cache`); families with
            ``hidden_penalty_unsupported`` refuse it.

        Returns
        -------
        params : list of ndarray
            The live arrays to optimise.
        loss_grad : callable
            ``loss_grad(batch, rng) -> (loss, grads)`` with ``grads`` aligned
            with ``params``.
        """
        raise NotImplementedError

    def loss_window(self, n_batches):
        """Epochs whose mean training loss judges convergence (see
        :func:`~skalltransfer._core._training.run_training`), given the number of
        minibatches per epoch. A deterministic objective needs one."""
        return 1

    # -- building networks ----------------------------------------------------
    def rebuilt_config(self, stack, n_kept, new_sizes):
        """The config of ``stack`` rebuilt from its first ``n_kept`` layers
        and fresh layers of ``new_sizes`` units (truncated when
        ``new_sizes`` is empty); see :meth:`LayerStack.rebuild`."""
        return stack.config

    def new_layer(self, stack, index, fan_in, size, rng, scheme=None):
        """Weights and biases of a fresh layer ``index`` of ``size`` units fed
        by ``fan_in`` units (``scheme`` None: :attr:`new_layer_scheme`).

        ``stack`` is the stack being rebuilt, holding the original layers and
        the rebuilt config (:meth:`rebuilt_config`)."""
        scheme = scheme or self.new_layer_scheme
        W = init_weights(fan_in, size, rng, stack.dtype, scheme)
        return W, np.zeros(size, dtype=stack.dtype)

    def init_input_layer(self, stack, X):
        """Set the input-layer parameters of a network about to be trained
        from scratch on ``X`` (nothing for families without any)."""

    # -- transfer -------------------------------------------------------------
    def finetune_config(self, stack, objective=None):
        """The config of ``stack``, about to be fine-tuned by a transfer
        estimator with ``objective`` (one of :attr:`finetune_objectives`;
        None is the first). A family with a single objective returns the
        config unchanged; one with several records the choice in it."""
        if objective is not None and objective not in self.finetune_objectives:
            raise ValueError(
                f"finetune_objective={objective!r} is not available for a "
                f"{self.name!r} source; use one of {self.finetune_objectives} "
                "or None."
            )
        return dict(stack.config)

    def finetune_defaults(self, source_params, network):
        """:class:`FinetuneDefaults` for fine-tuning ``network`` built from a
        source model whose parameters are ``source_params``."""
        raise NotImplementedError

    # -- penalties on hidden codes ---------------------------------------------
    def check_hidden_penalty(self):
        """Raise a ValueError saying why a penalty on hidden codes (the MMD
        penalty) cannot be used with this family, if it cannot."""
        if self.hidden_penalty_unsupported is not None:
            raise ValueError(
                f"A penalty on hidden codes (the MMD penalty) cannot be used "
                f"with a {self.name!r} network: {self.hidden_penalty_unsupported}. "
                "Set mmd_lambda=0, or transfer from a source trained by "
                "back-propagation (StackedAutoencoderClassifier, "
                "ConvAutoencoderClassifier or MLPClassifier)."
            )

    def forward_cache(self, stack, X, n_layers):
        """Run the first ``n_layers`` layers of ``stack`` on ``X`` (all of
        them for None) and keep what :meth:`backward_hidden` needs: the
        ``cache`` a penalty gets."""
        self.check_hidden_penalty()
        raise NotImplementedError

    def cache_hidden(self, cache, layer):
        """Codes of hidden layer ``layer`` (1-based) held in ``cache``,
        flattened to (n_samples, n_units)."""
        self.check_hidden_penalty()
        raise NotImplementedError

    def backward_hidden(self, stack, cache, layer_grads, coef_grads, intercept_grads):
        """Add the gradient of a penalty on hidden codes to the parameter
        gradients. ``layer_grads`` maps a 1-based hidden layer to the
        gradient w.r.t. its codes; ``None`` gradient entries are frozen."""
        self.check_hidden_penalty()
        raise NotImplementedError


def add_weight_penalty(stack, grads, l2, anchor, scale):
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
