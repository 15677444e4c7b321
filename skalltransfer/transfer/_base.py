"""What every transfer estimator shares: resolving the source, fine-tuning a
network built from its layers (with optional L2-SP and MMD penalties), and
predicting through the fine-tuned network."""

import math
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._estimator import BaseStackClassifier
from skalltransfer._core._fitted import (
    check_classes,
    check_float_array,
    check_int,
    check_n_features,
    check_stack,
)
from skalltransfer._core._images import (
    ImageConventionWarning,
    convention_differences,
)
from skalltransfer._core._stack import LayerStack
from skalltransfer._core._training import (
    column_norm_constraint,
    make_optimizer,
    shifted_training_rows,
)
from skalltransfer._core._validation import batched, check_source_input
from skalltransfer._kernels._activations import inplace_softmax
from skalltransfer._kernels._image_stats import image_statistics
from skalltransfer._source_cache._resolve import check_source_data
from skalltransfer.transfer._mmd_penalty import check_mmd_layers, mmd_penalty
from skalltransfer.transfer._relation import proba_of_units
from skalltransfer.transfer._source import (
    SOURCE_PARAMETER_CONSTRAINTS,
    TransferSourceMixin,
)

# The budget of max_iter="auto" and the patience of n_iter_no_change="auto"
# when the family stops on a plateau (scikit-learn's MLP values).
AUTO_MAX_ITER = 100
AUTO_N_ITER_NO_CHANGE = 10

# How a fine-tuned network answers for the target classes: through selected
# source output units, through the nearest relation vector, or a new head.
UNITS, MEAN, HEAD = "units", "mean", "head"


def anchors(base, network, n_transferred):
    """L2-SP anchors: the source weights of the transferred layers."""
    dtype = network.dtype
    return [
        np.array(base.coefs[k], dtype=dtype, copy=True) if k < n_transferred else None
        for k in range(network.n_layers)
    ]


@dataclass
class Plan:
    """How a transfer estimator turns the source into the network to tune.

    Attributes
    ----------
    network : LayerStack
    n_transferred : int
        Weight layers copied from the source (anchors of the L2-SP penalty).
    mode : {"units", "mean", "head"}
    units : ndarray or None
        Source output unit per class (used in ``"units"`` mode; reported for
        the relation plot otherwise).
    relation : ndarray of shape (n_classes, n_source_units) or None
        The relation of target classes to source units (the training targets
        in ``"mean"`` mode).
    output_scale : float or None
        Factor applied to the transferred output layer (``"units"`` mode).
    cv_results : dict or None
        Inner search results of a transfer that chose its depth by CV.
    transferability : float or None
        LEEP of the source's outputs on the target training set.
    """

    network: LayerStack
    n_transferred: int
    mode: str = HEAD
    units: np.ndarray = None
    relation: np.ndarray = None
    output_scale: float = None
    cv_results: dict = None
    transferability: float = None

    def target_table(self, n_classes, dtype):
        """Training target of the output layer for each class code, one row
        per class."""
        if self.mode == UNITS:
            n_units = self.network.layer_sizes[-1]
            return np.eye(n_units, dtype=dtype)[self.units]
        if self.mode == MEAN:
            return self.relation.astype(dtype)
        return np.eye(n_classes, dtype=dtype)


def _warn_if_unlike_source(source, base, X):
    """Warn, naming the fix, when the target images look unlike the source's
    training images: the relation and the transferred layers assume the
    source's convention (for MNIST: a dark background, bright content)."""
    differences = convention_differences(
        getattr(source, "input_statistics_", None),
        image_statistics(X, base.family.image_shape(base)),
    )
    if differences:
        warnings.warn(
            "The target images look unlike the source's training images: "
            f"{'; '.join(differences)}. The source's units answer for its own "
            "kind of image, so the relation and the transfer may mean little. "
            "Load the images to match it: load_image_folder(..., "
            "invert='auto') for a bright background, intensity='per-image' "
            "for a grey background or a low contrast (on the command line: "
            "--invert auto, --intensity per-image).",
            ImageConventionWarning,
            stacklevel=5,
        )


def _check_class_weight(class_weight):
    """Raise a ValueError naming the problem if the weights of a
    ``class_weight`` dict cannot weigh a loss."""
    try:
        weights = np.array(list(class_weight.values()), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"class_weight must map labels to numbers, got {class_weight!r}."
        ) from None
    if not np.all(np.isfinite(weights)):
        raise ValueError(
            f"class_weight must hold finite weights, got {class_weight!r}."
        )
    if np.any(weights < 0):
        raise ValueError(
            f"class_weight must hold non-negative weights, got {class_weight!r}: "
            "a negative weight rewards the wrong class."
        )
    if weights.size and not np.any(weights > 0):
        raise ValueError(
            f"class_weight weights are all zero ({class_weight!r}), which leaves "
            "nothing to learn; give at least one class a positive weight."
        )


_COMMON_PARAMETERS = """
    source_data : SourceData or None, default=None
        Source training data: used to fit an unfitted source (or one whose
        parameters a search changed) and by the MMD penalty. Never sliced by
        cross-validation.
    source_memory : None, str, path or joblib.Memory, default=None
        Disk cache of fitted sources, keyed by the source parameters and the
        data fingerprint. Fitted sources are also cached in memory.
    finetune_objective : {"discriminative", "multi_prediction"} or None, \
            default=None
        What fine-tuning minimises. ``"discriminative"`` (what None means
        for every source) is the cross-entropy of the network's output on
        the targets, back-propagated through the network; for an MP-DBM
        source, through the unrolled mean-field inference that classifies,
        as through a recurrent net (Goodfellow et al. 2013).
        ``"multi_prediction"`` fine-tunes an MP-DBM with its own
        multi-prediction objective (the paper's step 2e; see the user guide
        for why it is not the default). Other sources have only the
        discriminative objective.
    solver : {"sgd", "adam"} or None, default=None
        Fine-tuning optimizer. None: Adam, except for an MP-DBM fine-tuned
        with the multi-prediction objective, which keeps the source's own SGD
        with momentum.
    learning_rate_init : float or None, default=None
        Fine-tuning step size. None: 1e-3 for Adam; a fifth of the source's
        step for an MP-DBM fine-tuned by multi-prediction (its step is tuned
        for long training on the large source set).
    momentum : float or None, default=None
        SGD momentum; None uses the source's.
    alpha : float, default=0.0
        L2 penalty. On transferred layers it pulls the weights toward their
        source values (L2-SP, Li et al. 2018), on new layers toward zero.
    mmd_lambda : float, default=0.0
        Weight of the multi-kernel MMD² between source and target codes of
        the hidden layers ``mmd_layers`` (DAN, Long et al. 2015), added to the
        fine-tuning loss. Needs ``source_data`` and a source trained by
        back-propagation (stacked or convolutional autoencoders,
        ``MLPClassifier``); an MP-DBM's codes come from mean-field inference
        and cannot be aligned.
    mmd_layers : int, sequence of int or None, default=None
        1-based hidden layers of the fine-tuned network to align; None is the
        top hidden layer. The output layer cannot be aligned (the label
        spaces differ).
    mmd_estimator : {"linear", "quadratic"}, default="linear"
        Linear-time unbiased MMD² estimator over quad-tuples, or the
        quadratic U-statistic.
    shift_augmentation : int or "auto", default="auto"
        Augment the target images while fine-tuning: each time a training
        image enters a minibatch it is shifted by random integers in
        ``[-shift_augmentation, shift_augmentation]`` pixels along each axis
        (zeros enter at the border). Needs rows that are images: those of a
        convolutional source, or a square number of pixels. 0 is off.
        ``"auto"`` is the source family's choice: 1 for a convolutional
        source, 0 for the fully-connected ones. Shifted images add training
        examples at no cost in labels, which helps convolutions (they see a
        shifted image as the same features moved) but not fully-connected
        layers, and shifting slows fine-tuning down (see :ref:`benchmarks`).
    batch_size : int, default=32
        Minibatch size (capped at the number of samples).
    max_iter : int or "auto", default="auto"
        Fine-tuning epochs. ``"auto"`` is 100 epochs, or for a
        convolutional source 100 epochs or 400 minibatch updates, whichever
        is more: ten images per class are a single minibatch per epoch, and
        an epoch budget would give them few steps (see :ref:`benchmarks`).
    tol : float, default=1e-4
        Smallest improvement of the monitored quantity (the training loss,
        or the validation score with ``early_stopping``) that counts as
        progress for ``n_iter_no_change``.
    n_iter_no_change : int, "auto" or None, default="auto"
        Stop fine-tuning when the monitored quantity has not improved by
        ``tol`` for this many consecutive epochs; None runs all ``max_iter``
        epochs (a fixed budget). ``"auto"`` is 10, except for a
        convolutional source without ``early_stopping``: None, because its
        shifted images keep the training loss moving. With
        ``early_stopping``, a ``ConvergenceWarning`` says when ``max_iter``
        epochs ended first.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the target data (at least one
        sample per class) and keep the parameters with the lowest validation
        log-loss.
    validation_fraction : float, default=0.1
        Fraction of the target data held out for early stopping (at least
        one sample per class, stratified when every class has two or more).
        Only used with ``early_stopping``.
    warm_start : bool, default=False
        Continue fine-tuning the previous fit's network on the new data (the
        same classes), e.g. when new labels arrive in active learning.
    random_state : int, RandomState instance or None, default=None
        Seeds new layers, random choices, masks and shuffling.
    verbose : int, default=0
        Print the loss (and the validation score) of every fine-tuning epoch
        when > 0.
"""

_COMMON_ATTRIBUTES = """
    classes_ : ndarray of shape (n_classes,)
    source_ : estimator
        The fitted source model used (shared, never modified).
    n_transferred_layers_ : int
        Number of weight layers copied from the source.
    network_ : LayerStack
        The fine-tuned network.
    coefs_, intercepts_ : list of ndarray
        Its weights and biases (views of ``network_``).
    n_layers_ : int
        Number of layers, the input and output layers included (as in
        ``MLPClassifier``).
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        Activation of the output layer (``"softmax"``).
    n_iter_ : int
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Mean log-likelihood of the held-out labels per epoch with
        ``early_stopping`` (higher is better: the negative log-loss).
    best_validation_score_ : float or None
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
"""


def fill_doc(cls):
    """Insert the shared parameter and attribute docs into ``cls.__doc__``."""
    # Keep the trailing newline: the next section header needs a blank line.
    cls.__doc__ = cls.__doc__.replace(
        "{common_parameters}", _COMMON_PARAMETERS.strip("\n").lstrip() + "\n"
    ).replace("{common_attributes}", _COMMON_ATTRIBUTES.strip("\n").lstrip() + "\n")
    return cls


class BaseTransferClassifier(TransferSourceMixin, BaseStackClassifier):
    """Fine-tune a network built from a source model's layers.

    Subclasses implement ``_plan(base, X, codes, classes, rng) -> Plan`` and
    may extend ``_store(plan)``.
    """

    _parameter_constraints: dict = {
        **BaseStackClassifier._parameter_constraints,
        **SOURCE_PARAMETER_CONSTRAINTS,
        "finetune_objective": [
            StrOptions({"discriminative", "multi_prediction"}),
            None,
        ],
        "solver": [StrOptions({"sgd", "adam"}), None],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "momentum": [Interval(Real, 0, 1, closed="left"), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "mmd_lambda": [Interval(Real, 0, None, closed="left")],
        "mmd_layers": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "mmd_estimator": [StrOptions({"linear", "quadratic"})],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "shift_augmentation": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_iter": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
    }

    # -- fitted network ---------------------------------------------------------
    @property
    def coefs_(self):
        return self.network_.coefs

    @property
    def intercepts_(self):
        return self.network_.intercepts

    def __sklearn_is_fitted__(self):
        return hasattr(self, "network_")

    def _check_fitted_state(self):
        """Raise a ValueError naming the attribute if the fitted state is not
        what a fit makes (a model read from a file)."""
        check_classes(self.classes_)
        if not isinstance(self.network_, LayerStack):
            raise ValueError("network_ must be a LayerStack.")
        check_stack(self.network_, "network_")
        check_n_features(self.network_, self.n_features_in_, "network_.coefs")
        plan = self._plan_
        if not isinstance(plan, Plan) or plan.mode not in (UNITS, MEAN, HEAD):
            raise ValueError("_plan_ must be a Plan of mode units, mean or head.")
        if plan.network is not self.network_:
            check_stack(plan.network, "_plan_.network")
        n_classes, n_outputs = len(self.classes_), self.network_.layer_sizes[-1]
        if plan.mode == HEAD and n_outputs != n_classes:
            raise ValueError(
                f"network_ has {n_outputs} output units for {n_classes} classes."
            )
        if plan.mode == UNITS:
            units = plan.units
            if (
                not isinstance(units, np.ndarray)
                or units.dtype.kind not in "iu"
                or units.shape != (n_classes,)
                or units.min() < 0
                or units.max() >= n_outputs
            ):
                raise ValueError(
                    f"_plan_.units must be {n_classes} output units in [0, "
                    f"{n_outputs}), got {units!r}."
                )
        if plan.mode == MEAN:
            check_float_array(plan.relation, "_plan_.relation", 2)
            if plan.relation.shape != (n_classes, n_outputs):
                raise ValueError(
                    f"_plan_.relation has shape {plan.relation.shape}, not "
                    f"({n_classes}, {n_outputs})."
                )
        check_int(plan.n_transferred, "_plan_.n_transferred")
        if plan.n_transferred > self.network_.n_layers:
            raise ValueError(
                "_plan_.n_transferred is larger than the network's layer count."
            )
        temperature = getattr(self, "_temperature", 1.0)
        if not (isinstance(temperature, float) and 0 < temperature < np.inf):
            raise ValueError("_temperature must be a positive, finite float.")

    def _layer_stack(self):
        """The fine-tuned network (lets a fitted transfer be a source too)."""
        check_is_fitted(self)
        return self.network_

    @property
    def _requires_unit_interval(self):
        source = getattr(self, "source_", None)
        return bool(getattr(source, "_requires_unit_interval", False))

    # -- fit ----------------------------------------------------------------------
    def _plan(self, base, X, codes, classes, rng):
        raise NotImplementedError

    def _store(self, plan):
        """Record estimator-specific fitted attributes of ``plan``."""

    @_fit_context(prefer_skip_nested_validation=False)  # the source may be fitted here
    def fit(self, X, y):
        """Transfer the source network to the target task ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Target samples, with the source's features.
        y : array-like of shape (n_samples,)
            Target labels (any hashable labels).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y)

    def _start_fit(self, X, codes, classes, rng, warm):
        check_source_data(self.source_data)
        if warm:
            source, plan = self.source_, self._plan_
        else:
            source = self._fitted_source()
        base = LayerStack.from_estimator(source)
        check_source_input(source, base, X)
        if not warm:
            _warn_if_unlike_source(source, base, X)
        if not warm:
            plan = self._plan(base, X, codes, classes, rng)
        network = plan.network
        network.config = network.family.finetune_config(
            network, self.finetune_objective
        )
        self.source_ = source
        self._plan_ = plan
        return plan.network

    def _set_network(self, network):
        self.network_ = network

    def _target_table(self, n_classes, dtype):
        return self._plan_.target_table(n_classes, dtype)

    def _sample_weight(self, codes, dtype):
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, dict):
            _check_class_weight(self.class_weight)
        # A dict is keyed by the target labels, as in scikit-learn, not by
        # their codes.
        labels = self.classes_[codes]
        return compute_sample_weight(self.class_weight, labels).astype(dtype)

    def _training_rows(self, network, X, rng):
        max_shift = self.shift_augmentation
        if max_shift == "auto":
            max_shift = self._finetune_defaults(network).shift_augmentation
        return shifted_training_rows(X, network, max_shift, rng)

    def _training_budget(self, network, n_train):
        defaults = self._finetune_defaults(network)
        max_iter = self.max_iter
        if max_iter == "auto":
            batches = math.ceil(n_train / min(self.batch_size, n_train))
            max_iter = max(AUTO_MAX_ITER, math.ceil(defaults.min_updates / batches))
        n_iter_no_change = self.n_iter_no_change
        if n_iter_no_change == "auto":
            stops = defaults.stop_on_plateau or self.early_stopping
            n_iter_no_change = AUTO_N_ITER_NO_CHANGE if stops else None
        return max_iter, n_iter_no_change

    def _finetune_defaults(self, network):
        return network.family.finetune_defaults(self.source_.get_params(), network)

    def _objective_options(self, network):
        plan = self._plan_
        return {
            "loss": "squared_error" if plan.mode == MEAN else "log_loss",
            "l2": self.alpha,
            "anchor": self._anchor(plan, LayerStack.from_estimator(self.source_)),
            "penalty": self._mmd_penalty(network),
        }

    def _make_optimizer(self, network, params):
        defaults = self._finetune_defaults(network)
        return make_optimizer(
            params,
            self.solver or defaults.solver,
            self.learning_rate_init or defaults.learning_rate_init,
            momentum=self.momentum if self.momentum is not None else defaults.momentum,
        )

    def _constraint(self, network):
        return column_norm_constraint(
            network, self._finetune_defaults(network).max_col_norm
        )

    def _end_fit(self, X, codes):
        plan = self._plan_
        self.n_transferred_layers_ = plan.n_transferred
        if plan.mode == MEAN:
            self._temperature = self._fit_temperature(X, codes)
        self._store(plan)

    def _anchor(self, plan, base):
        anchor = anchors(base, plan.network, plan.n_transferred)
        if plan.output_scale is not None and anchor[-1] is not None:
            anchor[-1] *= plan.output_scale  # L2-SP pulls toward the scaled start
        return anchor

    def _mmd_penalty(self, network):
        """DAN's MK-MMD hook for the fine-tuning loss, or None."""
        if not self.mmd_lambda:
            return None
        if self.source_data is None:
            raise ValueError(
                "mmd_lambda > 0 aligns source and target codes, so it needs the "
                "source images: pass source_data=SourceData(X_source, y_source)."
            )
        n_hidden = network.n_layers - 1
        layers = n_hidden if self.mmd_layers is None else self.mmd_layers
        return mmd_penalty(
            network,
            self.source_data.X,
            check_mmd_layers(layers, network.n_layers),
            self.mmd_lambda,
            estimator=self.mmd_estimator,
        )

    def _fit_temperature(self, X, codes):
        """Scale of the distance softmax of the "mean" relation: the mean
        squared distance of training outputs to their own relation vector."""
        out = batched(self.network_.output_proba, X)
        d2 = np.sum((out - self._plan_.relation[codes]) ** 2, axis=1)
        return float(max(d2.mean(), 1e-6))

    # -- prediction ---------------------------------------------------------------
    def _proba(self, X):
        plan = self._plan_
        out = self.network_.output_proba(X)
        if plan.mode == HEAD:
            return out
        if plan.mode == UNITS:
            return proba_of_units(out, plan.units, X.dtype)
        relation = plan.relation.astype(X.dtype)
        d2 = ((out[:, None, :] - relation[None, :, :]) ** 2).sum(axis=2)
        scores = (-d2 / getattr(self, "_temperature", 1.0)).astype(X.dtype)
        return inplace_softmax(scores)

    def decision_function(self, X):
        """Confidence scores: log-probabilities, or for two classes the
        log-odds of ``classes_[1]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        log_proba = self.predict_log_proba(X)
        if log_proba.shape[1] == 2:
            return log_proba[:, 1] - log_proba[:, 0]
        return log_proba
