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

from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import _is_fitted

from skalltransfer._core._params import fitted_params_hash, weights_params_hash
from skalltransfer._source_cache._cached_fit import fit_source_cached
from skalltransfer._source_cache._data import SourceData

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
    if isinstance(source, type):
        raise TypeError(
            f"source must be an estimator instance, but it is the class "
            f"{source.__name__} itself; pass an instance: {source.__name__}() "
            "(fitted, or unfitted with source_data)."
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
            "here (and cached). A search clones, and so un-fits, the sources "
            "it sets: search over source=[FrozenEstimator(s) for s in "
            "fitted_sources]."
        )
    return None


def resolve_source(source, source_data, memory, origin=None):
    """The fitted source model to transfer from (see
    :func:`usable_fitted_source`), fitted from ``source_data`` through the
    caches when needed, and where it came from: ``"given"`` (a fitted source
    used as it is) or a status of :func:`fit_source_cached`. Never modifies
    ``source``."""
    fitted = usable_fitted_source(source, source_data, origin)
    if fitted is not None:
        return fitted, "given"
    return fit_source_cached(source, source_data, memory)
