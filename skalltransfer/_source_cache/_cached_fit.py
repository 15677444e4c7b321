"""Fitting a source once per parameter setting: an in-process cache in
front of the disk cache (:mod:`._store`)."""

import numbers
import os
import warnings
from collections import OrderedDict

import joblib
from sklearn.base import clone

from skalltransfer._core._validation import as_path
from skalltransfer._source_cache._store import (
    CorruptEntryError,
    entry_dir,
    has_entry,
    read_entry,
    remove_entry,
    write_entry,
)
from skalltransfer._version import __version__

# -- caches ---------------------------------------------------------------------
_MEMORY_CACHE = OrderedDict()


_MEMORY_CACHE_SIZE = 8


def cache_key(estimator, data):
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


def forget_in_process_sources():
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
        if not os.fspath(memory).strip():
            raise ValueError(
                "source_memory is an empty path; pass a cache directory (e.g. "
                "skalltransfer.get_cache_dir()) or None for no disk cache."
            )
        path = as_path(memory, "source_memory")
        # "~" means the home directory here too, as in get_cache_dir.
        return os.path.abspath(os.path.expanduser(path))
    raise TypeError(
        "source_memory must be None, a directory path or a joblib.Memory, "
        f"got {type(memory).__name__}."
    )


def is_cached(estimator, data, memory):
    """Whether :func:`fit_source_cached` would reuse a fit of ``estimator`` on
    ``data`` (in this process, or a whole, unaltered disk entry), without
    loading it."""
    key = cache_key(estimator, data)
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
    """Fit an unfitted ``estimator`` on ``data``, reusing cached fits, and say
    where the model came from.

    The key is the estimator's class and parameters, the data fingerprint and
    the package version. Only an integer ``random_state`` makes a fit
    reproducible, so other values are fitted afresh (with a warning).

    Returns
    -------
    fitted : estimator
    status : {"memory", "disk", "fitted", "refitted", "not cacheable"}
        Reused from this process or from the disk cache; fitted now (and
        stored when ``memory`` names a disk cache); fitted now because the
        disk entry was corrupt (discarded with a warning, then replaced); or
        fitted now because the ``random_state`` is not an int.
    """
    # Checked first, so a bad path is reported whatever is cached in memory.
    location = cache_location(memory)
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
    key = cache_key(estimator, data)
    if key in _MEMORY_CACHE:
        _MEMORY_CACHE.move_to_end(key)
        return _MEMORY_CACHE[key], "memory"
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
