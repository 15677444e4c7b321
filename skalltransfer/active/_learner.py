"""ActiveTransferLearner: pool-based active fine-tuning as a meta-estimator."""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skalltransfer._core._validation import validated
from skalltransfer.active._strategies import is_unlabeled


def _estimator_has(attr):
    def check(self):
        est = getattr(self, "estimator_", self.estimator)
        return hasattr(est, attr)

    return check


class ActiveTransferLearner(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Pool-based active learning around a (transfer) classifier.

    Each round fits the estimator on the labelled samples, asks ``strategy``
    for ``batch_size`` unlabelled samples, and has their labels revealed by
    an oracle. With ``retrain="continual"`` round t continues from the model
    of round t-1 (incremental fine-tuning, AIFT's ACFT(L∪Q)).

    ``fit(X, y)`` follows scikit-learn's semi-supervised convention: ``X`` is
    the whole pool and ``y`` marks unlabelled samples with ``missing_label``.

    - With an ``oracle`` (the true labels, or a function returning them) it
      runs the full experiment: up to ``n_rounds`` query rounds, recording
      the number of labels and, given ``X_val, y_val``, the held-out score
      after every fit in ``history_`` (an accuracy-vs-labels curve).
    - Without one it is a single step of a human-in-the-loop session: fit on
      the labelled samples and propose the next batch in ``query_indices_``;
      label them, update ``y`` and call ``fit`` again.

    Parameters
    ----------
    estimator : classifier
        Cloned, never modified. It needs ``predict_proba`` for uncertainty
        strategies and ``transform`` for embedding ones
        (:class:`~skalltransfer.AllTransferClassifier` has both).
    strategy : query strategy
        An object with ``query(X, y, clf, batch_size=..., return_utilities=...)``
        such as :class:`EntropySampling` or :class:`AIFTSampling`. Cloned; its
        ``missing_label`` is set to this learner's and, if its
        ``random_state`` is None, it is seeded from ``random_state``.
    batch_size : int, default=10
        Samples labelled per round.
    n_rounds : int, default=5
        Query rounds with an oracle (the estimator is fitted ``n_rounds + 1``
        times). Ignored without an oracle.
    initial_size : int or None, default=None
        Random samples to label (through the oracle) before the first fit.
        None draws ``batch_size`` of them only if ``y`` has no label. Either
        way, if fewer than 2 classes are labelled, random samples are drawn
        one at a time until a second class appears.
    retrain : {"continual", "from_scratch"}, default="continual"
        ``"continual"``: if the estimator has a ``warm_start`` parameter it
        is set to True after the first fit, so each round fine-tunes the
        previous model on all labels gathered so far; estimators without
        ``warm_start``, and rounds in which a new class appears, start from a
        fresh clone. ``"from_scratch"``: a fresh clone every round (AIFT's
        RFT/AFT).
    missing_label : scalar, str or None, default=np.nan
        Marker of unlabelled samples in ``y``. With NaN numeric labels are
        floats; pass an object ``y`` (or e.g. ``missing_label=-1``) to keep
        integer labels, and None or "" for string labels.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial random labels and an unseeded strategy.
    verbose : int, default=0
        Print one line per round.

    Attributes
    ----------
    estimator_ : classifier
        The model fitted in the last round.
    strategy_ : query strategy
        The strategy used.
    labeled_indices_ : ndarray of shape (n_labeled,)
        Indices into ``X`` of the labelled samples in order of acquisition:
        those labelled in ``y``, then the initial random draws, then the
        queried ones.
    query_indices_ : ndarray of int
        The batch proposed after the last fit whose labels are unknown
        (without an oracle); empty when the oracle answered every query.
    history_ : dict of lists
        One entry per fit: ``"round"``, ``"n_labels"``, ``"score"``
        (``estimator_.score(X_val, y_val)``, NaN without a validation set),
        ``"fit_time"`` and ``"query_time"`` (seconds).
    n_rounds_ : int
        Query rounds whose labels were revealed.
    classes_ : ndarray of shape (n_classes,)
        Classes of the last fitted model.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    sklearn.semi_supervised.SelfTrainingClassifier : The same ``fit(X, y)``
        convention, with pseudo-labels instead of queries.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skalltransfer.active import ActiveTransferLearner, EntropySampling
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> y_pool = np.full(len(y[:1000]), np.nan)  # nothing labelled yet
    >>> learner = ActiveTransferLearner(
    ...     LogisticRegression(max_iter=200),
    ...     EntropySampling(),
    ...     batch_size=20,
    ...     n_rounds=3,
    ...     random_state=0,
    ... )
    >>> learner = learner.fit(
    ...     X[:1000], y_pool, oracle=y[:1000], X_val=X[1000:], y_val=y[1000:]
    ... )
    >>> learner.history_["n_labels"]
    [20, 40, 60, 80]
    >>> len(learner.labeled_indices_)
    80
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "strategy": [HasMethods(["query"])],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_rounds": [Interval(Integral, 0, None, closed="left")],
        "initial_size": [Interval(Integral, 0, None, closed="left"), None],
        "retrain": [StrOptions({"continual", "from_scratch"})],
        "missing_label": [None, Real, str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        strategy,
        *,
        batch_size=10,
        n_rounds=5,
        initial_size=None,
        retrain="continual",
        missing_label=np.nan,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.strategy = strategy
        self.batch_size = batch_size
        self.n_rounds = n_rounds
        self.initial_size = initial_size
        self.retrain = retrain
        self.missing_label = missing_label
        self.random_state = random_state
        self.verbose = verbose

    # -- helpers ------------------------------------------------------------------
    @staticmethod
    def _oracle(oracle, y, missing_label):
        """``reveal(indices) -> labels`` from an array or a callable."""
        if oracle is None:
            return None
        if callable(oracle):

            def reveal(indices):
                labels = np.asarray(oracle(np.asarray(indices)))
                if labels.shape != (len(indices),):
                    raise ValueError(
                        f"oracle returned {labels.shape} labels for "
                        f"{len(indices)} samples; it must return one per index."
                    )
                return labels

            return reveal
        truth = np.asarray(oracle)
        if truth.shape != y.shape:
            raise ValueError(
                f"oracle must hold one label per sample of X ({len(y)}), got "
                f"shape {truth.shape}; or pass a callable oracle(indices)."
            )

        def reveal(indices):
            labels = truth[indices]
            unknown = is_unlabeled(labels, missing_label)
            if unknown.any():
                raise ValueError(
                    "The oracle has no label for samples "
                    f"{np.asarray(indices)[unknown][:5].tolist()}."
                )
            return labels

        return reveal

    def _make_strategy(self, rng):
        strategy = clone(self.strategy)
        params = strategy.get_params(deep=False)
        if "missing_label" in params:
            strategy.set_params(missing_label=self.missing_label)
        if "random_state" in params and params["random_state"] is None:
            strategy.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        return strategy

    def _fit_estimator(self, est, X, y, previous_classes):
        """Fit one round: continue ``est`` when allowed, else a fresh clone."""
        classes = np.unique(y)
        warm = (
            est is not None
            and self.retrain == "continual"
            and "warm_start" in est.get_params(deep=False)
            and previous_classes is not None
            and np.array_equal(classes, previous_classes)
        )
        if warm:
            est.set_params(warm_start=True)
        else:
            est = clone(self.estimator)
        est.fit(X, y)
        return est, classes

    # -- fit ------------------------------------------------------------------------
    @_fit_context(
        # the estimator and strategy are validated when they are used
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, *, oracle=None, X_val=None, y_val=None):
        """Run the active-learning rounds (or one step without an oracle).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool.
        y : array-like of shape (n_samples,)
            Known labels, ``missing_label`` for unlabelled samples (may be all
            missing when an oracle is given).
        oracle : array-like of shape (n_samples,), callable or None, \
                default=None
            True labels of the pool (a simulated annotator), or
            ``oracle(indices) -> labels``. Only queried samples are read.
        X_val : array-like of shape (n_val_samples, n_features), default=None
        y_val : array-like of shape (n_val_samples,), default=None
            Held-out set scored after every fit (``history_["score"]``); never
            used for training or selection.

        Returns
        -------
        self : ActiveTransferLearner
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None; mark unlabelled samples with missing_label instead."
            )
        X = validated(self, X, dtype=(np.float64, np.float32))
        y = column_or_1d(y, warn=True)
        if len(y) != X.shape[0]:
            raise ValueError(
                f"y must be 1-D with one entry per row of X ({X.shape[0]}), got "
                f"shape {y.shape}."
            )
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")
        reveal = self._oracle(oracle, y, self.missing_label)
        rng = check_random_state(self.random_state)

        unlabeled = is_unlabeled(y, self.missing_label)
        order = [np.flatnonzero(~unlabeled)]
        labels = [y[order[0]]]

        def acquire(indices):
            indices = np.asarray(indices, dtype=np.intp)
            labels.append(reveal(indices))
            order.append(indices)
            unlabeled[indices] = False

        n_init = self.initial_size
        if n_init is None:
            n_init = self.batch_size if not order[0].size else 0
        if n_init and reveal is None:
            raise ValueError(
                "y has no labelled sample to start from"
                if not order[0].size
                else f"initial_size={n_init} needs an oracle to label the draws"
            )
        pool = np.flatnonzero(unlabeled)
        if n_init:
            acquire(np.sort(rng.choice(pool, min(n_init, pool.size), replace=False)))
        while np.unique(np.concatenate(labels)).size < 2:
            pool = np.flatnonzero(unlabeled)
            if reveal is None or not pool.size:
                raise ValueError(
                    "The labelled samples (those whose label is not "
                    f"missing_label={self.missing_label!r}) cover only one class "
                    "(or none); label samples of at least two classes (or pass "
                    "an oracle)."
                )
            acquire([rng.choice(pool)])

        self.strategy_ = self._make_strategy(rng)
        history = {k: [] for k in ("round", "n_labels", "score", "fit_time")}
        history["query_time"] = []
        est, classes = None, None
        query_indices = np.empty(0, dtype=np.intp)
        n_done = 0
        while True:
            idx = np.concatenate(order)
            start = time.perf_counter()
            est, classes = self._fit_estimator(
                est, X[idx], np.concatenate(labels), classes
            )
            history["round"].append(n_done)
            history["n_labels"].append(int(idx.size))
            history["fit_time"].append(time.perf_counter() - start)
            score = np.nan if X_val is None else float(est.score(X_val, y_val))
            history["score"].append(score)
            if self.verbose:
                print(
                    f"[{type(self).__name__}] round {n_done}: {idx.size} labels, "
                    f"score {score:.4f}"
                )
            n_left = int(unlabeled.sum())
            if n_left == 0 or (reveal is not None and n_done == self.n_rounds):
                history["query_time"].append(0.0)
                break
            start = time.perf_counter()
            y_query = np.full(len(y), self.missing_label, dtype=object)
            y_query[idx] = np.concatenate(labels)
            picks = self.strategy_.query(
                X, y_query, est, batch_size=min(self.batch_size, n_left)
            )
            history["query_time"].append(time.perf_counter() - start)
            if reveal is None:
                query_indices = np.asarray(picks, dtype=np.intp)
                break
            acquire(picks)
            n_done += 1

        self.estimator_ = est
        self.labeled_indices_ = np.concatenate(order).astype(np.intp)
        self.query_indices_ = query_indices
        self.history_ = history
        self.n_rounds_ = n_done
        return self

    # -- delegation -------------------------------------------------------------------
    @property
    def classes_(self):
        check_is_fitted(self)
        return self.estimator_.classes_

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")

    def predict(self, X):
        """Predict with the last fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the last fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the last fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Embedding of the last fitted model (e.g. its last hidden layer).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        return self.estimator_.transform(X)
