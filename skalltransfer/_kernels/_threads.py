"""The threads of the conv kernels: how many BLAS allows, a pool that runs
parts of a batch at once, and a hold of BLAS at one thread while they run.

The kernels release the GIL (Numba ``nogil``, and NumPy's products), so
Python threads run them in parallel. Their number follows the BLAS thread
limit in force, so ``limit_threads``, ``threadpoolctl``, joblib's workers and
``OMP_NUM_THREADS`` bound them as they bound the products.
"""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

_blas = None
_pool = None
_pool_workers = 0
_pool_lock = threading.Lock()
_holds = 0  # nested single_threaded_blas() blocks
_limiter = None
_hold_lock = threading.Lock()


def _blas_libraries():
    """A ``threadpoolctl`` controller of the loaded BLAS libraries: NumPy's,
    and SciPy's, which Numba's ``np.dot`` calls (found once, at the first
    call, when scikit-learn has loaded both: a look-up costs milliseconds,
    reading or setting a limit microseconds)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def n_threads():
    """Threads the kernels may use: the smallest thread limit of the loaded
    BLAS libraries, so that ``limit_threads``, ``threadpoolctl``, joblib's
    workers and ``OMP_NUM_THREADS`` bound them as they bound the products."""
    limits = [lib.num_threads for lib in _blas_libraries().lib_controllers]
    return max(1, min(limits, default=1))


@contextlib.contextmanager
def single_threaded_blas():
    """A context holding every BLAS library at one thread.

    A network that runs its layers on its own threads holds BLAS at one
    thread meanwhile, as scikit-learn's KMeans does around its OpenMP loop:
    OpenBLAS's idle workers spin for a while after each multi-threaded
    product, and on a machine with few cores they take the cores the
    network's own threads need.
    The limit is process-wide. Holds from several threads nest: the first
    sets it, the last restores the limits the first found.
    """
    global _holds, _limiter
    with _hold_lock:
        if _holds == 0:
            _limiter = _blas_libraries().limit(limits=1)
        _holds += 1
    try:
        yield
    finally:
        with _hold_lock:
            _holds -= 1
            if _holds == 0:
                _limiter.restore_original_limits()
                _limiter = None


def _after_fork_in_child():
    """A forked child has none of the parent's threads: start a new pool,
    new locks, and give back a hold another parent thread had taken."""
    global _pool, _pool_workers, _pool_lock, _hold_lock, _holds, _limiter
    _pool, _pool_workers = None, 0
    _pool_lock, _hold_lock = threading.Lock(), threading.Lock()
    if _limiter is not None:
        _limiter.restore_original_limits()
    _holds, _limiter = 0, None


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _executor(workers):
    """The module's thread pool, with at least ``workers`` threads."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="skalltransfer")
            _pool_workers = workers
        return _pool


def split(n_items, n_parts, chunk=1):
    """Contiguous ranges ``(start, stop)`` of ``range(n_items)`` in at most
    ``n_parts`` parts, cut at multiples of ``chunk`` (none for no item)."""
    n_chunks = -(-n_items // chunk)
    n_parts = max(1, min(n_parts, n_chunks))
    per = -(-n_chunks // n_parts)
    cuts = [min(n_items, i * per * chunk) for i in range(n_parts + 1)]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def run_parts(parts, work):
    """``work(start, stop, index)`` for every part: the first in this thread,
    the others in the pool; returns the results in order. Every part has
    ended when it returns or raises (no thread still writes the outputs)."""
    if len(parts) <= 1:
        return [work(*part, 0) for part in parts]
    pool = _executor(len(parts) - 1)
    futures = [pool.submit(work, a, b, i) for i, (a, b) in enumerate(parts[1:], 1)]
    try:
        first = work(*parts[0], 0)
    finally:
        wait(futures)
    return [first, *(f.result() for f in futures)]
