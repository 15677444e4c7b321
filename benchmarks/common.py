"""Helpers shared by the benchmark scripts: timing, peak memory of a fresh
subprocess, data of a given size, and markdown tables.

Every benchmark reports ratios measured in the same run (ours against a
reference, or against a floor), which stay meaningful on a loaded machine;
absolute times are printed for context only.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
MB = 1024.0**2


# -- command line -------------------------------------------------------------
def task_set(name):
    """The development tasks or the held-out ones (one home:
    ``skalltransfer.datasets._tasks``)."""
    from skalltransfer.datasets._tasks import TASK_SETS

    return TASK_SETS[name]


def parser(doc, quick_help="a smoke run: small sizes, few repeats"):
    """An argument parser with the ``--quick`` flag every benchmark has: the
    docstring's first line is the description, its remaining paragraphs the
    epilog of ``--help``."""
    first, _, rest = doc.strip().partition("\n\n")
    p = argparse.ArgumentParser(
        description=first.splitlines()[0],
        epilog=rest or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help=quick_help)
    return p


# -- timing -------------------------------------------------------------------
def time_call(func, repeat=3, warmup=0):
    """Wall-clock times of ``repeat`` calls of ``func()`` (after ``warmup``
    untimed calls); returns ``(best, median)`` in seconds.

    The best time estimates the cost on a quiet machine (background load only
    ever adds time), the median shows how noisy the run was.
    """
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


# -- memory -------------------------------------------------------------------
def _proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def current_rss():
    """Resident set size of this process, in bytes."""
    try:
        return _proc_status_kb("VmRSS") * 1024
    except (OSError, KeyError):
        import psutil

        return psutil.Process().memory_info().rss


def reset_peak_rss():
    """Reset the peak RSS of this process to its current RSS (Linux >= 4.0:
    ``/proc/self/clear_refs``). Returns False where that is impossible; the
    peak then covers the whole life of the process."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def release_free_memory():
    """Return freed heap memory to the system (glibc ``malloc_trim``), so
    that the RSS measured next does not include memory that a later
    allocation would reuse. A no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_rss():
    """Peak resident set size of this process, in bytes."""
    try:
        return _proc_status_kb("VmHWM") * 1024
    except (OSError, KeyError):
        import resource

        scale = 1 if sys.platform == "darwin" else 1024  # bytes vs KiB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def run_child(script, function, kwargs, env=None, timeout=3600):
    """Run ``function(**kwargs)`` of benchmark ``script`` in a fresh Python
    process and return its JSON-serialisable result.

    The child prints its result as JSON on its last line of output. ``env``
    adds environment variables (e.g. ``NUMBA_CACHE_DIR``).
    """
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(BENCH_DIR)!r})\n"
        f"import {Path(script).stem} as bench\n"
        f"result = bench.{function}(**json.loads({json.dumps(json.dumps(kwargs))}))\n"
        "print()\n"
        "print(json.dumps(result))\n"
    )
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{function}({kwargs}) failed in a subprocess:\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- data ---------------------------------------------------------------------
def mnist(n_samples=None, dtype=np.float32):
    """The bundled MNIST subset (5,000 images in [0, 1], sorted by class) in a
    fixed random order; fewer rows are a random subset, more rows are grown by
    :func:`augment`."""
    from skalltransfer.datasets import load_mnist

    X, y = load_mnist()
    order = np.random.RandomState(0).permutation(len(X))
    X, y = np.ascontiguousarray(X[order], dtype=dtype), y[order]
    if n_samples is None or n_samples == len(X):
        return X, y
    if n_samples < len(X):
        return X[:n_samples], y[:n_samples]
    return augment(X, y, n_samples)


def augment(X, y, n_samples, out=None, shape=(28, 28), random_state=0):
    """``n_samples`` rows: ``X`` itself, then copies of it shifted by up to
    two pixels (a new random shift per copy), written chunk by chunk into
    ``out`` (allocated if None) so that no temporary of the full size exists.
    """
    rng = np.random.RandomState(random_state)
    n = len(X)
    if out is None:
        out = np.empty((n_samples, X.shape[1]), dtype=X.dtype)
    images = X.reshape(-1, *shape)
    labels = np.empty(n_samples, dtype=y.dtype)
    for start in range(0, n_samples, n):
        stop = min(start + n, n_samples)
        if start == 0:
            chunk = images
        else:
            dy, dx = rng.randint(-2, 3, size=2)
            chunk = np.roll(images, (dy, dx), axis=(1, 2))
        out[start:stop] = chunk[: stop - start].reshape(stop - start, -1)
        labels[start:stop] = y[: stop - start]
    return out, labels


# -- reporting ----------------------------------------------------------------
def environment():
    """One line naming the machine and the library versions."""
    import numba
    import sklearn
    from threadpoolctl import threadpool_info

    blas = [
        f"{p['internal_api']} {p.get('version') or ''}".strip()
        for p in threadpool_info()
        if p["user_api"] == "blas"
    ]
    return (
        f"Python {platform.python_version()}, NumPy {np.__version__} "
        f"({', '.join(sorted(set(blas))) or 'BLAS?'}), Numba {numba.__version__}, "
        f"scikit-learn {sklearn.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def markdown_table(headers, rows, title=None):
    """Print a markdown table (cells are formatted by the caller)."""
    if title:
        print(f"\n### {title}\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print(flush=True)


def paired_cell(diff):
    """``mean ± standard error [better/worse]`` of paired differences."""
    diff = np.asarray(diff)
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return f"{diff.mean():+.1f} ± {se:.1f} [{(diff > 0).sum()}/{(diff < 0).sum()}]"


def fmt(value, spec=",.0f"):
    """Format a number, or ``"n/a"`` for None."""
    return "n/a" if value is None else format(value, spec)
