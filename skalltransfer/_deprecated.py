"""Deprecated public names, each a thin wrapper that warns with a
FutureWarning naming its replacement and then does what it always did."""

import contextlib
import numbers
import os

import joblib
from sklearn.utils import deprecated

from skalltransfer._kernels._mmd import mk_mmd2 as _mk_mmd2
from skalltransfer._source_cache._cached_fit import forget_in_process_sources
from skalltransfer.plotting import FilterDisplay

# Environment variables that size the thread pools of native libraries, read
# when the library is loaded (joblib's loky workers and Dask's nanny set them).
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)


# -- threads ------------------------------------------------------------------
def _numba_threads_launched():
    """Whether Numba's parallel thread pool runs in this process. Our kernels
    are serial, so it normally does not, and launching it just to cap it
    would start idle threads."""
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return bool(getattr(parallel, "_is_initialized", False))


def _check_n_threads(n_threads):
    if n_threads is None:
        return None
    if not isinstance(n_threads, numbers.Integral) or n_threads == 0:
        raise ValueError(
            f"n_threads must be a positive int, a negative int (-1 for all "
            f"processors) or None, got {n_threads!r}."
        )
    if n_threads < 0:
        return max(joblib.cpu_count() + 1 + int(n_threads), 1)
    return int(n_threads)


@deprecated(
    "use threadpoolctl.threadpool_limits(limits=n_threads) instead (also a "
    "context manager); the package's kernels add no thread pool of their own."
)
@contextlib.contextmanager
def limit_threads(n_threads=1):
    """Limit the BLAS, OpenMP and Numba threads of this process in a block.

    Use it around work that already runs in parallel at a coarser level (for
    example a ``GridSearchCV`` on the threading backend, or a Dask worker
    started without its nanny), so that each fit's matrix products do not
    spawn one thread per core on top. The previous limits are restored on
    exit. It also works as a decorator.

    Parameters
    ----------
    n_threads : int or None, default=1
        Maximum threads per pool. Negative values count from the number of
        processors (``-1``: all of them), as ``n_jobs`` does; None leaves the
        limits unchanged.

    Yields
    ------
    n_threads : int or None
        The limit applied.

    See Also
    --------
    thread_info : The thread settings of the current process.

    Notes
    -----
    BLAS and OpenMP limits (set through ``threadpoolctl``) apply to the whole
    process, not only to the calling thread: use the block around the whole
    parallel section, not inside concurrently running threads. Numba's
    limit is per thread and only matters for kernels compiled with
    ``parallel=True``; the package's kernels are serial, so Numba's thread
    pool is capped only if something already launched it.

    Joblib's process backends (loky, the default of scikit-learn's
    ``n_jobs``) already start workers with ``cpu_count() // n_jobs`` BLAS,
    OpenMP and Numba threads, and Dask's nanny starts workers with one BLAS
    and OpenMP thread (``distributed.nanny.pre-spawn-environ``), so neither
    needs this.

    """
    from threadpoolctl import threadpool_limits

    n_threads = _check_n_threads(n_threads)
    if n_threads is None:
        yield None
        return
    numba_previous = None
    if _numba_threads_launched():
        import numba

        numba_previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=n_threads):
            yield n_threads
    finally:
        if numba_previous is not None:
            import numba

            numba.set_num_threads(numba_previous)


@deprecated(
    "use threadpoolctl.threadpool_info() for the thread pools, or "
    "skalltransfer.show_versions() for a report of the whole setup."
)
def thread_info():
    """The thread settings of the current process.

    Returns a plain dictionary, so ``client.run(thread_info)`` shows them for
    every worker of a Dask cluster.

    Returns
    -------
    info : dict
        ``cpu_count`` (joblib's count of usable processors), ``pools`` (one
        dict per BLAS or OpenMP library loaded: ``user_api``,
        ``internal_api``, ``num_threads``, ``filepath``), ``numba`` (its
        configured ``NUMBA_NUM_THREADS``, ``threads_launched`` and, when
        launched, ``num_threads``) and ``environ`` (the thread-count
        environment variables that are set).

    ['cpu_count', 'environ', 'numba', 'pools']
    """
    from threadpoolctl import threadpool_info

    pools = [
        {
            key: pool.get(key)
            for key in ("user_api", "internal_api", "num_threads", "filepath")
        }
        for pool in threadpool_info()
    ]
    numba_info = {"threads_launched": _numba_threads_launched()}
    try:
        import numba

        numba_info["NUMBA_NUM_THREADS"] = numba.config.NUMBA_NUM_THREADS
        if numba_info["threads_launched"]:
            numba_info["num_threads"] = numba.get_num_threads()
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    return {
        "cpu_count": joblib.cpu_count(),
        "pools": pools,
        "numba": numba_info,
        "environ": {
            var: os.environ[var] for var in THREAD_ENV_VARS if var in os.environ
        },
    }


@deprecated(
    "use FilterDisplay.from_estimator(...) instead, which takes the same "
    "arguments and returns the same display."
)
def plot_filters(estimator_or_coefs, **kwargs):
    """Draw the first-layer weights of a network as a grid of images.

    Deprecated: use :meth:`FilterDisplay.from_estimator`, which takes the
    same arguments.
    """
    return FilterDisplay.from_estimator(estimator_or_coefs, **kwargs)


@deprecated(
    "use skalltransfer.clear_cache() instead, which forgets the sources cached in "
    "this process and deletes those on disk."
)
def clear_source_cache():
    """Forget the source models cached in this process.

    Deprecated: use :func:`clear_cache`.
    """
    forget_in_process_sources()


@deprecated(
    "use skalltransfer.metrics.multi_kernel_mmd2(X_source, X_target, ...) instead "
    "(same value; the gradients are internal)."
)
def mk_mmd2(Hs, Ht, **kwargs):
    """Multi-kernel MMD² between two samples.

    Deprecated: use :func:`skalltransfer.metrics.multi_kernel_mmd2`.
    """
    return _mk_mmd2(Hs, Ht, **kwargs)
