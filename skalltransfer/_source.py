"""Where a transfer estimator gets its fitted source model from.

A source can be given three ways:

1. a fitted estimator (or ``FrozenEstimator(fitted)``): used as it is, never
   refitted and never written to;
2. an unfitted estimator plus ``source_data=SourceData(Xs, ys)``: fitted on
   the source data once per set of source parameters, then reused from an
   in-process cache and, with ``source_memory``, from a disk cache of plain
   arrays and JSON (:mod:`._store`; never a pickle, checksum verified);
3. a fitted estimator whose parameters a grid search changed: refitted from
   ``source_data`` when it is given, otherwise a clear error (the fitted
   weights belong to other parameters).

:class:`SourceData` is an opaque handle so that cross-validation never slices
the source set and ``clone`` never copies it; it holds a read-only copy of
the arrays, so its fingerprint (the cache key) always describes its data.
"""

import hashlib
import numbers
import os
import warnings
import zipfile
import zlib
from collections import OrderedDict

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import get_tags
from sklearn.utils.validation import _is_fitted, check_array, column_or_1d

from ._base import check_unit_interval, fitted_params_hash, weights_params_hash
from ._store import (
    CorruptEntryError,
    entry_dir,
    has_entry,
    read_entry,
    remove_entry,
    write_entry,
)
from ._version import __version__


class SourceData:
    """Source training data, passed by reference and fingerprinted.

    Give this to a transfer estimator's ``source_data`` parameter to let it
    fit an unfitted source model itself. Unlike a raw array, the handle is
    never sliced by cross-validation and never copied by ``clone``: every
    clone shares the same arrays.

    The handle keeps its own **read-only copy** of ``X`` and ``y``, made once
    when it is built: changing the arrays you passed afterwards does not
    change the source data (nor its fingerprint, the key of cached source
    models), so a cached source always matches the data the handle holds.
    Build a new ``SourceData`` to use new data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Source images, values in [0, 1].
    y : array-like of shape (n_samples,)
        Source labels (numbers, strings, or an object array of them, such as
        a pandas column of strings).

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The read-only copy of the source images.
    y : ndarray of shape (n_samples,)
        The read-only copy of the labels.
    fingerprint : str
        Hash of the data's content (values, not memory addresses, for object
        labels); part of the key of cached source models.

    Examples
    --------
    >>> from skalltransfer import SourceData
    >>> from skalltransfer.datasets import load_mnist
    >>> Xs, ys = load_mnist()
    >>> data = SourceData(Xs, ys)
    >>> data
    SourceData(n_samples=5000, n_features=784, n_classes=10)
    >>> data.X.flags.writeable
    False
    """

    def __init__(self, X, y):
        self._set(X, y, copy=True)

    def _set(self, X, y, copy):
        # copy=True: a copy that shares no memory with the caller's arrays
        # (check_array copies only once, also after a dtype conversion).
        X = check_array(X, dtype=(np.float32, np.float64), copy=copy)
        y = column_or_1d(y, warn=True)
        if copy:
            y = np.array(y, copy=True)
        if len(y) != X.shape[0]:
            raise ValueError(
                f"SourceData: X has {X.shape[0]} samples but y has {len(y)}."
            )
        check_unit_interval(X, "SourceData X")
        self._freeze(X, y)

    def _freeze(self, X, y):
        X.flags.writeable = False
        y.flags.writeable = False
        self._X = X
        self._y = y
        self._fingerprint = None

    @classmethod
    def from_npz(cls, path, X_key="X", y_key="y"):
        """Load source data from a ``.npz`` file with arrays ``X`` and ``y``.

        The file is read with ``allow_pickle=False``: it never runs code, and
        object arrays are refused.
        """
        X, y = read_npz(path, X_key, y_key)
        data = cls.__new__(cls)
        data._set(X, y, copy=False)  # freshly read: nobody else holds them
        return data

    @property
    def X(self):
        return self._X

    @property
    def y(self):
        return self._y

    @property
    def fingerprint(self):
        if self._fingerprint is None:
            h = hashlib.sha1()
            for a in (self._X, self._y):
                _hash_array(h, a)
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    @property
    def n_samples(self):
        return self._X.shape[0]

    # Shared by reference: clone (deepcopy) keeps one instance.
    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __getstate__(self):
        return {"X": self._X, "y": self._y, "fingerprint": self._fingerprint}

    def __setstate__(self, state):
        # Unpickled arrays are fresh (and writeable): nobody else holds them.
        self._freeze(np.asarray(state["X"]), np.asarray(state["y"]))
        self._fingerprint = state.get("fingerprint")

    def __repr__(self):
        n_classes = len(np.unique(self._y))
        return (
            f"SourceData(n_samples={self._X.shape[0]}, "
            f"n_features={self._X.shape[1]}, n_classes={n_classes})"
        )


def read_npz(path, X_key="X", y_key="y", key_hint="Pass X_key= and y_key="):
    """The arrays ``X_key`` and ``y_key`` of a ``.npz`` file, read without
    pickle, with a message of our own for a file that is not a readable
    ``.npz``, lacks a key (ending with ``key_hint``) or holds object arrays."""
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"'{path}' is not a .npz file (a zip archive written by "
            "numpy.savez); it is corrupt, truncated or of another format."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in (X_key, y_key) if key not in data.files]
            if missing:
                raise ValueError(
                    f"'{path}' has no array(s) {missing}; it holds "
                    f"{sorted(data.files)}. {key_hint}"
                )
            arrays = [_npz_member(path, data, key) for key in (X_key, y_key)]
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ValueError(
            f"'{path}' is a corrupt or truncated .npz file ({exc})."
        ) from exc
    return tuple(arrays)


def _npz_member(path, data, key):
    """The array ``key`` of an open ``.npz`` file, with our messages for an
    object array, a damaged one, or a member that is not an array."""
    try:
        value = data[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(
                f"'{path}' holds object arrays, which are not loaded because "
                "unpickling them could run code; save the images as numbers and "
                "the labels as numbers or strings (e.g. y.astype(str))."
            ) from None
        raise ValueError(
            f"'{path}': the array '{key}' is damaged "
            f"({' '.join(str(exc).split())}); write the file again with "
            "numpy.savez."
        ) from exc
    if not isinstance(value, np.ndarray):
        # NumPy returns the raw bytes of a member that is not a .npy array.
        raise ValueError(
            f"'{path}': the member '{key}' is not a NumPy array; write the file "
            "with numpy.savez."
        )
    return value


def _hash_array(h, a):
    """Feed the shape, dtype and values of ``a`` to the hash ``h``."""
    h.update(str((a.shape, a.dtype.str)).encode())
    if a.dtype.hasobject:
        # The bytes of an object array are pointers, different for equal
        # arrays: hash each value's type and repr instead.
        for value in a.ravel():
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            h.update(f"{kind}:{value!r}\0".encode())
    else:
        h.update(np.ascontiguousarray(a).tobytes())


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


def _fit_source(estimator, data):
    """Fit ``estimator`` on the source data."""
    return estimator.fit(data.X, data.y)


def clear_source_cache():
    """Forget the source models cached in this process."""
    _MEMORY_CACHE.clear()


def cache_location(memory):
    """The directory of the disk cache that ``source_memory`` names (a path or
    a ``joblib.Memory``, whose ``location`` is used), or None for no disk
    cache."""
    if memory is None:
        return None
    if isinstance(memory, joblib.Memory):
        if memory.location is None:
            return None
        memory = memory.location
    if isinstance(memory, (str, os.PathLike)):
        return os.path.abspath(os.fspath(memory))
    raise TypeError(
        "source_memory must be None, a directory path or a joblib.Memory, "
        f"got {type(memory).__name__}."
    )


def is_cached(estimator, data, memory):
    """Whether :func:`fit_source_cached` would reuse a fit of ``estimator`` on
    ``data`` (in this process, or a whole, unaltered disk entry), without
    loading it."""
    key = _cache_key(estimator, data)
    if key in _MEMORY_CACHE:
        return True
    location = cache_location(memory)
    return location is not None and has_entry(location, key)


def _remember(key, fitted):
    _MEMORY_CACHE[key] = fitted
    while len(_MEMORY_CACHE) > _MEMORY_CACHE_SIZE:
        _MEMORY_CACHE.popitem(last=False)


def _store_on_disk(fitted, location, key):
    """Write the disk entry; a source that cannot be stored is still used."""
    try:
        write_entry(location, key, fitted, __version__)
    except TypeError as exc:
        warnings.warn(
            f"The fitted source is not stored in the disk cache: {exc}",
            UserWarning,
            stacklevel=4,
        )
    except OSError as exc:
        warnings.warn(
            f"The fitted source could not be written to the cache directory "
            f"'{location}' ({exc}); it is used without being cached on disk.",
            UserWarning,
            stacklevel=4,
        )


def fit_source_cached(estimator, data, memory=None):
    """Fit an unfitted ``estimator`` on ``data``, reusing cached fits.

    The key is the estimator's class and parameters, the data fingerprint and
    the package version. Only an integer ``random_state`` makes a fit
    reproducible, so other values are fitted afresh (with a warning).
    """
    return fit_source_with_status(estimator, data, memory)[0]


def fit_source_with_status(estimator, data, memory=None):
    """:func:`fit_source_cached`, also saying where the model came from.

    Returns
    -------
    fitted : estimator
    status : {"memory", "disk", "fitted", "refitted", "not cacheable"}
        Reused from this process or from the disk cache; fitted now (and
        stored when ``memory`` names a disk cache); fitted now because the
        disk entry was corrupt (discarded with a warning, then replaced); or
        fitted now because the ``random_state`` is not an int.
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
        return _fit_source(clone(estimator), data), "not cacheable"
    if random_state is None:
        warnings.warn(
            "The source's random_state is None, so its fit cannot be reused: the "
            "source is fitted again for every fit of the transfer estimator. Set "
            "source__random_state to an int to fit it once per architecture.",
            UserWarning,
            stacklevel=3,
        )
        return _fit_source(clone(estimator), data), "not cacheable"
    key = _cache_key(estimator, data)
    if key in _MEMORY_CACHE:
        _MEMORY_CACHE.move_to_end(key)
        return _MEMORY_CACHE[key], "memory"
    location = cache_location(memory)
    status = "fitted"
    if location is not None:
        try:
            fitted = read_entry(location, key, estimator)
        except CorruptEntryError as exc:
            warnings.warn(
                f"Discarded the cached source '{entry_dir(location, key)}': {exc}. "
                "The source is trained again and stored anew.",
                UserWarning,
                stacklevel=3,
            )
            remove_entry(location, key)
            fitted, status = None, "refitted"
        if fitted is not None:
            _remember(key, fitted)
            return fitted, "disk"
    fitted = _fit_source(clone(estimator), data)
    if location is not None:
        _store_on_disk(fitted, location, key)
    _remember(key, fitted)
    return fitted, status


# -- resolving the source of a transfer estimator --------------------------------
_STALE_HINT = (
    "Pass source_data=SourceData(X_source, y_source) so the source is fitted "
    "for each parameter setting (and cached), or search over "
    "source=[FrozenEstimator(s) for s in fitted_sources] instead."
)


def check_source_data(source_data):
    """Raise the one "wrap it in SourceData" TypeError unless ``source_data``
    is None or a :class:`SourceData` (describing, never printing, what was
    given: the arrays may be large)."""
    if source_data is None or isinstance(source_data, SourceData):
        return
    given = type(source_data).__name__
    if isinstance(source_data, (tuple, list)):
        kinds = [type(item).__name__ for item in source_data[:3]]
        if len(source_data) > 3:
            kinds.append("...")
        given = f"a {given} of {len(source_data)} ({', '.join(kinds)})"
    raise TypeError(
        "source_data must be a skalltransfer.SourceData(X, y) handle, got "
        f"{given}. Wrap the arrays: source_data=SourceData(X_source, y_source)."
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
    check_source_data(source_data)
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
    return resolve_source_with_status(source, source_data, memory, origin)[0]


def resolve_source_with_status(source, source_data, memory, origin=None):
    """:func:`resolve_source` and where the model came from: ``"given"`` (a
    fitted source used as it is) or a status of
    :func:`fit_source_with_status`."""
    fitted = usable_fitted_source(source, source_data, origin)
    if fitted is not None:
        return fitted, "given"
    return fit_source_with_status(source, source_data, memory)


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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Input goes through the source network: it refuses what the source
        # refuses (pixel intensities in [0, 1] for binary visible units).
        try:
            source_tags = get_tags(self.source)
        except (AttributeError, TypeError):  # not a scikit-learn estimator
            return tags
        tags.input_tags.positive_only = source_tags.input_tags.positive_only
        return tags

    def _fitted_source(self):
        """The fitted source model (see :func:`resolve_source`)."""
        return resolve_source(
            self.source,
            getattr(self, "source_data", None),
            getattr(self, "source_memory", None),
            getattr(self, "_source_origin", None),
        )
