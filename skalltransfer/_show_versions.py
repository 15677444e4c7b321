"""``show_versions()``: what a bug report needs to know about this setup."""

import importlib.metadata
import platform
import sys

_DEPENDENCIES = (
    "skalltransfer",
    "numpy",
    "scipy",
    "scikit-learn",
    "numba",
    "joblib",
    "threadpoolctl",
    "skops",
    "pillow",
    "matplotlib",
    "tqdm",
)


def _versions():
    """``{distribution: version or None}`` of the package and its
    dependencies, optional ones included (None when not installed)."""
    found = {}
    for name in _DEPENDENCIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _thread_pools():
    """One dict per BLAS or OpenMP library loaded, as threadpoolctl sees it."""
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "num_threads", "version", "filepath")
    return [{key: pool.get(key) for key in keys} for pool in threadpool_info()]


def show_versions():
    """Print the system, the versions of the dependencies and the thread pools.

    Paste its output into a bug report. The thread pools are those of the
    BLAS and OpenMP libraries loaded in this process (through
    ``threadpoolctl``), which run every matrix product of the package.

    Examples
    --------
    >>> from skalltransfer import show_versions
    >>> show_versions()  # doctest: +SKIP
    """
    # Loads NumPy's BLAS so that threadpoolctl can see it.
    import numba
    import numpy  # noqa: F401

    print("System:")
    print(f"    python: {sys.version.splitlines()[0]}")
    print(f"executable: {sys.executable}")
    print(f"   machine: {platform.platform()}")
    print("\nPython dependencies:")
    for name, version in _versions().items():
        print(f"{name:>14}: {version if version else 'not installed'}")
    print("\nThreads:")
    print(f"NUMBA_NUM_THREADS: {numba.config.NUMBA_NUM_THREADS}")
    for pool in _thread_pools():
        print(
            f"{pool['internal_api']} ({pool['user_api']}) {pool['version']}: "
            f"{pool['num_threads']} threads, {pool['filepath']}"
        )
