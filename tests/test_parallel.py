"""Parallel searches: warming the source cache, a grid search on a Dask
cluster, and thread limits."""

import importlib
import os
import uuid
import warnings
from collections import Counter

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, ParameterSampler
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_info, threadpool_limits

from skalltransfer import (
    AllTransferClassifier,
    SourceData,
    StackedAutoencoderClassifier,
)
from skalltransfer._source_cache._cached_fit import forget_in_process_sources
from skalltransfer._source_cache._prefit import prefit_sources

# Fits are logged as files, so that fits in worker processes count too.
FIT_LOG_ENV = "SKALLTRANSFER_TEST_FIT_LOG"


class CountingSAE(StackedAutoencoderClassifier):
    """Writes one empty file per fit into the directory ``$FIT_LOG_ENV``
    (module level, so that it pickles to worker processes)."""

    def fit(self, X, y):
        log_dir = os.environ.get(FIT_LOG_ENV)
        if log_dir:
            arch = "-".join(str(s) for s in np.atleast_1d(self.hidden_layer_sizes))
            name = f"{arch}_{os.getpid()}_{uuid.uuid4().hex}"
            open(os.path.join(log_dir, name), "w").close()
        return super().fit(X, y)


SAE_KW = dict(
    hidden_layer_sizes=(24, 16), pretrain_max_iter=2, max_iter=15, random_state=0
)
FAST = dict(max_iter=8, random_state=0)
GRID = {
    "source__hidden_layer_sizes": [(24, 16), (20, 12)],
    "n_transferred_layers": [1, "all"],
}
ARCHS = {"24-16", "20-12"}


def logged_fits(log_dir):
    """Counter of ``(architecture, pid)`` over the fits logged in ``log_dir``."""
    fits = Counter()
    for name in os.listdir(log_dir):
        arch, pid, _ = name.split("_")
        fits[arch, int(pid)] += 1
    return fits


def fits_per_arch(log_dir):
    per_arch = Counter()
    for (arch, _), n in logged_fits(log_dir).items():
        per_arch[arch] += n
    return dict(per_arch)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    forget_in_process_sources()
    yield
    forget_in_process_sources()


@pytest.fixture
def fit_log(tmp_path, monkeypatch):
    log_dir = tmp_path / "fits"
    log_dir.mkdir()
    monkeypatch.setenv(FIT_LOG_ENV, str(log_dir))
    return log_dir


@pytest.fixture(scope="module")
def tasks(digits):
    """Source: digits 0-5 (6 output units). Target: 300 of digits 6-9."""
    X, y = digits
    src = y < 6
    rng = np.random.RandomState(0)
    target = rng.permutation(np.flatnonzero(~src))[:300]
    return SourceData(X[src], y[src]), X[target], y[target]


def make_estimator(data, memory, **kwargs):
    return AllTransferClassifier(
        CountingSAE(**SAE_KW), source_data=data, source_memory=memory, **FAST, **kwargs
    )


# -- prefit_sources -----------------------------------------------------------
def test_prefit_sources_warms_the_cache_of_a_search(tasks, tmp_path, fit_log):
    data, Xt, yt = tasks
    est = make_estimator(data, tmp_path / "cache")
    result = prefit_sources(est, GRID)
    assert (result.n_fitted, result.n_cached, result.n_not_cacheable) == (2, 0, 0)
    assert result.status == ["fitted", "fitted"]
    assert [s.hidden_layer_sizes for s in result.sources] == [(24, 16), (20, 12)]
    assert not any(hasattr(s, "coefs_") for s in result.sources)  # unfitted
    assert fits_per_arch(fit_log) == {"24-16": 1, "20-12": 1}

    forget_in_process_sources()  # only the disk cache is warm now
    search = GridSearchCV(est, GRID, cv=3, error_score="raise").fit(Xt, yt)
    assert len(search.cv_results_["params"]) == 4
    assert fits_per_arch(fit_log) == {"24-16": 1, "20-12": 1}  # no source fit

    again = prefit_sources(est, GRID)
    assert (again.n_fitted, again.n_cached) == (0, 2)
    assert fits_per_arch(fit_log) == {"24-16": 1, "20-12": 1}


def test_prefit_sources_in_parallel_fills_the_disk_cache(tasks, tmp_path):
    data, _, _ = tasks
    est = make_estimator(data, tmp_path / "cache")
    result = prefit_sources(est, GRID, n_jobs=2)
    assert (result.n_fitted, result.n_cached) == (2, 0)
    # The worker processes wrote to the disk; this process holds nothing.
    assert prefit_sources(est, GRID, n_jobs=2).status == ["cached", "cached"]


def test_prefit_sources_without_disk_cache_warms_this_process(tasks, fit_log):
    data, Xt, yt = tasks
    est = make_estimator(data, None)
    with pytest.warns(UserWarning, match="only be cached in this process"):
        result = prefit_sources(est, GRID, n_jobs=2)
    assert result.n_fitted == 2
    GridSearchCV(est, GRID, cv=3, error_score="raise").fit(Xt, yt)
    assert fits_per_arch(fit_log) == {"24-16": 1, "20-12": 1}


def test_prefit_sources_grid_forms(tasks, tmp_path):
    data, _, _ = tasks
    est = make_estimator(data, tmp_path / "cache")
    # Without a grid: the estimator's own source.
    assert prefit_sources(est).n_fitted == 1
    # A list of grids, and an iterable of settings (a ParameterSampler).
    grids = [
        {"source__hidden_layer_sizes": [(24, 16)]},
        {"source__hidden_layer_sizes": [(20, 12)], "n_transferred_layers": [1]},
    ]
    assert prefit_sources(est, grids).status == ["cached", "fitted"]
    sampler = ParameterSampler(GRID, n_iter=4, random_state=0)
    assert prefit_sources(est, sampler).n_cached == 2
    # Inside a pipeline, with the step's prefix.
    pipe = make_pipeline(FunctionTransformer(), est)
    piped = {f"alltransferclassifier__{k}": v for k, v in GRID.items()}
    assert prefit_sources(pipe, piped).n_cached == 2
    with pytest.raises(TypeError, match="param_grid"):
        prefit_sources(est, 3)


def test_prefit_sources_skips_fitted_and_uncacheable_sources(tasks, tmp_path):
    data, _, _ = tasks
    fitted = CountingSAE(**SAE_KW).fit(data.X, data.y)
    for source in (fitted, FrozenEstimator(fitted)):
        est = AllTransferClassifier(source, **FAST)
        result = prefit_sources(est, {"n_transferred_layers": [1, "all"]})
        assert result.sources == [] and result.n_fitted == 0
    # A grid that changes a fitted source's parameters needs the source data.
    with pytest.raises(ValueError, match="no source_data"):
        prefit_sources(
            AllTransferClassifier(fitted), {"source__hidden_layer_sizes": [(8,)]}
        )
    est = make_estimator(data, tmp_path / "cache")
    with pytest.warns(UserWarning, match="not an int"):
        result = prefit_sources(est, {"source__random_state": [None]})
    assert result.status == ["not cacheable"]


# -- a grid search on a Dask cluster ------------------------------------------
def import_or_skip(module):
    """Import ``module``; skip the test without it, except in CI (``$CI``),
    where a missing optional dependency is an error."""
    if os.environ.get("CI"):
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            pytest.fail(f"{module} must be installed in CI (the dask extra): {exc}")
    return pytest.importorskip(module)


def _thread_report():
    """The BLAS/OpenMP pools of a worker and whether Numba's pool runs."""
    from numba.np.ufunc import parallel

    return threadpool_info(), bool(getattr(parallel, "_is_initialized", False))


def test_grid_search_on_a_dask_cluster_equals_the_sequential_run(
    tasks, tmp_path, fit_log
):
    distributed = import_or_skip("distributed")
    data, Xt, yt = tasks

    # The workers run BLAS on one thread (Dask's nanny sets it); so does the
    # reference run, which makes the two bit-for-bit comparable.
    with threadpool_limits(limits=1):
        sequential = GridSearchCV(
            make_estimator(data, tmp_path / "cache_sequential"),
            GRID,
            cv=3,
            n_jobs=1,
            error_score="raise",
        ).fit(Xt, yt)
    for name in os.listdir(fit_log):
        os.remove(fit_log / name)
    forget_in_process_sources()

    # A cold shared cache: the sources are fitted on the workers.
    search = GridSearchCV(
        make_estimator(data, tmp_path / "cache_dask"), GRID, cv=3, error_score="raise"
    )
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        worker_pids = set(client.run(os.getpid).values())
        worker_threads = client.run(_thread_report)
        with joblib.parallel_config(backend="dask"), threadpool_limits(limits=1):
            search.fit(Xt, yt)

    for key, values in sequential.cv_results_.items():
        if "test_score" in key or key == "params":
            assert_array_equal(search.cv_results_[key], values, err_msg=key)
    assert_array_equal(search.predict(Xt), sequential.predict(Xt))

    fits = logged_fits(fit_log)
    assert {arch for arch, _ in fits} == ARCHS
    assert max(fits.values()) == 1  # each architecture at most once per worker
    assert {pid for _, pid in fits} <= worker_pids  # refit loaded the cache
    for pools, numba_launched in worker_threads.values():
        assert all(pool["num_threads"] == 1 for pool in pools)
        assert not numba_launched
