"""AllTransferClassifier: transfer every layer of a source network, the output
layer included (Sawada & Kozuka; Sawada et al.)."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from skalltransfer._core._fitted import check_float_array
from skalltransfer._core._validation import batched
from skalltransfer.metrics._transferability import leep_from_outputs
from skalltransfer.transfer._base import (
    HEAD,
    MEAN,
    UNITS,
    BaseTransferClassifier,
    Plan,
    fill_doc,
)
from skalltransfer.transfer._relation import (
    fit_output_scale,
    relation_matrix,
    select_units,
)


def scale_output_layer(network, scale):
    """Multiply the output layer (weights and biases) of ``network`` by
    ``scale`` in place: a temperature of the source's answers."""
    network.coefs[-1] *= scale
    network.intercepts[-1] *= scale


@fill_doc
class AllTransferClassifier(BaseTransferClassifier):
    """Transfer all layers of a source network, the output layer included.

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
        The source model: a fitted :class:`ConvAutoencoderClassifier`,
        :class:`MPDBMClassifier`, :class:`StackedAutoencoderClassifier`,
        scikit-learn ``MLPClassifier`` or fitted transfer estimator,
        optionally wrapped in ``sklearn.frozen.FrozenEstimator``; or an
        unfitted one together with ``source_data``. There is no default:
        the command line and the user guide use
        ``ConvAutoencoderClassifier(random_state=0)`` fitted on
        :func:`skalltransfer.datasets.load_mnist`, the source that transfers
        best on the benchmark tasks (see :ref:`benchmarks`). An MP-DBM
        source is fine-tuned through its mean-field inference (see
        ``finetune_objective``), the others by back-propagation.
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
    relation : {"count", "mean", "mean-modified"}, default="count"
        ``"count"``: for each target class, the normalised histogram of the
        arg-max source output over its samples (the paper's eqs. 3-5).
        ``"mean"``: the mean source output vector of each class (the
        All-Transfer 2-DE paper); the network is then trained to output its
        class's relation vector and predicts the nearest one.
        ``"mean-modified"``: as ``"mean"``, with each class's vector moved
        inside its own output distribution and away from the other classes'
        means (Sawada et al. 2019; a Ledoit-Wolf covariance and a
        deterministic search make it well posed here).
    selection : {"assignment", "peak", "random"}, dict or array-like, \
            default="assignment"
        How each target class gets its source unit (used when
        ``n_transferred_layers="all"`` and ``relation="count"``):
        ``"peak"`` is the paper's rule (each class takes the peak of its
        relation; collisions go to the class with the stronger relation, the
        other takes its best free unit); ``"assignment"`` maximises the total
        relation one-to-one (identical to ``"peak"`` without collisions);
        ``"random"`` draws distinct units (the paper's control); a dict
        ``{class: unit}`` naming every target class (and nothing else) or a
        sequence of units fixes them. An explicit selection that cannot be
        used (``n_transferred_layers < L`` or ``relation="mean"``) is ignored
        with a warning.
    output_scale : "auto" or float, default="auto"
        Factor applied to the transferred output layer (weights and biases)
        before fine-tuning when the selected units answer for the target
        classes (``n_transferred_layers="all"``, ``relation="count"``); a
        temperature of the source's answers. ``1.0`` starts from the source
        output unchanged (the paper). ``"auto"`` uses the maximum-likelihood
        temperature in [0, 1] of the selected units' source outputs on the
        target training set: a source whose answers fit the target classes
        keeps them, one whose answers are confident but uninformative starts
        nearly silent, so its arbitrary output does not persist away from
        the training samples. **Deviation** from the paper; see
        :ref:`benchmarks` for the measurements behind the default. For an
        MP-DBM source ``"auto"`` is 1.0: its mean-field net, fine-tuned
        through a silenced output layer, gets no learning signal below it
        (user guide, "Fine-tuning an MP-DBM source").
    class_weight : "balanced", dict or None, default=None
        Class weights of the fine-tuning loss, for imbalanced targets: a dict
        maps target labels to weights; "balanced" weighs each class by its
        inverse frequency. None, as in every transfer estimator and in
        scikit-learn, fits the plain likelihood, so ``predict_proba`` follows
        the class frequencies of the training data.
    {common_parameters}
    Attributes
    ----------
    relation_ : ndarray of shape (n_classes, n_source_outputs)
        Relation of each target class to each source output unit; rows sum
        to 1.
    selected_units_ : ndarray of shape (n_classes,) or None
        Source output unit chosen for each class (``classes_`` order). With
        a new output layer it is reported for the relation plot only (None
        when there are more classes than source units).
    output_scale_ : float or None
        The factor applied to the transferred output layer (None when the
        output layer is new).
    transferability_ : float
        LEEP (Nguyen et al. 2020) of the source on the target training set:
        the mean log-likelihood of the labels under the soft relation,
        computed from the outputs the relation already needed. Higher means
        a source whose answers say more about the target classes (see
        :func:`transferability`).
    {common_attributes}
    See Also
    --------
    SourceData : Source data handle for unfitted sources.
    RelationDisplay : Plot ``relation_`` (the paper's Fig. 3).
    TruncatedTransferClassifier : Keep the bottom layers, add a new head.

    References
    ----------
    .. [1] Y. Sawada and K. Kozuka, "Whole layers transfer learning of deep
       neural networks for a small scale dataset", IJMLC 6(1), 2016.
    .. [2] Y. Sawada, Y. Sato, T. Nakada, K. Ujimoto and N. Hayashi,
       "All-transfer learning for deep neural networks and its application to
       sepsis classification", ECAI 2016 / arXiv:1711.04450.
    .. [3] Y. Sawada, Y. Sato, T. Nakada, S. Yamaguchi, K. Ujimoto and
       N. Hayashi, "Improvement in classification performance based on
       target vector modification for all-transfer deep learning", Applied
       Sciences 9(1):128, 2019.
    .. [4] C. Nguyen, T. Hassner, M. Seeger and C. Archambeau, "LEEP: a new
       measure to evaluate transferability of learned representations",
       ICML 2020.

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

    _architecture_params = (
        "source",
        "n_transferred_layers",
        "extra_hidden_layer",
        "relation",
        "selection",
        "output_scale",
        "finetune_objective",
    )

    _parameter_constraints: dict = {
        **BaseTransferClassifier._parameter_constraints,
        "n_transferred_layers": [
            StrOptions({"all"}),
            Interval(Integral, 0, None, closed="left"),
        ],
        "extra_hidden_layer": [Interval(Integral, 1, None, closed="left"), None],
        "relation": [StrOptions({"count", "mean", "mean-modified"})],
        "selection": [StrOptions({"peak", "assignment", "random"}), dict, "array-like"],
        "output_scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
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
        class_weight=None,
        source_data=None,
        source_memory=None,
        finetune_objective=None,
        solver=None,
        learning_rate_init=None,
        momentum=None,
        alpha=0.0,
        mmd_lambda=0.0,
        mmd_layers=None,
        mmd_estimator="linear",
        shift_augmentation="auto",
        batch_size=32,
        max_iter="auto",
        tol=1e-4,
        n_iter_no_change="auto",
        early_stopping=False,
        validation_fraction=0.1,
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
        self.class_weight = class_weight
        self.source_data = source_data
        self.source_memory = source_memory
        self.finetune_objective = finetune_objective
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.mmd_lambda = mmd_lambda
        self.mmd_layers = mmd_layers
        self.mmd_estimator = mmd_estimator
        self.shift_augmentation = shift_augmentation
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def _resolve_T(self, n_layers):
        T = self.n_transferred_layers
        if T == "all":
            T = n_layers
        if T > n_layers:
            raise ValueError(
                f"n_transferred_layers={T} exceeds the source's {n_layers} weight "
                "layers; use 'all' or a value in [0, n_layers]."
            )
        if isinstance(self.extra_hidden_layer, bool):
            raise ValueError(
                "extra_hidden_layer is the number of units of the new hidden "
                f"layer (an int), not a flag; got {self.extra_hidden_layer!r}."
            )
        if self.extra_hidden_layer is not None and T == n_layers:
            raise ValueError(
                "extra_hidden_layer adds a hidden layer under a new output layer, "
                "so it needs n_transferred_layers < n_layers "
                f"(at most {n_layers - 1} here), got {self.n_transferred_layers!r}."
            )
        return int(T)

    def _plan(self, base, X, codes, classes, rng):
        L = base.n_layers
        T = self._resolve_T(L)
        n_classes, n_units = len(classes), base.layer_sizes[-1]
        outputs = batched(base.output_proba, X)
        relation = relation_matrix(outputs, codes, n_classes, self.relation)
        mode = HEAD if T < L else (UNITS if self.relation == "count" else MEAN)
        explicit = isinstance(self.selection, (dict, list, tuple, np.ndarray))
        if mode == UNITS:
            units = select_units(relation, self.selection, rng, classes)
        else:
            if explicit:
                # Not validated as if it were used: it is not.
                warnings.warn(
                    "The explicit selection is unused: selected units answer for "
                    "the target classes only with n_transferred_layers='all' and "
                    f"relation='count' (here n_transferred_layers={T} of {L}, "
                    f"relation={self.relation!r}). selected_units_ reports the "
                    "'assignment' units.",
                    UserWarning,
                    stacklevel=5,
                )
            # Reported for the relation plot even when not used for training.
            units = (
                select_units(relation, "assignment", rng, classes)
                if n_classes <= n_units
                else None
            )

        network = base.copy(dtype=X.dtype)
        if T < L:
            hidden = base.layer_sizes[T + 1 : L]
            extra = [] if self.extra_hidden_layer is None else [self.extra_hidden_layer]
            network = network.rebuild(T, [*hidden, *extra, n_classes], rng)
            if T == 0:
                network.family.init_input_layer(network, X)
        scale = None
        if mode == UNITS:
            scale = self._output_scale(outputs, codes, units, network.family)
            scale_output_layer(network, scale)
        return Plan(
            network,
            T,
            mode,
            units,
            relation,
            output_scale=scale,
            transferability=leep_from_outputs(outputs, codes, n_classes),
        )

    def _output_scale(self, outputs, codes, units, family):
        if self.output_scale != "auto":
            return float(self.output_scale)
        if not family.fits_output_temperature:
            return 1.0
        # In place on the one (n_samples, n_classes) copy: no full-size
        # temporaries for the maximum and the log.
        log_proba = outputs[:, units]
        np.maximum(log_proba, 1e-30, out=log_proba)
        np.log(log_proba, out=log_proba)
        return fit_output_scale(log_proba, codes)

    def _check_fitted_state(self):
        super()._check_fitted_state()
        relation = self.relation_
        if relation is not None:
            check_float_array(relation, "relation_", 2, contiguous=False)
            if len(relation) != len(self.classes_):
                raise ValueError(
                    f"relation_ has {len(relation)} rows for {len(self.classes_)} "
                    "classes."
                )

    def _store(self, plan):
        self.relation_ = plan.relation
        self.selected_units_ = plan.units
        self.output_scale_ = plan.output_scale
        self.transferability_ = plan.transferability
