"""Warming the source cache before a parallel search.

A search over source architectures (``source__hidden_layer_sizes``) fits each
architecture's source once and shares it through ``source_memory``, a cache
directory. :func:`prefit_sources` fills that directory before the search
starts, so that parallel workers (loky processes or Dask workers) load sources
instead of racing to fit the same one.
"""

import numbers
import warnings
from collections.abc import Iterable, Mapping

import joblib
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import ParameterGrid
from sklearn.utils import Bunch

from skalltransfer._source_cache._cached_fit import (
    cache_key,
    cache_location,
    fit_source_cached,
    is_cached,
)
from skalltransfer._source_cache._resolve import usable_fitted_source


# -- warming the source cache -------------------------------------------------
def _candidates(param_grid):
    """The parameter settings of a grid or a list of grids (as for
    ``GridSearchCV``), or of any other iterable of settings (e.g. a
    ``ParameterSampler``)."""
    if param_grid is None:
        return [{}]
    if isinstance(param_grid, (Mapping, list, tuple)):
        return list(ParameterGrid(param_grid))
    if isinstance(param_grid, Iterable):
        settings = list(param_grid)
        if all(isinstance(setting, Mapping) for setting in settings):
            return settings
    raise TypeError(
        "param_grid must be a dict of parameter lists, a list of such dicts "
        "(as for GridSearchCV) or an iterable of parameter settings (e.g. a "
        f"ParameterSampler), got {type(param_grid).__name__}."
    )


def _nested_estimators(value):
    """Estimators held by a parameter value (an estimator, or a list of
    estimators or of ``(name, estimator, ...)`` tuples as in Pipeline)."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return [value]
    if isinstance(value, (list, tuple)):
        found = []
        for item in value:
            if isinstance(item, tuple):
                found.extend(v for v in item if hasattr(v, "get_params"))
            elif hasattr(item, "get_params"):
                found.append(item)
        return found
    return []


def _transfer_estimators(estimator):
    """The outermost estimators with ``source`` and ``source_data``
    parameters in ``estimator`` (itself, or steps of a Pipeline, ...)."""
    if isinstance(estimator, FrozenEstimator):
        return []  # fitted once and for all: never refits its source
    params = estimator.get_params(deep=False)
    if "source" in params and "source_data" in params:
        return [estimator]
    found = []
    for value in params.values():
        for inner in _nested_estimators(value):
            found.extend(_transfer_estimators(inner))
    return found


def _source_to_fit(transfer):
    """``(source, data, memory)`` if fitting ``transfer`` would fit its source
    from ``source_data``, else None (a fitted or frozen source is used as is);
    decided by :func:`~skalltransfer._source_cache._resolve.usable_fitted_source`,
    as a fit decides it."""
    params = transfer.get_params(deep=False)
    source, data = params["source"], params.get("source_data")
    origin = getattr(transfer, "_source_origin", None)
    if usable_fitted_source(source, data, origin) is not None:
        return None
    return source, data, params.get("source_memory")


def _warm_one(source, data, memory):
    """Fit one source into the cache unless it is there; ``"fitted"`` or
    ``"cached"``. Runs in a worker: returns no model, only the status."""
    if is_cached(source, data, memory):
        return "cached"
    fit_source_cached(source, data, memory)
    return "fitted"


def prefit_sources(estimator, param_grid=None, *, n_jobs=None, verbose=0):
    """Fit every distinct source of a parameter search once, filling the cache.

    A transfer estimator given an unfitted ``source`` with
    ``source_data=SourceData(X, y)`` fits the source itself and caches it in
    ``source_memory``. In a parallel search the workers would fit the same
    architectures concurrently (the cache takes no lock); call this
    first and the search only loads them. It sets each parameter setting of
    ``param_grid`` on a clone of ``estimator`` exactly as a search does, keeps
    the distinct sources that a fit would train from ``source_data``, and fits
    those that are not cached yet.

    Parameters
    ----------
    estimator : estimator
        A transfer estimator with ``source``, ``source_data`` and
        ``source_memory`` parameters (e.g. :class:`AllTransferClassifier`),
        or a meta-estimator holding one, such as a ``Pipeline``.
    param_grid : dict, list of dicts or iterable of dicts, default=None
        The search's grid, as given to ``GridSearchCV``: a dict of parameter
        names to lists of values, or a list of such dicts. Any other iterable
        is read as parameter settings (one dict per candidate), e.g. a
        ``ParameterSampler`` or ``iter(search.cv_results_["params"])``.
        Parameters that do not touch the source are allowed and ignored.
        None prefits the estimator's own source.
    n_jobs : int, default=None
        Number of sources fitted in parallel with joblib. ``None`` means 1
        unless in a ``joblib.parallel_config`` context, so with
        ``parallel_config(backend="dask")`` the sources are fitted on the
        Dask workers. ``-1`` means all processors. Without ``source_memory``
        the fits run in this process, which is the only one that can reuse
        them.
    verbose : int, default=0
        Print the outcome; above 1, joblib's progress messages too.

    Returns
    -------
    result : Bunch
        Dictionary-like object with attributes:

        n_fitted : int
            Sources fitted now.
        n_cached : int
            Sources that were already cached (on disk or in this process).
        n_not_cacheable : int
            Sources whose ``random_state`` is not an int: they are fitted
            anew for every fit of the transfer estimator, so prefitting them
            is useless and they are skipped (with a warning).
        sources : list of estimator
            One unfitted source per distinct setting, in grid order.
        status : list of str
            ``"fitted"``, ``"cached"`` or ``"not cacheable"``, aligned with
            ``sources``.

    See Also
    --------
    limit_threads : Limit BLAS threads of a process within a block.
    SourceData : Source data handle for unfitted sources.

    Notes
    -----
    The cache key is the source's class and parameters, the fingerprint of
    the source data and the package version, so a search only reuses the
    prefitted sources if it runs with the same package version on the same
    data. Workers of a cluster must see the ``source_memory`` directory at the
    same path (a shared filesystem).

    Examples
    --------
    >>> import tempfile
    >>> from skalltransfer import (
    ...     AllTransferClassifier,
    ...     SourceData,
    ...     StackedAutoencoderClassifier,
    ...     prefit_sources,
    ... )
    >>> from skalltransfer.datasets import load_mnist
    >>> Xs, ys = load_mnist()
    >>> source = StackedAutoencoderClassifier(
    ...     pretrain_max_iter=1, max_iter=2, random_state=0
    ... )
    >>> est = AllTransferClassifier(
    ...     source,
    ...     source_data=SourceData(Xs[::10], ys[::10]),  # 500 images
    ...     source_memory=tempfile.mkdtemp(),
    ... )
    >>> grid = {
    ...     "source__hidden_layer_sizes": [(32,), (16, 16)],
    ...     "n_transferred_layers": [1, "all"],
    ... }
    >>> result = prefit_sources(est, grid)
    >>> result.n_fitted, result.n_cached
    (2, 0)
    >>> prefit_sources(est, grid).n_cached  # a second call finds them cached
    2
    """
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral)
    ):
        raise ValueError(f"n_jobs must be an int or None, got {n_jobs!r}.")
    settings = _candidates(param_grid)
    distinct = {}
    for params in settings:
        candidate = clone(estimator)
        if params:
            candidate.set_params(**clone(params, safe=False))
        for transfer in _transfer_estimators(candidate):
            job = _source_to_fit(transfer)
            if job is None:
                continue
            source, data, memory = job
            key = (cache_key(source, data), cache_location(memory))
            distinct.setdefault(key, (clone(source), data, memory))

    jobs = list(distinct.values())
    status = [None] * len(jobs)
    todo = []
    for i, (source, _, _) in enumerate(jobs):
        random_state = source.get_params().get("random_state", 0)
        if not isinstance(random_state, numbers.Integral):
            status[i] = "not cacheable"
        else:
            todo.append(i)
    if len(todo) < len(jobs):
        warnings.warn(
            f"{len(jobs) - len(todo)} source setting(s) have a random_state that "
            "is not an int, so their fits cannot be cached and were not "
            "prefitted. Set source__random_state to an int.",
            UserWarning,
            stacklevel=2,
        )

    in_process = [i for i in todo if cache_location(jobs[i][2]) is None]
    on_disk = [i for i in todo if i not in in_process]
    if in_process and n_jobs not in (None, 1):
        warnings.warn(
            "Without source_memory the fitted sources can only be cached in "
            "this process, so they are fitted here, one after another. Pass "
            "source_memory=<directory> to fit them in parallel and share them "
            "with the workers of a parallel search.",
            UserWarning,
            stacklevel=2,
        )
    for i in in_process:
        status[i] = _warm_one(*jobs[i])
    if on_disk:
        outcome = joblib.Parallel(n_jobs=n_jobs, verbose=max(verbose - 1, 0))(
            joblib.delayed(_warm_one)(*jobs[i]) for i in on_disk
        )
        for i, result in zip(on_disk, outcome):
            status[i] = result

    result = Bunch(
        n_fitted=status.count("fitted"),
        n_cached=status.count("cached"),
        n_not_cacheable=status.count("not cacheable"),
        sources=[source for source, _, _ in jobs],
        status=status,
    )
    if verbose:
        print(
            f"prefit_sources: {len(jobs)} distinct source(s) in "
            f"{len(settings)} parameter setting(s): {result.n_fitted} fitted, "
            f"{result.n_cached} already cached, {result.n_not_cacheable} not "
            "cacheable."
        )
    return result
