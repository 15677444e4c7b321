"""Deprecated names: each warns with a FutureWarning naming its replacement,
and still does what it did."""

import os

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.neural_network import MLPClassifier

import skalltransfer
from skalltransfer import FilterDisplay
from skalltransfer.metrics import multi_kernel_mmd2

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


def _enter_and_exit(context):
    with context:
        pass


@pytest.mark.parametrize(
    "name, replacement, call",
    [
        ("clear_source_cache", "clear_cache", lambda f: f()),
        ("limit_threads", "threadpool_limits", lambda f: _enter_and_exit(f(1))),
        ("thread_info", "threadpool_info", lambda f: f()),
        (
            "mk_mmd2",
            "multi_kernel_mmd2",
            lambda f: f(np.zeros((4, 2)), np.ones((4, 2))),
        ),
    ],
)
def test_a_deprecated_name_warns_and_names_its_replacement(name, replacement, call):
    with pytest.warns(FutureWarning, match=f"{name} is deprecated.*{replacement}"):
        call(getattr(skalltransfer, name))


def test_plot_filters_warns_and_draws_what_the_display_draws():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 16), np.arange(60) % 3
    mlp = MLPClassifier((5,), max_iter=300, random_state=0).fit(X, y)
    with pytest.warns(FutureWarning, match="FilterDisplay.from_estimator"):
        old = skalltransfer.plot_filters(mlp, n_filters=4)
    new = FilterDisplay.from_estimator(mlp, n_filters=4)
    assert_allclose(old.filters, new.filters)
    plt.close("all")


def test_mk_mmd2_still_returns_the_value_and_gradients():
    rng = np.random.RandomState(0)
    Hs, Ht = rng.normal(size=(30, 3)), rng.normal(0.5, size=(30, 3))
    value = skalltransfer.mk_mmd2(Hs, Ht)
    assert value == pytest.approx(multi_kernel_mmd2(Hs, Ht))
    value, gs, gt = skalltransfer.mk_mmd2(Hs, Ht, return_grad=True)
    assert gs.shape == Hs.shape and gt.shape == Ht.shape


def blas_threads():
    return {
        pool["num_threads"]
        for pool in skalltransfer.thread_info()["pools"]
        if pool["user_api"] == "blas"
    }


def test_limit_threads_caps_and_restores_blas_threads():
    limit_threads = skalltransfer.limit_threads
    before = blas_threads()
    with limit_threads(1) as n_threads:
        assert n_threads == 1
        assert blas_threads() == {1}
        np.ones((64, 64), dtype=np.float32) @ np.ones((64, 64), dtype=np.float32)
    assert blas_threads() == before

    @limit_threads(1)
    def inside():
        return blas_threads()

    assert inside() == {1}
    assert blas_threads() == before
    with limit_threads(None) as n_threads:
        assert n_threads is None and blas_threads() == before
    with limit_threads(-1) as n_threads:
        assert n_threads == joblib.cpu_count()
    for bad in (0, 1.5, "2"):
        with pytest.raises(ValueError, match="n_threads"):
            with limit_threads(bad):
                pass


def test_thread_info_is_plain_data():
    info = skalltransfer.thread_info()
    assert info["cpu_count"] >= 1
    assert isinstance(info["numba"]["NUMBA_NUM_THREADS"], int)
    assert all(set(pool) >= {"user_api", "num_threads"} for pool in info["pools"])
    # Worker processes of joblib's default backend get capped thread pools.
    workers = joblib.Parallel(n_jobs=2)(
        joblib.delayed(skalltransfer.thread_info)() for _ in "ab"
    )
    expected = os.environ.get(
        "OPENBLAS_NUM_THREADS", str(max(joblib.cpu_count() // 2, 1))
    )
    for worker in workers:
        assert worker["environ"].get("OPENBLAS_NUM_THREADS") == expected


def test_show_versions_reports_dependencies_and_thread_pools(capsys):
    skalltransfer.show_versions()
    out = capsys.readouterr().out
    for name in ("skalltransfer", "numpy", "scikit-learn", "numba", "threadpoolctl"):
        assert f"{name}:" in out
    assert skalltransfer.__version__ in out
    assert "threads" in out
