"""AllTransferClassifier: transfer every layer of a source network, the output
layer included (Sawada & Kozuka; Sawada et al.)."""

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
from ._mpdbm import auto_col_norms
from ._network import (
    column_norm_constraint,
    feedforward_objective,
    hidden_representation,
    mp_objective,
    output_proba,
)
from ._relation import fit_output_scale, relation_matrix, select_units
from ._source import TransferSourceMixin
from ._stack import LayerStack
from ._training import make_optimizer, run_training

# How the fine-tuned network answers for the target classes.
_UNITS, _MEAN, _HEAD = "units", "mean", "head"


def finetune_defaults(source, family):
    """Fine-tuning settings inherited from the source model's own training."""
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

        return {
            "solver": params.get("solver", "sgd"),
            "learning_rate_init": params.get("learning_rate_init", 1.0),
            "momentum": params.get("final_momentum", 0.73),
            "max_col_norm": col_norms,
        }
    solver = params.get("solver", "sgd")
    if solver not in ("sgd", "adam"):
        solver = "adam"
    lr = params.get("learning_rate_init", 0.1 if solver == "sgd" else 1e-3)
    return {
        "solver": solver,
        "learning_rate_init": lr,
        "momentum": params.get("momentum", 0.9),
        "max_col_norm": lambda s: None,
    }


def scale_output_layer(network, scale):
    """Multiply the output layer (weights and biases) of ``network`` by
    ``scale`` in place: a temperature of the source's answers."""
    network.coefs[-1] *= scale
    network.intercepts[-1] *= scale


class AllTransferClassifier(TransferSourceMixin, BaseStackClassifier):
    r"""Transfer all layers of a source network, the output layer included.

    The method of Sawada & Kozuka ("Whole layers transfer learning of deep
    neural networks for a small scale dataset"):

    1. feed the target images through the fitted source network;
    2. measure how each target class relates to the source output units
       (``relation_``);
    3. pick one source output unit per target class (``selected_units_``);
    4. fine-tune **every** layer, the output layer included, so that the
       selected units answer for the target classes.

    With ``n_transferred_layers=T < L`` only the first T weight layers are
    transferred and the rest is re-initialised under a new output layer (the
    usual "fine-tuning" scheme; T=0 trains the same architecture from scratch).

    ``fit`` takes target data only; the source comes from the constructor, so
    ``cross_val_score`` and ``GridSearchCV`` work on the target set unchanged
    and never refit (or modify) a fitted source.

    Parameters
    ----------
    source : estimator
        The source model: a fitted :class:`MPDBMClassifier`,
        :class:`StackedAutoencoderClassifier` or scikit-learn
        ``MLPClassifier``, optionally wrapped in
        ``sklearn.frozen.FrozenEstimator``; or an unfitted one together with
        ``source_data``. An MP-DBM source is fine-tuned with its own
        multi-prediction objective, the others by back-propagation.
    n_transferred_layers : "all" or int, default="all"
        The paper's T. ``"all"`` (= L, the number of weight layers) reuses
        every parameter and the selected units answer for the target classes
        (the proposed method). ``0 < T < L`` copies the first T weight layers
        and re-initialises the rest, with a new output layer of
        ``n_classes`` units; ``0`` trains the same architecture from random
        initialisation.
    extra_hidden_layer : int or None, default=None
        Add a new hidden layer of this many units under the new output layer
        (the paper's "T=2, adding a new layer", after Oquab et al.).
        Needs ``n_transferred_layers < L``.
    relation : {"count", "mean"}, default="count"
        ``"count"``: for each target class, the normalised histogram of the
        arg-max source output over its samples (the paper's eqs. 3-5).
        ``"mean"``: the mean source output vector of each class (the
        All-Transfer 2-DE paper); the network is then trained to output its
        class's relation vector and predicts the nearest one.
    selection : {"assignment", "peak", "random"}, dict or array-like, \
            default="assignment"
        How each target class gets its source unit (used when
        ``n_transferred_layers="all"`` and ``relation="count"``):
        ``"peak"`` is the paper's rule (each class takes the peak of its
        relation; collisions go to the class with the stronger relation, the
        other takes its best free unit); ``"assignment"`` maximises the total
        relation one-to-one (identical to ``"peak"`` without collisions);
        ``"random"`` draws distinct units (the paper's control); a dict
        ``{class: unit}`` or a sequence of units fixes them.
    output_scale : "auto" or float, default="auto"
        Factor applied to the transferred output layer (weights and biases)
        before fine-tuning when the selected units answer for the target
        classes (``n_transferred_layers="all"``, ``relation="count"``); it
        is a temperature of the source's answers. ``1.0`` starts from the
        source output unchanged (the paper). ``"auto"`` uses the
        maximum-likelihood temperature in ``[0, 1]`` of the selected units'
        source outputs on the target training set (see ``output_scale_``):
        a source whose answers fit the target classes keeps them, one whose
        answers are confident but uninformative starts nearly silent, so its
        arbitrary output does not persist away from the training samples.
    source_data : SourceData or None, default=None
        Source training data, used only to fit an unfitted source (or one
        whose parameters a search changed). Never sliced by cross-validation.
    source_memory : None, str, path or joblib.Memory, default=None
        Disk cache of fitted sources, keyed by the source parameters and the
        data fingerprint. Fitted sources are also cached in memory.
    solver : {"sgd", "adam"} or None, default=None
        Fine-tuning optimizer; None uses the source's.
    learning_rate_init : float or None, default=None
        Fine-tuning step size; None uses the source's.
    momentum : float or None, default=None
        SGD momentum; None uses the source's.
    alpha : float, default=0.0
        L2 penalty. On transferred layers it pulls the weights toward their
        source values (L2-SP, Li et al. 2018), on new layers toward zero.
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
    class_weight : "balanced", dict or None, default=None
        Class weights of the fine-tuning loss, for imbalanced targets.
    warm_start : bool, default=False
        Continue fine-tuning the previous fit's network (same source, relation
        and selected units) on the new data, e.g. after new labels arrive in
        active learning.
    random_state : int, RandomState instance or None, default=None
        Seeds re-initialised layers, random selection, masks and shuffling.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    source_ : estimator
        The fitted source model used (shared, never modified).
    relation_ : ndarray of shape (n_classes, n_source_outputs)
        Relation of each target class to each source output unit; rows sum
        to 1.
    selected_units_ : ndarray of shape (n_classes,)
        Source output unit chosen for each class (``classes_`` order).
    n_transferred_layers_ : int
        The number of transferred weight layers T.
    output_scale_ : float or None
        The factor applied to the transferred output layer (None when the
        output layer is new).
    network_ : LayerStack
        The fine-tuned network.
    coefs_, intercepts_ : list of ndarray
        Its weights and biases (views of ``network_``).
    n_iter_ : int
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Negative validation log-loss per epoch with ``early_stopping``.
    best_validation_score_ : float or None
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    SourceData : Source data handle for unfitted sources.
    RelationDisplay : Plot ``relation_`` (the paper's Fig. 3).

    References
    ----------
    .. [1] Y. Sawada and K. Kozuka, "Whole layers transfer learning of deep
       neural networks for a small scale dataset", IJMLC 6(1), 2016.
    .. [2] Y. Sawada, Y. Sato, T. Nakada, K. Ujimoto and N. Hayashi,
       "All-transfer learning for deep neural networks and its application to
       sepsis classification", ECAI 2016 / arXiv:1711.04450.

    Examples
    --------
    >>> from skalltransfer import AllTransferClassifier, StackedAutoencoderClassifier
    >>> from skalltransfer.datasets import load_mnist, load_fashion_mnist_subset
    >>> from skalltransfer.datasets import make_target_task
    >>> Xs, ys = load_mnist()
    >>> source = StackedAutoencoderClassifier((64,), pretrain_max_iter=1,
    ...                                       max_iter=3, random_state=0)
    >>> source = source.fit(Xs, ys)
    >>> X, y = load_fashion_mnist_subset()
    >>> Xt, yt = make_target_task(X, y, classes=[1, 3], n_per_class=10,
    ...                           random_state=0)
    >>> clf = AllTransferClassifier(source, max_iter=5, random_state=0).fit(Xt, yt)
    >>> clf.relation_.shape, clf.selected_units_.shape
    ((2, 10), (2,))
    """

    _parameter_constraints: dict = {
        "source": [HasMethods(["fit"])],
        "n_transferred_layers": [
            StrOptions({"all"}),
            Interval(Integral, 0, None, closed="left"),
        ],
        "extra_hidden_layer": [Interval(Integral, 1, None, closed="left"), None],
        "relation": [StrOptions({"count", "mean"})],
        "selection": [StrOptions({"peak", "assignment", "random"}), dict, "array-like"],
        "output_scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "source_data": "no_validation",
        "source_memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "solver": [StrOptions({"sgd", "adam"}), None],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "momentum": [Interval(Real, 0, 1, closed="left"), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
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

    def __init__(
        self,
        source,
        *,
        n_transferred_layers="all",
        extra_hidden_layer=None,
        relation="count",
        selection="assignment",
        output_scale="auto",
        source_data=None,
        source_memory=None,
        solver=None,
        learning_rate_init=None,
        momentum=None,
        alpha=0.0,
        batch_size=32,
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        class_weight=None,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.source = source
        self.n_transferred_layers = n_transferred_layers
        self.extra_hidden_layer = extra_hidden_layer
        self.relation = relation
        self.selection = selection
        self.output_scale = output_scale
        self.source_data = source_data
        self.source_memory = source_memory
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

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

    def _resolve_T(self, n_layers):
        T = self.n_transferred_layers
        if T == "all":
            T = n_layers
        if T > n_layers:
            raise ValueError(
                f"n_transferred_layers={T} exceeds the source's {n_layers} weight "
                "layers; use 'all' or a value in [0, n_layers]."
            )
        if self.extra_hidden_layer is not None and T == n_layers:
            raise ValueError(
                "extra_hidden_layer adds a hidden layer under a new output layer, "
                "so it needs n_transferred_layers < n_layers "
                f"(at most {n_layers - 1} here), got {self.n_transferred_layers!r}."
            )
        return int(T)

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
        self : AllTransferClassifier
        """
        X, y = validate_data(self, X, y, dtype=(np.float32, np.float64))
        classes, codes = encode_labels(y)
        rng = check_random_state(self.random_state)
        warm = self.warm_start and hasattr(self, "network_")
        if warm:
            # Continue fine-tuning the same network, units and relation.
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    "warm_start=True needs the same classes as the previous fit: "
                    f"{self.classes_!r} then {classes!r}."
                )
            source, network, T = self.source_, self.network_, self.n_transferred_layers_
            base = LayerStack.from_estimator(source)
            if getattr(source, "_requires_unit_interval", False):
                check_unit_interval(X)
            relation, units, mode = self.relation_, self._units, self._mode
            anchor = _anchors(base, network, T)
            scale = self.output_scale_
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
            T = self._resolve_T(base.n_layers)
            relation, units, mode = self._relate(base, X, codes, classes, T, rng)
            network = self._build_network(base, T, len(classes), X, rng)
            scale = None
            if mode == _UNITS:
                scale = self._output_scale(base, X, codes, units)
                scale_output_layer(network, scale)
            anchor = _anchors(base, network, T)
        if scale is not None and anchor[-1] is not None:
            anchor[-1] *= scale  # L2-SP pulls toward the scaled start
        targets = self._targets(
            mode, codes, units, relation, base.layer_sizes[-1], len(classes), X.dtype
        )
        weights = (
            None
            if self.class_weight is None
            else compute_sample_weight(self.class_weight, codes).astype(X.dtype)
        )
        self._mode = mode
        self._units = units
        self._relation_targets = relation.astype(X.dtype) if mode == _MEAN else None
        self.network_ = network
        result = self._finetune(
            network, anchor, source, X, codes, targets, weights, rng
        )

        self.classes_ = classes
        self.source_ = source
        self.relation_ = relation
        self.selected_units_ = units
        self.n_transferred_layers_ = T
        self.output_scale_ = scale
        self.n_iter_ = result["n_iter"]
        previous = self.loss_curve_ if warm else []
        self.loss_curve_ = list(previous) + result["loss_curve"]
        self.validation_scores_ = (
            result["validation_scores"] if self.early_stopping else None
        )
        self.best_validation_score_ = result["best_score"]
        if mode == _MEAN:
            self._temperature = self._fit_temperature(X, codes)
        return self

    def _relate(self, base, X, codes, classes, T, rng):
        """Relation matrix, selected units and the prediction mode."""
        n_classes, n_units = len(classes), base.layer_sizes[-1]
        outputs = batched(lambda chunk: output_proba(base, chunk), X)
        relation = relation_matrix(outputs, codes, n_classes, self.relation)
        L = base.n_layers
        mode = _HEAD if T < L else (_MEAN if self.relation == "mean" else _UNITS)
        explicit = isinstance(self.selection, (dict, list, tuple, np.ndarray))
        if mode == _UNITS or explicit:
            units = select_units(relation, self.selection, rng, classes)
        elif n_classes <= n_units:
            # Reported for the relation plot even when not used for training.
            units = select_units(relation, "assignment", rng, classes)
        else:
            units = None
        return relation, units, mode

    def _output_scale(self, base, X, codes, units):
        if self.output_scale != "auto":
            return float(self.output_scale)
        outputs = batched(lambda chunk: output_proba(base, chunk), X)
        log_proba = np.log(np.maximum(outputs[:, units], 1e-30))
        return fit_output_scale(log_proba, codes)

    def _build_network(self, base, T, n_classes, X, rng):
        """A fresh copy of the first T source layers, completed by new ones."""
        L = base.n_layers
        dtype = X.dtype
        if T == L:
            network = base.copy(dtype=dtype)
        else:
            hidden = base.layer_sizes[T + 1 : L]
            extra = [] if self.extra_hidden_layer is None else [self.extra_hidden_layer]
            # New DBM layers get pylearn2's sparse init (small, sign-balanced).
            scheme = "sparse" if base.family == "mpdbm" else "glorot"
            network = base.copy(dtype=dtype).rebuild(
                T, [*hidden, *extra, n_classes], rng, scheme=scheme
            )
            if network.family == "mpdbm" and T == 0:
                marginals = np.clip(X.mean(axis=0), 1e-7, 1 - 1e-7).astype(np.float64)
                network.visible_intercept = np.log(marginals / (1 - marginals)).astype(
                    dtype
                )
        return network

    @staticmethod
    def _targets(mode, codes, units, relation, n_units, n_classes, dtype):
        if mode == _UNITS:
            return np.eye(n_units, dtype=dtype)[units[codes]]
        if mode == _MEAN:
            return relation.astype(dtype)[codes]
        return np.eye(n_classes, dtype=dtype)[codes]

    def _finetune(self, network, anchor, source, X, codes, targets, weights, rng):
        defaults = finetune_defaults(source, network.family)
        solver = self.solver or defaults["solver"]
        lr = self.learning_rate_init or defaults["learning_rate_init"]
        momentum = self.momentum if self.momentum is not None else defaults["momentum"]

        X_train, T_train, w_train = X, targets, weights
        validation_score = None
        if self.early_stopping:
            train, val = validation_split(len(X), codes, self.validation_fraction, rng)
            X_train, T_train = X[train], targets[train]
            w_train = None if weights is None else weights[train]
            X_val, codes_val = X[val], codes[val]

            def validation_score():
                proba = self._proba(X_val)
                picked = proba[np.arange(len(codes_val)), codes_val]
                return float(np.mean(np.log(np.maximum(picked, 1e-12))))

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
            limits = defaults["max_col_norm"](network)
            after_update = column_norm_constraint(network, limits)
        else:
            loss = "squared_error" if self._mode == _MEAN else "log_loss"
            params, loss_grad = feedforward_objective(
                network,
                X_train,
                T_train,
                loss=loss,
                sample_weight=w_train,
                l2=self.alpha,
                anchor=anchor,
                input_dropout=getattr(self, "_input_dropout", 0.0),
                rng=rng,
            )
            after_update = None
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
        )

    def _fit_temperature(self, X, codes):
        """Scale of the distance softmax of the "mean" relation: the mean
        squared distance of training outputs to their own relation vector."""
        out = batched(lambda chunk: output_proba(self.network_, chunk), X)
        d2 = np.sum((out - self._relation_targets[codes]) ** 2, axis=1)
        return float(max(d2.mean(), 1e-6))

    # -- prediction ---------------------------------------------------------------
    def _proba(self, X):
        out = output_proba(self.network_, X)
        if self._mode == _HEAD:
            return out
        if self._mode == _UNITS:
            picked = out[:, self._units].astype(X.dtype, copy=True)
            total = picked.sum(axis=1, keepdims=True)
            # Renormalise over the selected units (a uniform row if all vanish).
            np.divide(picked, total, out=picked, where=total > 0)
            picked[total[:, 0] <= 0] = 1.0 / picked.shape[1]
            return picked
        d2 = ((out[:, None, :] - self._relation_targets[None, :, :]) ** 2).sum(axis=2)
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
        check_is_fitted(self)
        prefix = type(self).__name__.lower()
        n = self.network_.layer_sizes[-2]
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)

    @property
    def _requires_unit_interval(self):
        source = getattr(self, "source_", None)
        return bool(getattr(source, "_requires_unit_interval", False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _anchors(base, network, T):
    """L2-SP anchors: the source weights of the T transferred layers."""
    dtype = network.dtype
    return [
        np.array(base.coefs[k], dtype=dtype, copy=True) if k < T else None
        for k in range(network.n_layers)
    ]
