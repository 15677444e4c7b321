"""Query-strategy contract (scikit-activeml's) and the two baselines.

A strategy's ``query(X, y, clf, batch_size=1, return_utilities=False)`` gets
the whole pool ``X``, the labels ``y`` with unlabelled samples marked by
``missing_label``, and a *fitted* classifier; it returns the indices (into
``X``) of the unlabelled samples to label next and, if asked, the utilities
of shape (batch_size, n_samples): row ``b`` holds the utility each candidate
had when the ``b``-th sample was chosen, NaN for samples that were not
candidates (labelled, or already chosen in this batch).
"""

import math
import warnings
from numbers import Real

import numpy as np
from scipy.special import entr
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._validation import checked_array


def _is_nan(value):
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def is_unlabeled(y, missing_label=np.nan):
    """Boolean mask of the entries of ``y`` equal to ``missing_label``.

    NaN matches NaN (in float and object arrays), None matches None, and any
    other value matches by equality; an array whose dtype cannot hold
    ``missing_label`` (an int array and NaN, say) has no missing entries.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels, with ``missing_label`` marking the unlabelled samples.
    missing_label : scalar, str, None or NaN, default=np.nan
        The value that marks an unlabelled sample.

    Returns
    -------
    mask : ndarray of shape (n_samples,), dtype=bool
        True where the sample is unlabelled.
    """
    y = np.asarray(y)
    if y.dtype.kind == "O":
        if _is_nan(missing_label):
            return np.fromiter((_is_nan(v) for v in y), bool, len(y))
        if missing_label is None:
            return np.fromiter((v is None for v in y), bool, len(y))
        return np.fromiter(
            (not _is_nan(v) and v is not None and v == missing_label for v in y),
            bool,
            len(y),
        )
    if _is_nan(missing_label):
        return np.isnan(y) if y.dtype.kind in "fc" else np.zeros(len(y), bool)
    if missing_label is None:
        return np.zeros(len(y), bool)
    if isinstance(missing_label, str) != (y.dtype.kind in "US"):
        return np.zeros(len(y), bool)
    return np.asarray(y == missing_label, dtype=bool)


def top_batch(utilities, candidates, batch_size):
    """Indices of the ``batch_size`` largest utilities among ``candidates``
    (ties to the lowest index) and the (batch_size, n_samples) utility rows."""
    order = candidates[np.argsort(-utilities[candidates], kind="stable")]
    picks = order[:batch_size]
    rows = np.full((batch_size, len(utilities)), np.nan)
    available = np.zeros(len(utilities), bool)
    available[candidates] = True
    for b, i in enumerate(picks):
        rows[b, available] = utilities[available]
        available[i] = False
    return picks, rows


class QueryStrategy(BaseEstimator):
    """Base class: validates the query and hands the pool to ``_select``.

    Subclasses implement ``_select(X, labeled, unlabeled, clf, batch_size,
    rng) -> (picks, utilities)`` with ``labeled``/``unlabeled`` index arrays
    into ``X`` and ``rng`` the strategy's generator.
    """

    _parameter_constraints: dict = {
        "missing_label": [None, Real, str],
    }

    # Methods ``clf`` must provide; checked before querying.
    _clf_methods = ("predict_proba",)

    def _generator(self):
        # Created from random_state at the first query and advanced by later
        # ones, so a loop of queries is reproducible from an int seed without
        # repeating the same draws every round.
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        return self.random_state_

    def query(self, X, y, clf, batch_size=1, return_utilities=False):
        """Choose the unlabelled samples to label next.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool: labelled and unlabelled samples.
        y : array-like of shape (n_samples,)
            Labels, with ``missing_label`` for the unlabelled samples.
        clf : classifier
            A fitted classifier with ``predict_proba`` (and ``transform`` for
            embedding-based strategies).
        batch_size : int, default=1
            Number of samples to choose; capped (with a warning) at the
            number of unlabelled samples.
        return_utilities : bool, default=False
            Also return the utilities.

        Returns
        -------
        query_indices : ndarray of shape (batch_size,)
            Indices into ``X`` of the chosen unlabelled samples, best first.
        utilities : ndarray of shape (batch_size, n_samples)
            Only with ``return_utilities``; NaN for non-candidates.
        """
        self._validate_params()
        X = checked_array(X, "X", dtype=(np.float64, np.float32))
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != X.shape[0]:
            raise ValueError(
                f"y must be 1-D with one entry per row of X ({X.shape[0]}), got "
                f"shape {y.shape}."
            )
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        missing = is_unlabeled(y, self.missing_label)
        unlabeled = np.flatnonzero(missing)
        if unlabeled.size == 0:
            raise ValueError(
                f"y has no unlabelled sample (none equals missing_label="
                f"{self.missing_label!r}); mark the samples to choose from with "
                "missing_label (for string labels pass missing_label=None or '' "
                "to the strategy)."
            )
        if batch_size > unlabeled.size:
            warnings.warn(
                f"batch_size={batch_size} exceeds the {unlabeled.size} unlabelled "
                f"samples; querying {unlabeled.size}.",
                UserWarning,
                stacklevel=2,
            )
            batch_size = int(unlabeled.size)
        check_is_fitted(clf)
        for method in self._clf_methods:
            if not hasattr(clf, method):
                raise TypeError(
                    f"{type(self).__name__} needs a classifier with {method}(); "
                    f"{type(clf).__name__} has none."
                )
        labeled = np.flatnonzero(~missing)
        rng = self._generator() if hasattr(self, "random_state") else None
        picks, utilities = self._select(
            X, labeled, unlabeled, clf, int(batch_size), rng
        )
        picks = np.asarray(picks, dtype=np.intp)
        return (picks, utilities) if return_utilities else picks


class RandomSampling(QueryStrategy):
    """Choose unlabelled samples uniformly at random.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the generator created at the first query (later queries
        continue its stream).
    missing_label : scalar, str or None, default=np.nan
        Marker of the unlabelled entries of ``y``.

    Attributes
    ----------
    random_state_ : RandomState
        The generator, after the first query.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skalltransfer.active import RandomSampling
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> y = np.array([0, 1, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan])
    >>> clf = LogisticRegression().fit(X[:2], y[:2])
    >>> RandomSampling(random_state=0).query(X, y, clf, batch_size=2).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **QueryStrategy._parameter_constraints,
        "random_state": ["random_state"],
    }
    _clf_methods = ()

    def __init__(self, random_state=None, *, missing_label=np.nan):
        self.random_state = random_state
        self.missing_label = missing_label

    def _select(self, X, labeled, unlabeled, clf, batch_size, rng):
        utilities = np.full(X.shape[0], np.nan)
        utilities[unlabeled] = rng.random_sample(unlabeled.size)
        return top_batch(utilities, unlabeled, batch_size)


def predictive_entropy(proba):
    """Entropy (nats) of each row of ``proba`` of shape (n, n_classes); 0 log 0 = 0."""
    return entr(np.asarray(proba, dtype=np.float64)).sum(axis=1)


class EntropySampling(QueryStrategy):
    """Uncertainty sampling: the largest predictive entropy first.

    Ties go to the lowest index, so the choice is deterministic.

    Parameters
    ----------
    missing_label : scalar, str or None, default=np.nan
        Marker of the unlabelled entries of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skalltransfer.active import EntropySampling
    >>> X = np.array([[-3.0], [3.0], [0.1], [2.5], [-2.0]])
    >>> y = np.array([0, 1, np.nan, np.nan, np.nan])
    >>> clf = LogisticRegression().fit(X[:2], y[:2])
    >>> EntropySampling().query(X, y, clf)
    array([2])
    """

    def __init__(self, *, missing_label=np.nan):
        self.missing_label = missing_label

    def _select(self, X, labeled, unlabeled, clf, batch_size, rng):
        utilities = np.full(X.shape[0], np.nan)
        utilities[unlabeled] = predictive_entropy(clf.predict_proba(X[unlabeled]))
        return top_batch(utilities, unlabeled, batch_size)
