"""What every transfer estimator shares: resolving the source, fine-tuning a
network built from its layers (with optional L2-SP and MMD penalties), and
predicting through the fine-tuned network."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import (
    BaseStackClassifier,
    batched,
    check_unit_interval,
    encode_labels,
    validation_split,
)
from ._kernels._activations import inplace_softmax
from ._mmd import check_mmd_layers, mmd_penalty
from ._mpdbm import auto_col_norms
from ._network import (
    column_norm_constraint,
    feedforward_objective,
    hidden_representation,
    mp_objective,
    output_proba,
)
from ._source import SourceData, TransferSourceMixin
from ._stack import LayerStack
from ._training import make_optimizer, run_training

# How a fine-tuned network answers for the target classes: through selected
# source output units, through the nearest relation vector, or a new head.
UNITS, MEAN, HEAD = "units", "mean", "head"


# MP-DBM fine-tuning steps are the source's divided by this: the source's
# step (15 by default) is tuned for thousands of updates on a large source set
# with a decaying schedule; on a few dozen target images it throws the
# network far from its source weights (Trouser/Dress, Sneaker/Ankle boot and
# Coat/Shirt at 10 images per class, 3 draws: 78.5% mean accuracy with a
# fifth of the step, 64.6% with the full one).
MPDBM_FINETUNE_STEP_DIVISOR = 5.0

# Feed-forward fine-tuning uses Adam at this step unless told otherwise: on the
# development tasks it beat the SAE source's own SGD (lr 0.1, momentum 0.9) by
# 0.4 to 0.6 points of mean accuracy at n = 10, 50 and 100 per class.
FEEDFORWARD_FINETUNE = {"solver": "adam", "learning_rate_init": 1e-3}


def finetune_defaults(source, family):
    """Fine-tuning settings used when ``solver``, ``learning_rate_init`` or
    ``momentum`` are None: an MP-DBM source keeps its own optimizer with a
    smaller step; a feed-forward source is fine-tuned with Adam."""
    params = source.get_params()
    if family == "mpdbm":
        limits = params.get("max_col_norm")

        def col_norms(network):
            # The fine-tuned network may have another depth than the source.
            if isinstance(limits, str):
                return auto_col_norms(network.n_layers)
            if limits is None or np.isscalar(limits):
                return limits
            return limits if len(limits) == network.n_layers else None

        solver = params.get("solver", "sgd")
        lr = params.get("learning_rate_init", 15.0)
        return {
            "solver": solver,
            "learning_rate_init": lr / MPDBM_FINETUNE_STEP_DIVISOR
            if solver == "sgd"
            else lr,
            "momentum": params.get("final_momentum", 0.9),
            "max_col_norm": col_norms,
        }
    return {
        **FEEDFORWARD_FINETUNE,
        "momentum": params.get("momentum", 0.9),
        "max_col_norm": lambda network: None,
    }


def anchors(base, network, n_transferred):
    """L2-SP anchors: the source weights of the transferred layers."""
    dtype = network.dtype
    return [
        np.array(base.coefs[k], dtype=dtype, copy=True) if k < n_transferred else None
        for k in range(network.n_layers)
    ]


def init_visible_bias(network, X):
    """A new DBM's visible bias from the target pixel marginals (pylearn2)."""
    marginals = np.clip(X.mean(axis=0), 1e-7, 1 - 1e-7).astype(np.float64)
    network.visible_intercept = np.log(marginals / (1 - marginals)).astype(X.dtype)


class Plan:
    """How a transfer estimator turns the source into the network to tune.

    Attributes
    ----------
    network : LayerStack
    n_transferred : int
        Weight layers copied from the source (anchors of the L2-SP penalty).
    mode : {"units", "mean", "head"}
    units : ndarray or None
        Source output unit per class (``"units"`` mode).
    relation : ndarray or None
        Relation vectors (``"mean"`` mode targets).
    """

    def __init__(self, network, n_transferred, mode=HEAD, units=None, relation=None):
        self.network = network
        self.n_transferred = n_transferred
        self.mode = mode
        self.units = units
        self.relation = relation

    def target_table(self, n_classes, dtype):
        """Training target of the output layer for each class code, one row
        per class."""
        if self.mode == UNITS:
            n_units = self.network.layer_sizes[-1]
            return np.eye(n_units, dtype=dtype)[self.units]
        if self.mode == MEAN:
            return self.relation.astype(dtype)
        return np.eye(n_classes, dtype=dtype)


class TargetRows:
    """The training targets ``table[codes]``, built one minibatch at a time:
    fine-tuning never holds the (n_samples, n_outputs) target matrix."""

    def __init__(self, table, codes):
        self.table = table
        self.codes = codes

    def __getitem__(self, rows):
        return self.table[self.codes[rows]]


_COMMON_PARAMETERS = """
    source_data : SourceData or None, default=None
        Source training data: used to fit an unfitted source (or one whose
        parameters a search changed) and by the MMD penalty. Never sliced by
        cross-validation.
    source_memory : None, str, path or joblib.Memory, default=None
        Disk cache of fitted sources, keyed by the source parameters and the
        data fingerprint. Fitted sources are also cached in memory.
    solver : {"sgd", "adam"} or None, default=None
        Fine-tuning optimizer. None: for an MP-DBM source, the source's own
        (SGD with momentum); for a feed-forward source, Adam.
    learning_rate_init : float or None, default=None
        Fine-tuning step size. None: a fifth of an MP-DBM source's step
        (its step is tuned for long training on the large source set), 1e-3
        for Adam on a feed-forward source.
    momentum : float or None, default=None
        SGD momentum; None uses the source's.
    alpha : float, default=0.0
        L2 penalty. On transferred layers it pulls the weights toward their
        source values (L2-SP, Li et al. 2018), on new layers toward zero.
    mmd_lambda : float, default=0.0
        Weight of the multi-kernel MMD² between source and target codes of
        the hidden layers ``mmd_layers`` (DAN, Long et al. 2015), added to the
        fine-tuning loss. Needs ``source_data`` and a feed-forward source.
    mmd_layers : int, sequence of int or None, default=None
        1-based hidden layers of the fine-tuned network to align; None is the
        top hidden layer. The output layer cannot be aligned (the label
        spaces differ).
    mmd_estimator : {"linear", "quadratic"}, default="linear"
        Linear-time unbiased MMD² estimator over quad-tuples, or the
        quadratic U-statistic.
    batch_size : int, default=32
        Minibatch size (capped at the number of samples).
    max_iter : int, default=100
        Fine-tuning epochs.
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the target data (at least one
        sample per class) and keep the parameters with the lowest validation
        log-loss.
    validation_fraction : float, default=0.1
    warm_start : bool, default=False
        Continue fine-tuning the previous fit's network on the new data (the
        same classes), e.g. when new labels arrive in active learning.
    random_state : int, RandomState instance or None, default=None
        Seeds new layers, random choices, masks and shuffling.
    verbose : int, default=0
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
    n_iter_ : int
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Mean validation log-likelihood per epoch with ``early_stopping``.
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
        "source": [HasMethods(["fit"])],
        "source_data": [SourceData, None],
        "source_memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "solver": [StrOptions({"sgd", "adam"}), None],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "momentum": [Interval(Real, 0, 1, closed="left"), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "mmd_lambda": [Interval(Real, 0, None, closed="left")],
        "mmd_layers": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "mmd_estimator": [StrOptions({"linear", "quadratic"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
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
        X, y = validate_data(self, X, y, dtype=(np.float32, np.float64))
        classes, codes = encode_labels(y)
        rng = check_random_state(self.random_state)
        warm = self.warm_start and hasattr(self, "network_")
        if warm:
            self._check_warm_classes(classes)
            source, plan = self.source_, self._plan_
        else:
            source = self._fitted_source()
        base = LayerStack.from_estimator(source)
        if base.layer_sizes[0] != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features but the source network expects "
                f"{base.layer_sizes[0]}; resize the target images to the "
                "source's input size (e.g. load_image_folder(size=(28, 28)))."
            )
        if getattr(source, "_requires_unit_interval", False):
            check_unit_interval(X)
        if not warm:
            plan = self._plan(base, X, codes, classes, rng)
        weights = (
            None
            if self.class_weight is None
            else compute_sample_weight(self.class_weight, codes).astype(X.dtype)
        )
        # Prediction state first: early stopping predicts during training.
        self._plan_ = plan
        self.network_ = plan.network
        self.classes_ = classes
        result = self._finetune(plan, base, source, X, codes, weights, rng)

        self.source_ = source
        self.n_transferred_layers_ = plan.n_transferred
        self._store_result(result, warm)
        if plan.mode == MEAN:
            self._temperature = self._fit_temperature(X, codes)
        self._store(plan)
        return self

    def _anchor(self, plan, base):
        return anchors(base, plan.network, plan.n_transferred)

    def _finetune(self, plan, base, source, X, codes, weights, rng):
        network = plan.network
        table = plan.target_table(len(self.classes_), X.dtype)
        anchor = self._anchor(plan, base)
        defaults = finetune_defaults(source, network.family)
        solver = self.solver or defaults["solver"]
        lr = self.learning_rate_init or defaults["learning_rate_init"]
        momentum = self.momentum if self.momentum is not None else defaults["momentum"]

        X_train, T_train, w_train = X, TargetRows(table, codes), weights
        validation_score = None
        if self.early_stopping:
            train, val = validation_split(len(X), codes, self.validation_fraction, rng)
            X_train, T_train = X[train], TargetRows(table, codes[train])
            w_train = None if weights is None else weights[train]
            X_val, codes_val = X[val], codes[val]

            def validation_score():
                proba = self._proba(X_val)
                picked = proba[np.arange(len(codes_val)), codes_val]
                return float(np.mean(np.log(np.maximum(picked, 1e-12))))

        penalty = self._mmd_penalty(network, rng)
        if network.family == "mpdbm":
            params, loss_grad = mp_objective(
                network,
                X_train,
                T_train,
                rng=rng,
                sample_weight=w_train,
                l2=self.alpha,
                anchor=anchor,
            )
            after_update = column_norm_constraint(
                network, defaults["max_col_norm"](network)
            )
            # Judge convergence on the loss of at least ~10 minibatches.
            n_batches = max(1, len(X_train) // min(self.batch_size, len(X_train)))
            loss_window = -(-10 // n_batches)
        else:
            params, loss_grad = feedforward_objective(
                network,
                X_train,
                T_train,
                loss="squared_error" if plan.mode == MEAN else "log_loss",
                sample_weight=w_train,
                l2=self.alpha,
                anchor=anchor,
                extra_penalty=penalty,
            )
            after_update = None
            loss_window = 1
        optimizer = make_optimizer(params, solver, lr, momentum=momentum)
        return run_training(
            params,
            loss_grad,
            len(X_train),
            optimizer=optimizer,
            max_iter=self.max_iter,
            batch_size=self.batch_size,
            rng=rng,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            validation_score=validation_score,
            after_update=after_update,
            verbose=self.verbose,
            name=type(self).__name__,
            loss_window=loss_window,
        )

    def _mmd_penalty(self, network, rng):
        """DAN's MK-MMD hook for the fine-tuning loss, or None."""
        if not self.mmd_lambda:
            return None
        if self.source_data is None:
            raise ValueError(
                "mmd_lambda > 0 aligns source and target codes, so it needs the "
                "source images: pass source_data=SourceData(X_source, y_source)."
            )
        if network.family != "feedforward":
            raise ValueError(
                "The MMD penalty needs a feed-forward network (e.g. a "
                "StackedAutoencoderClassifier source); an MP-DBM is fine-tuned "
                "with its own multi-prediction objective. Set mmd_lambda=0."
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
        out = batched(lambda chunk: output_proba(self.network_, chunk), X)
        d2 = np.sum((out - self._plan_.relation[codes]) ** 2, axis=1)
        return float(max(d2.mean(), 1e-6))

    # -- prediction ---------------------------------------------------------------
    def _proba(self, X):
        plan = self._plan_
        out = output_proba(self.network_, X)
        if plan.mode == HEAD:
            return out
        if plan.mode == UNITS:
            picked = out[:, plan.units].astype(X.dtype, copy=True)
            total = picked.sum(axis=1, keepdims=True)
            # Renormalise over the selected units (a uniform row if all vanish).
            np.divide(picked, total, out=picked, where=total > 0)
            picked[total[:, 0] <= 0] = 1.0 / picked.shape[1]
            return picked
        relation = plan.relation.astype(X.dtype)
        d2 = ((out[:, None, :] - relation[None, :, :]) ** 2).sum(axis=2)
        scores = (-d2 / getattr(self, "_temperature", 1.0)).astype(X.dtype)
        return inplace_softmax(scores)

    def _hidden(self, X):
        return hidden_representation(self.network_, X)

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

    def get_feature_names_out(self, input_features=None):
        """Names of the :meth:`transform` output (the top hidden layer)."""
        check_is_fitted(self)
        prefix = type(self).__name__.lower()
        n = self.network_.layer_sizes[-2]
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)
