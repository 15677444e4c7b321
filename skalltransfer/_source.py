"""Where a transfer estimator gets its fitted source model from.

A source can be given three ways:

1. a fitted estimator (or ``FrozenEstimator(fitted)``): used as it is, never
   refitted and never written to;
2. an unfitted estimator plus ``source_data=SourceData(Xs, ys)``: fitted on
   the source data once per set of source parameters, then reused from an
   in-process cache and, with ``source_memory``, from a disk cache;
3. a fitted estimator whose parameters a grid search changed: refitted from
   ``source_data`` when it is given, otherwise a clear error (the fitted
   weights belong to other parameters).

:class:`SourceData` is an opaque handle so that cross-validation never slices
the source set and ``clone`` never copies it.
"""

import hashlib
import numbers
import os
import warnings
from collections import OrderedDict

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import _is_fitted, check_array, column_or_1d

from ._base import check_unit_interval, fitted_params_hash, weights_params_hash
from ._version import __version__


class SourceData:
    """Source training data, passed by reference and fingerprinted.

    Give this to a transfer estimator's ``source_data`` parameter to let it
    fit an unfitted source model itself. Unlike a raw array, the handle is
    never sliced by cross-validation and never copied by ``clone``: every
    clone shares the same arrays, which are never modified.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Source images, values in [0, 1].
    y : array-like of shape (n_samples,)
        Source labels.

    Attributes
    ----------
    fingerprint : str
        Hash of the data's content; part of the key of cached source models.

    Examples
    --------
    >>> from skalltransfer import SourceData
    >>> from skalltransfer.datasets import load_mnist
    >>> Xs, ys = load_mnist()
    >>> data = SourceData(Xs, ys)
    >>> data
    SourceData(n_samples=5000, n_features=784, n_classes=10)
    """

    def __init__(self, X, y):
        X = check_array(X, dtype=(np.float32, np.float64))
        y = column_or_1d(y, warn=True)
        if len(y) != X.shape[0]:
            raise ValueError(
                f"SourceData: X has {X.shape[0]} samples but y has {len(y)}."
            )
        check_unit_interval(X, "SourceData X")
        self.X = X
        self.y = y
        self._fingerprint = None

    @classmethod
    def from_npz(cls, path, X_key="X", y_key="y"):
        """Load source data from a ``.npz`` file with arrays ``X`` and ``y``."""
        with np.load(path, allow_pickle=False) as data:
            missing = {X_key, y_key} - set(data.files)
            if missing:
                raise ValueError(
                    f"{path} has no array(s) {sorted(missing)}; it holds "
                    f"{sorted(data.files)}. Pass X_key= and y_key=."
                )
            return cls(data[X_key], data[y_key])

    @property
    def fingerprint(self):
        if self._fingerprint is None:
            h = hashlib.sha1()
            for a in (self.X, np.asarray(self.y)):
                h.update(str((a.shape, a.dtype.str)).encode())
                h.update(np.ascontiguousarray(a).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    @property
    def n_samples(self):
        return self.X.shape[0]

    # Shared by reference: clone (deepcopy) and pickling keep one instance.
    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __repr__(self):
        n_classes = len(np.unique(self.y))
        return (
            f"SourceData(n_samples={self.X.shape[0]}, "
            f"n_features={self.X.shape[1]}, n_classes={n_classes})"
        )


# -- caches ---------------------------------------------------------------------
_MEMORY_CACHE = OrderedDict()
_MEMORY_CACHE_SIZE = 8


def _cache_key(estimator, data):
    params = estimator.get_params(deep=True)
    return joblib.hash(
        (
            type(estimator).__module__,
            type(estimator).__qualname__,
            params,
            data.fingerprint,
            __version__,
        )
    )


def _fit_source(estimator, key, data):
    """Fit ``estimator`` on the source data (``key`` only names the result)."""
    return estimator.fit(data.X, data.y)


def clear_source_cache():
    """Forget the source models cached in this process."""
    _MEMORY_CACHE.clear()


def _as_memory(memory):
    if memory is None or isinstance(memory, joblib.Memory):
        return memory
    if isinstance(memory, (str, os.PathLike)):
        return joblib.Memory(os.fspath(memory), verbose=0)
    raise TypeError(
        "source_memory must be None, a directory path or a joblib.Memory, "
        f"got {type(memory).__name__}."
    )


def fit_source_cached(estimator, data, memory=None):
    """Fit an unfitted ``estimator`` on ``data``, reusing cached fits.

    The key is the estimator's class and parameters, the data fingerprint and
    the package version. Only an integer ``random_state`` makes a fit
    reproducible, so other values are fitted afresh (with a warning).
    """
    random_state = estimator.get_params().get("random_state", 0)
    if random_state is not None and not isinstance(random_state, numbers.Integral):
        warnings.warn(
            "The source's random_state is not an integer, so its fit cannot be "
            "reused: the source is fitted again for every fit of the transfer "
            "estimator. Set source__random_state to an int to fit it once.",
            UserWarning,
            stacklevel=3,
        )
        return clone(estimator).fit(data.X, data.y)
    if random_state is None:
        warnings.warn(
            "The source's random_state is None, so its fit cannot be reused: the "
            "source is fitted again for every fit of the transfer estimator. Set "
            "source__random_state to an int to fit it once per architecture.",
            UserWarning,
            stacklevel=3,
        )
        return clone(estimator).fit(data.X, data.y)
    key = _cache_key(estimator, data)
    if key in _MEMORY_CACHE:
        _MEMORY_CACHE.move_to_end(key)
        return _MEMORY_CACHE[key]
    memory = _as_memory(memory)
    unfitted = clone(estimator)
    if memory is None:
        fitted = _fit_source(unfitted, key, data)
    else:
        fitted = memory.cache(_fit_source, ignore=["data"])(unfitted, key, data)
    _MEMORY_CACHE[key] = fitted
    while len(_MEMORY_CACHE) > _MEMORY_CACHE_SIZE:
        _MEMORY_CACHE.popitem(last=False)
    return fitted


# -- resolving the source of a transfer estimator --------------------------------
_STALE_HINT = (
    "Pass source_data=SourceData(X_source, y_source) so the source is fitted "
    "for each parameter setting (and cached), or search over "
    "source=[FrozenEstimator(s) for s in fitted_sources] instead."
)


def usable_fitted_source(source, source_data, origin=None):
    """The fitted model a transfer estimator's ``source`` stands for, or None
    when ``source`` has to be fitted from ``source_data`` (then checked to be
    given). The one place that decides; never modifies ``source``.

    Parameters
    ----------
    source : estimator
        The transfer estimator's ``source`` parameter.
    source_data : SourceData or None
    origin : estimator or None
        The fitted source a transfer estimator held before ``clone`` replaced
        it by an unfitted copy with the same parameters.
    """
    if source_data is not None and not isinstance(source_data, SourceData):
        raise TypeError(
            "source_data must be a skalltransfer.SourceData(X, y) handle, got "
            f"{type(source_data).__name__}. Wrap the arrays: "
            "source_data=SourceData(X_source, y_source)."
        )
    if isinstance(source, FrozenEstimator):
        if not _is_fitted(source.estimator):
            raise ValueError(
                "FrozenEstimator(source) wraps an unfitted estimator; fit the "
                "source first, or pass the unfitted source with source_data."
            )
        return source.estimator
    if _is_fitted(source):
        if fitted_params_hash(source) == weights_params_hash(source):
            return source
        if source_data is None:
            raise ValueError(
                f"The fitted source {type(source).__name__}'s parameters were "
                "changed after it was fitted, so its weights no longer match "
                f"them. {_STALE_HINT}"
            )
        return None
    if origin is not None and fitted_params_hash(origin) == weights_params_hash(source):
        return origin
    if source_data is None:
        if origin is not None:
            raise ValueError(
                "The source's parameters differ from those of the fitted source "
                "this estimator was built with (e.g. a grid search set "
                f"source__<param>), and no source_data was given. {_STALE_HINT}"
            )
        raise ValueError(
            f"The source {type(source).__name__} is not fitted and no "
            "source_data was given. Fit it first (source=fitted_source), or "
            "pass source_data=SourceData(X_source, y_source) so it is fitted "
            "here (and cached)."
        )
    return None


def resolve_source(source, source_data, memory, origin=None):
    """The fitted source model to transfer from (see
    :func:`usable_fitted_source`), fitted from ``source_data`` through the
    caches when needed; never modifies ``source``."""
    fitted = usable_fitted_source(source, source_data, origin)
    if fitted is None:
        fitted = fit_source_cached(source, source_data, memory)
    return fitted


class TransferSourceMixin:
    """Source handling for estimators with ``source``, ``source_data`` and
    ``source_memory`` parameters: clone keeps a fitted source, fit resolves it.
    """

    def __sklearn_clone__(self):
        # clone() rebuilds `source` from its parameters, which un-fits it. The
        # clone remembers the fitted source and uses it as long as the cloned
        # source keeps the same parameters; a search that changes them can
        # only mutate the clone's unfitted copy, never the user's model.
        new = super().__sklearn_clone__()
        origin = getattr(self, "_source_origin", None)
        if (
            origin is None
            and not isinstance(self.source, FrozenEstimator)
            and _is_fitted(self.source)
        ):
            origin = self.source
        if origin is not None:
            new._source_origin = origin
        return new

    def _fitted_source(self):
        """The fitted source model (see :func:`resolve_source`)."""
        return resolve_source(
            self.source,
            getattr(self, "source_data", None),
            getattr(self, "source_memory", None),
            getattr(self, "_source_origin", None),
        )
