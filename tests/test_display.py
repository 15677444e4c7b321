"""RelationDisplay (the paper's Figs. 3, 4, 6) and FilterDisplay (Fig. 5)."""

import sys
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # no display needed; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

from skalltransfer import (  # noqa: E402
    AllTransferClassifier,
    FilterDisplay,
    MPDBMClassifier,
    RelationDisplay,
    StackedAutoencoderClassifier,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.fixture(scope="module")
def sources(digits):
    """Tiny fitted sources on digits 0-5 (6 output units, 8x8 inputs)."""
    X, y = digits
    mask = y < 6
    return {
        "sae": _fit_quietly(
            StackedAutoencoderClassifier(
                (16, 12), pretrain_max_iter=1, max_iter=5, random_state=0
            ),
            X[mask],
            y[mask],
        ),
        "mpdbm": _fit_quietly(
            MPDBMClassifier((16, 12), max_iter=2, random_state=0), X[mask], y[mask]
        ),
        "mlp": _fit_quietly(
            MLPClassifier((16,), max_iter=20, random_state=0), X[mask], y[mask]
        ),
    }


@pytest.fixture(scope="module")
def transfer(digits, sources):
    """An all-transfer of the SAE source to digits 6-8, relabelled."""
    X, y = digits
    mask = (y >= 6) & (y <= 8)
    names = np.array(["six", "seven", "eight"])
    Xt, yt = X[mask][:90], names[y[mask][:90] - 6]
    clf = AllTransferClassifier(sources["sae"], max_iter=5, random_state=0)
    return _fit_quietly(clf, Xt, yt)


# -- RelationDisplay ------------------------------------------------------------
def test_relation_display_from_estimator(transfer):
    before = joblib.hash(transfer.__dict__)
    disp = RelationDisplay.from_estimator(transfer)
    assert joblib.hash(transfer.__dict__) == before

    relation = transfer.relation_
    n_classes, n_units = relation.shape
    assert len(disp.bars_) == n_classes
    for c, bars in enumerate(disp.bars_):
        assert len(bars) == n_units
        heights = [bar.get_height() for bar in bars]
        assert_allclose(heights, relation[c])
    # The x axis names the source output units with the source's classes.
    ticks = [t.get_text() for t in disp.ax_.get_xticklabels()]
    assert ticks == [str(k) for k in transfer.source_.classes_]
    assert disp.ax_.get_xlabel() == "source output unit"
    legend = [t.get_text() for t in disp.legend_.get_texts()]
    assert legend == [*map(str, transfer.classes_), "selected unit"]
    assert disp.figure_ is disp.ax_.figure


def test_relation_display_marks_the_selected_units(transfer):
    disp = RelationDisplay.from_estimator(transfer)
    units = transfer.selected_units_
    assert len(disp.markers_) == len(units)
    for c, (bars, v) in enumerate(zip(disp.bars_, units)):
        hatched = [k for k, bar in enumerate(bars) if bar.get_hatch()]
        assert hatched == [v]
        # The marker sits above the selected bar.
        bar = bars[v]
        x, y = disp.markers_[c].get_data()
        assert_allclose(x, [bar.get_x() + bar.get_width() / 2])
        assert y[0] >= bar.get_height()


def test_relation_display_from_relation_and_names():
    relation = np.array([[0.6, 0.3, 0.1, 0.0], [0.1, 0.1, 0.2, 0.6]])
    fig, ax = plt.subplots()
    disp = RelationDisplay.from_relation(
        relation,
        target_names=["lesion", "non-lesion"],
        source_names=list("abcd"),
        selected_units=[0, 3],
        ax=ax,
        colors=["red", "blue"],
    )
    assert disp.ax_ is ax and disp.figure_ is fig
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    assert_allclose(matplotlib.colors.to_rgba("red"), disp.bars_[0][1].get_facecolor())
    assert disp.bars_[1][3].get_hatch()
    assert not disp.bars_[1][2].get_hatch()


def test_relation_display_without_selected_units():
    disp = RelationDisplay([[0.5, 0.5], [1.0, 0.0]]).plot()
    assert disp.markers_ is None
    assert not any(bar.get_hatch() for bars in disp.bars_ for bar in bars)
    assert [t.get_text() for t in disp.legend_.get_texts()] == ["0", "1"]
    assert RelationDisplay([[0.5, 0.5]]).plot(legend=False).legend_ is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(relation=[0.5, 0.5]), "2-D"),
        (dict(relation=[[np.nan, 1.0]]), "NaN"),
        (dict(relation=[[0.5, 0.5]], target_names=["a", "b"]), "target_names"),
        (dict(relation=[[0.5, 0.5]], source_names=["a"]), "source_names"),
        (dict(relation=[[0.5, 0.5]], selected_units=[2]), "selected_units"),
        (dict(relation=[[0.5, 0.5]], selected_units=[0, 1]), "selected_units"),
    ],
)
def test_relation_display_validates_its_inputs(kwargs, match):
    relation = kwargs.pop("relation")
    with pytest.raises(ValueError, match=match):
        RelationDisplay(relation, **kwargs).plot()


def test_relation_display_needs_a_fitted_transfer(sources):
    with pytest.raises(TypeError, match="from_relation"):
        RelationDisplay.from_estimator(sources["sae"])
    unfitted = AllTransferClassifier(sources["sae"])
    with pytest.raises(NotFittedError):
        RelationDisplay.from_estimator(unfitted)


def test_relation_display_reads_a_pipeline(transfer):
    pipe = make_pipeline(FunctionTransformer(), transfer)
    disp = RelationDisplay.from_estimator(pipe)
    assert_allclose([bar.get_height() for bar in disp.bars_[0]], transfer.relation_[0])


def test_missing_matplotlib_is_a_clear_import_error(monkeypatch, transfer):
    # A None entry in sys.modules makes `import` raise ImportError.
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    match = r"pip install matplotlib.*skalltransfer\[plot\]"
    with pytest.raises(ImportError, match=match):
        RelationDisplay.from_estimator(transfer)
    with pytest.raises(ImportError, match=match):
        RelationDisplay([[1.0, 0.0]]).plot()
    with pytest.raises(ImportError, match=match):
        FilterDisplay.from_estimator(transfer)


# -- FilterDisplay ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["sae", "mpdbm", "mlp"])
def test_filter_display_of_a_source(sources, name):
    source = sources[name]
    before = joblib.hash(source.__dict__)
    disp = FilterDisplay.from_estimator(source, n_filters=10)
    assert joblib.hash(source.__dict__) == before
    assert isinstance(disp, FilterDisplay)
    assert disp.filters.shape == (10, 8, 8)
    assert_array_equal(disp.units, np.arange(10))
    W = source.coefs_[0]
    assert_allclose(disp.filters[3], W[:, 3].reshape(8, 8), rtol=1e-6)
    # 10 tiles in a 3 x 4 grid of 8x8 tiles with 1-pixel gaps.
    assert disp.grid_shape_ == (3, 4)
    assert disp.image_.get_array().shape == (3 * 9 - 1, 4 * 9 - 1)
    assert not np.shares_memory(disp.filters, W)


def test_filter_display_of_a_transfer_uses_fine_tuned_weights(transfer):
    disp = FilterDisplay.from_estimator(transfer, n_filters=None)
    assert disp.filters.shape == (16, 8, 8)
    assert_allclose(disp.filters[0], transfer.coefs_[0][:, 0].reshape(8, 8))
    assert not np.allclose(
        disp.filters[0], transfer.source_.coefs_[0][:, 0].reshape(8, 8)
    )


def test_filter_display_unit_choice(sources):
    W = sources["sae"].coefs_[0]
    norms = np.linalg.norm(W, axis=0)
    disp = FilterDisplay.from_estimator(sources["sae"], n_filters=4, units="norm")
    assert_array_equal(disp.units, np.argsort(-norms)[:4])
    disp = FilterDisplay.from_estimator(W, units=[5, 2])
    assert_array_equal(disp.units, [5, 2])
    assert_allclose(disp.filters[0], W[:, 5].reshape(8, 8))
    # More filters than units: every unit, once.
    assert FilterDisplay.from_estimator(W, n_filters=500).filters.shape == (16, 8, 8)
    with pytest.raises(ValueError, match="units must be"):
        FilterDisplay.from_estimator(W, units="largest")
    with pytest.raises(ValueError, match="indices"):
        FilterDisplay.from_estimator(W, units=[16])


def test_filter_display_image_shape(sources):
    W = np.random.RandomState(0).normal(size=(63, 5))
    with pytest.raises(ValueError, match="not a square.*image_shape"):
        FilterDisplay.from_estimator(W)
    disp = FilterDisplay.from_estimator(W, image_shape=(7, 9))
    assert disp.filters.shape == (5, 7, 9)
    with pytest.raises(ValueError, match="63 inputs"):
        FilterDisplay.from_estimator(W, image_shape=(8, 8))
    # The whole coefs_ list is accepted too.
    assert FilterDisplay.from_estimator(sources["mlp"].coefs_).filters.shape == (
        16,
        8,
        8,
    )
    with pytest.raises(TypeError, match="2-D weight array"):
        FilterDisplay.from_estimator(np.zeros(64))


def test_filter_display_scales_and_axes(sources):
    W = sources["sae"].coefs_[0]
    fig, ax = plt.subplots()
    disp = FilterDisplay.from_estimator(W, n_filters=4, scale="each", ax=ax, n_cols=4)
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.grid_shape_ == (1, 4)
    tiles = disp.image_.get_array()
    # Each tile is stretched to [0, 1]; the gaps are masked.
    assert tiles.min() == 0.0 and tiles.max() == 1.0
    assert np.ma.count_masked(tiles) == 3 * 8
    W0 = np.zeros((4, 2))
    W0[:, 1] = [-1, 0, 1, 0.5]
    shared = FilterDisplay.from_estimator(W0, scale="shared").image_.get_array()
    # Shared scale: zero is mid-gray, the largest magnitude is black or white.
    assert_allclose(shared[:2, :2], 0.5)
    assert_allclose(shared[:2, 3:], [[0.0, 0.5], [1.0, 0.75]])
    with pytest.raises(ValueError, match="scale"):
        FilterDisplay.from_estimator(W, scale="global")


def test_filter_display_needs_a_fitted_network():
    with pytest.raises(NotFittedError):
        FilterDisplay.from_estimator(MPDBMClassifier())
    with pytest.raises(TypeError, match="coefs_"):
        FilterDisplay.from_estimator(FunctionTransformer().fit(np.zeros((2, 4))))
