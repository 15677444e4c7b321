"""TruncatedTransferClassifier: keep the bottom layers of a source network,
add a new head and fine-tune (Peng et al., "Rethinking transfer learning for
medical image classification")."""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.utils._param_validation import Interval, StrOptions

from skalltransfer._core._validation import as_integers
from skalltransfer.transfer._base import HEAD, BaseTransferClassifier, Plan, fill_doc


@fill_doc
class TruncatedTransferClassifier(BaseTransferClassifier):
    """Keep the bottom ``k`` layers of a source network under a new head.

    Truncated transfer learning: the layers above hidden layer ``k`` are
    thrown away (not re-initialised), a new softmax output layer is put on
    hidden layer ``k`` and every kept layer is fine-tuned. Low- and mid-level
    features often transfer better than the top ones, especially with little
    target data. ``truncation="auto"`` picks ``k`` by inner cross-validation.

    Parameters
    ----------
    source : estimator
        A fitted source model (or ``FrozenEstimator``), or an unfitted one
        with ``source_data``; as in :class:`AllTransferClassifier`.
    truncation : "auto" or int, default="auto"
        Number of source hidden layers kept (1 ... L - 1). ``"auto"`` chooses
        it among ``truncation_grid`` by inner cross-validation on the target
        data (``truncation_``, ``cv_results_``).
    truncation_grid : sequence of int or None, default=None
        Candidates for ``"auto"``; None tries every hidden layer.
    cv : int or cross-validation generator, default=5
        Inner cross-validation of ``"auto"``. An int is the number of
        stratified folds, capped by the smallest class count (at least 2).
    scoring : str or callable, default="neg_log_loss"
        Inner selection criterion (any scikit-learn scorer; e.g.
        ``"roc_auc"`` or ``"average_precision"`` for imbalanced binary
        tasks).
    class_weight : "balanced", dict or None, default=None
        Class weights of the fine-tuning loss, for imbalanced targets: a dict
        maps target labels to weights; "balanced" weighs each class by its
        inverse frequency. None, as in every transfer estimator and in
        scikit-learn, fits the plain likelihood, so ``predict_proba`` follows
        the class frequencies of the training data.
    {common_parameters}
    Attributes
    ----------
    truncation_ : int
        Number of source hidden layers kept.
    cv_results_ : dict or None
        The inner search's ``cv_results_`` (``truncation="auto"`` only).
    {common_attributes}
    See Also
    --------
    AllTransferClassifier : Transfer every layer, the output layer included.
    SourceFeatures : Frozen features of one layer, for any classifier.

    References
    ----------
    .. [1] L. Peng, H. Liang, G. Luo, T. Li and J. Sun, "Rethinking transfer
       learning for medical image classification", medRxiv
       2022.11.26.22282782.

    Examples
    --------
    >>> from skalltransfer import StackedAutoencoderClassifier
    >>> from skalltransfer import TruncatedTransferClassifier
    >>> from skalltransfer.datasets import load_mnist, load_fashion_mnist_subset
    >>> from skalltransfer.datasets import make_target_task
    >>> Xs, ys = load_mnist()
    >>> source = StackedAutoencoderClassifier(
    ...     (32, 16), pretrain_max_iter=1, max_iter=2, random_state=0
    ... )
    >>> source = source.fit(Xs, ys)
    >>> X, y = load_fashion_mnist_subset()
    >>> Xt, yt = make_target_task(X, y, classes=[4, 6], n_per_class=15, random_state=0)
    >>> clf = TruncatedTransferClassifier(source, cv=3, max_iter=5, random_state=0).fit(
    ...     Xt, yt
    ... )
    >>> clf.truncation_ in (1, 2)
    True
    """

    _architecture_params = (
        "source",
        "truncation",
        "truncation_grid",
        "finetune_objective",
    )

    _parameter_constraints: dict = {
        **BaseTransferClassifier._parameter_constraints,
        "truncation": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "truncation_grid": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [str, callable],
    }

    def __init__(
        self,
        source,
        truncation="auto",
        *,
        truncation_grid=None,
        cv=5,
        scoring="neg_log_loss",
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
        self.truncation = truncation
        self.truncation_grid = truncation_grid
        self.cv = cv
        self.scoring = scoring
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

    def _grid(self, n_hidden):
        grid = (
            range(1, n_hidden + 1)
            if self.truncation_grid is None
            else self.truncation_grid
        )
        grid = sorted(set(as_integers(grid, "truncation_grid")))
        bad = [k for k in grid if not 1 <= k <= n_hidden]
        if bad or not grid:
            raise ValueError(
                f"truncation values must lie in [1, {n_hidden}] (the source's "
                f"hidden layers), got {bad or 'an empty grid'}."
            )
        return grid

    def _choose_truncation(self, X, codes, classes, n_hidden):
        """Inner cross-validated search over the truncation depth."""
        grid = self._grid(n_hidden)
        if len(grid) == 1:
            return grid[0], None
        cv = self.cv
        if isinstance(cv, Integral):
            smallest = int(np.bincount(codes).min())
            if smallest < 2:
                raise ValueError(
                    'truncation="auto" needs at least 2 samples of every class '
                    "for its inner cross-validation; pass an int truncation."
                )
            cv = StratifiedKFold(min(cv, smallest), shuffle=True, random_state=0)
        inner = clone(self).set_params(truncation=grid[0], verbose=0)
        search = GridSearchCV(
            inner, {"truncation": grid}, cv=cv, scoring=self.scoring, refit=False
        )
        search.fit(X, classes[codes])
        return int(search.best_params_["truncation"]), search.cv_results_

    def _plan(self, base, X, codes, classes, rng):
        n_hidden = base.n_layers - 1
        if n_hidden < 1:
            raise ValueError("The source network has no hidden layer to keep.")
        # Checked even when there is nothing to choose, so that a bad grid or
        # scoring is never silently unused.
        self._grid(n_hidden)
        check_scoring(self, scoring=self.scoring)
        if self.truncation == "auto":
            k, results = self._choose_truncation(X, codes, classes, n_hidden)
        else:
            k, results = int(self.truncation), None
            if k > n_hidden:
                raise ValueError(
                    f"truncation={k} exceeds the source's {n_hidden} hidden layers."
                )
        network = base.copy(dtype=X.dtype).rebuild(k, [len(classes)], rng)
        return Plan(network, k, HEAD, cv_results=results)

    def _store(self, plan):
        self.truncation_ = plan.n_transferred
        self.cv_results_ = plan.cv_results
