"""Saving fitted models without pickle (skops), and reloading them equal."""

import os
import pickle
import warnings

import joblib
import numpy as np
import pytest
import skops.io as sio
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    DirectTransferClassifier,
    LayerStack,
    MPDBMClassifier,
    SourceData,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
    load_model,
    save_model,
)
from skalltransfer._persist import trusted_types


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def data(digits):
    """Source: digits 0-5; target: 150 of digits 6-9 with string labels."""
    X, y = digits
    names = np.array(["six", "seven", "eight", "nine"])
    Xt, yt = X[y >= 6][:150], names[y[y >= 6][:150] - 6]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sae = StackedAutoencoderClassifier(
            (16, 12), pretrain_max_iter=1, max_iter=5, random_state=0
        ).fit(X[y < 6], y[y < 6])
        dbm = MPDBMClassifier((12,), max_iter=3, random_state=0).fit(X[y < 6], y[y < 6])
        conv = ConvAutoencoderClassifier(
            ((3, 3),), hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=2,
            random_state=0,
        ).fit(X[y < 6], y[y < 6])  # fmt: skip
    return X, y, sae, dbm, Xt, yt, conv


MODELS = {
    "sae": lambda d: d[2],
    "mpdbm": lambda d: d[3],
    "conv": lambda d: d[6],
    "all-transfer-conv": lambda d: AllTransferClassifier(
        d[6], max_iter=2, random_state=0
    ),
    "all-transfer": lambda d: AllTransferClassifier(d[2], max_iter=3, random_state=0),
    "all-transfer-mpdbm-T1": lambda d: AllTransferClassifier(
        d[3], n_transferred_layers=1, max_iter=2, random_state=0
    ),
    "mean-relation-object-labels": lambda d: AllTransferClassifier(
        FrozenEstimator(d[2]), relation="mean", max_iter=2, random_state=0
    ),
    "truncated-auto": lambda d: TruncatedTransferClassifier(
        d[2], truncation="auto", cv=2, max_iter=2, random_state=0
    ),
    "pipeline": lambda d: make_pipeline(
        MinMaxScaler(clip=True), AllTransferClassifier(d[2], max_iter=2, random_state=0)
    ),
    "source-features": lambda d: SourceFeatures(d[2], layer=1),
    "direct": lambda d: DirectTransferClassifier(d[2]),
}


def fitted_model(name, d):
    X, y, _, _, Xt, yt, _ = d
    model = MODELS[name](d)
    if name in ("sae", "mpdbm", "conv"):
        return model
    if name == "direct":
        return model.fit(X[y < 3], y[y < 3])
    if name == "mean-relation-object-labels":
        return model.fit(Xt, yt.astype(object))
    return model.fit(Xt, yt)


def assert_equal_state(a, b, path="model"):
    """Recursively equal: same types, arrays with the same dtype and values."""
    assert type(a) is type(b), path
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, path
        if isinstance(a, np.ma.MaskedArray):
            assert_array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b))
        assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            assert_equal_state(u, v, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            assert_equal_state(a[k], b[k], f"{path}[{k!r}]")
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        assert_equal_state(vars(a), vars(b), path)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, path


@pytest.mark.parametrize("name", list(MODELS))
def test_a_saved_model_reloads_equal(name, data, tmp_path):
    X = data[0]
    model = fitted_model(name, data)
    path = tmp_path / "model.skops"
    save_model(model, path)
    # Every type in the file is trusted: no prompt, no trusted= list to pass.
    assert set(sio.get_untrusted_types(file=path)) <= set(trusted_types())
    loaded = load_model(path)
    assert_equal_state(vars(model), vars(loaded))
    methods = ["predict", "predict_proba"] if hasattr(model, "predict") else []
    for method in methods or ["transform"]:
        assert_array_equal(getattr(loaded, method)(X), getattr(model, method)(X))
    assert os.listdir(tmp_path) == ["model.skops"]  # no temporary file left


def test_loading_a_skops_model_runs_no_pickle(data, tmp_path, monkeypatch):
    model = fitted_model("all-transfer", data)
    save_model(model, tmp_path / "m.skops")

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    loaded = load_model(tmp_path / "m.skops")
    assert_array_equal(loaded.predict(data[0]), model.predict(data[0]))


def test_families_come_back_as_the_registered_objects(data, tmp_path):
    model = fitted_model("all-transfer-mpdbm-T1", data)
    save_model(model, tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    assert loaded.network_.family is model.network_.family
    stack = pickle.loads(pickle.dumps(LayerStack.from_estimator(data[3])))
    assert stack.family is model.network_.family
    # The family is stored by name: no Family object in the file.
    untrusted = sio.get_untrusted_types(file=tmp_path / "m.skops")
    assert not any("Family" in t for t in untrusted)


class Marker:
    """A foreign type whose reconstruction would create a file."""

    path = None

    def __setstate__(self, state):
        open(self.path, "w").close()


def test_a_skops_file_with_foreign_types_is_refused(data, tmp_path):
    model = fitted_model("sae", data)
    Marker.path = str(tmp_path / "constructed")
    sio.dump({"model": model, "extra": Marker()}, tmp_path / "m.skops")
    with pytest.raises(ValueError, match=r"test_persist\.Marker.*not loaded"):
        load_model(tmp_path / "m.skops")
    assert not (tmp_path / "constructed").exists()


class Payload:
    """A pickle whose loading creates a file: stands for a crafted one."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_pickle_named_skops_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / "innocent.skops", "wb") as f:
        pickle.dump(Payload(str(marker)), f)
    for allow_pickle in (False, True):
        with pytest.raises(ValueError, match="named .skops but is not a skops"):
            load_model(tmp_path / "innocent.skops", allow_pickle=allow_pickle)
    assert not marker.exists()
    # The same bytes named as a pickle run only with allow_pickle=True.
    (tmp_path / "innocent.skops").rename(tmp_path / "crafted.pkl")
    with pytest.raises(ValueError, match="allow_pickle=True"):
        load_model(tmp_path / "crafted.pkl")
    assert not marker.exists()


def test_pickles_need_allow_pickle(data, tmp_path):
    model = fitted_model("sae", data)
    save_model(model, tmp_path / "m.joblib")
    with pytest.raises(ValueError, match="runs code.*allow_pickle=True"):
        load_model(tmp_path / "m.joblib")
    loaded = load_model(tmp_path / "m.joblib", allow_pickle=True)
    assert_array_equal(loaded.predict_proba(data[0]), model.predict_proba(data[0]))
    assert isinstance(joblib.load(tmp_path / "m.joblib"), StackedAutoencoderClassifier)


def test_save_model_errors(data, tmp_path):
    X, y, sae, _, Xt, yt, _ = data
    with pytest.raises(ValueError, match=r"\*\.skops"):
        save_model(sae, tmp_path / "m.bin")
    # A model holding a type load_model would refuse is not written.
    clf = AllTransferClassifier(
        StackedAutoencoderClassifier((8,), max_iter=1, random_state=0),
        source_data=SourceData(X[y < 6], y[y < 6]),
        source_memory=joblib.Memory(str(tmp_path / "cache"), verbose=0),
        max_iter=1,
    ).fit(Xt, yt)
    with pytest.raises(TypeError, match="joblib.memory.Memory.*source_memory=None"):
        save_model(clf, tmp_path / "m.skops")
    assert sorted(os.listdir(tmp_path)) == ["cache"]
    save_model(clf.set_params(source_memory=None), tmp_path / "m.skops")
    assert load_model(tmp_path / "m.skops").source_data.fingerprint == (
        clf.source_data.fingerprint
    )
    (tmp_path / "broken.skops").write_bytes((tmp_path / "m.skops").read_bytes()[:1000])
    with pytest.raises(ValueError):
        load_model(tmp_path / "broken.skops")
