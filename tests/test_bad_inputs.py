"""Bad, unusual and crafted inputs: each gets a clear error naming the problem
and the fix, or works as a scikit-learn user expects; nothing the user passed
is modified; nothing reads outside an array."""

import io
import json
import os
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    DirectTransferClassifier,
    MPDBMClassifier,
    SourceData,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
    load_model,
    make_transferability_scorer,
    rank_sources,
    save_model,
    transferability,
)

CONV = dict(conv_layers=((4, 3),), hidden_layer_sizes=(8,), pretrain_max_iter=0)
SAE = dict(hidden_layer_sizes=(8,), pretrain_max_iter=0, max_iter=2)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:200], y[:200], X[200:260], y[200:260] % 2


@pytest.fixture(scope="module")
def conv32(data):
    Xs, ys, _, _ = data
    return ConvAutoencoderClassifier(**CONV, max_iter=1, random_state=0).fit(Xs, ys)


@pytest.fixture(scope="module")
def sae(data):
    Xs, ys, _, _ = data
    return StackedAutoencoderClassifier(**SAE, random_state=0).fit(Xs, ys)


# -- any real numeric input, converted once to the network's dtype -----------------
@pytest.mark.parametrize(
    "convert",
    [
        lambda X: X.astype(np.float64),
        lambda X: X.astype(np.float32),
        lambda X: (X > 0.5).astype(np.int64),
        lambda X: X > 0.5,
        lambda X: X.astype(np.float64).tolist(),
        lambda X: np.asfortranarray(X.astype(np.float64)),
        lambda X: np.repeat(X, 2, axis=1)[:, ::2],  # not contiguous
    ],
    ids=["float64", "float32", "int", "bool", "list", "fortran", "strided"],
)
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
def test_the_conv_source_accepts_any_real_numeric_input(data, convert, fit_dtype):
    Xs, ys, Xt, yt = data
    source = ConvAutoencoderClassifier(**CONV, max_iter=1, random_state=0)
    source.fit(Xs.astype(fit_dtype), ys)
    X = convert(Xt.copy())
    assert source.predict(X).shape == (len(Xt),)
    assert np.isfinite(source.predict_proba(X)).all()
    assert AllTransferClassifier(source, max_iter=1).fit(X, yt).predict(X).shape
    assert SourceFeatures(source).fit(X).transform(X).shape[0] == len(Xt)
    assert np.isfinite(transferability(source, X, yt))


def test_read_only_input_is_accepted_and_never_written(data, conv32):
    _, _, Xt, yt = data
    X = Xt.astype(np.float64)
    X.flags.writeable = False
    clf = AllTransferClassifier(conv32, max_iter=1).fit(X, yt)
    assert clf.predict(X).shape == (len(X),)


def test_every_estimator_accepts_float64_on_a_float32_source(data, conv32, sae):
    _, _, Xt, yt = data
    X = Xt.astype(np.float64)
    for source in (conv32, sae):
        TruncatedTransferClassifier(source, 1, max_iter=1).fit(X, yt).predict(X)
        DirectTransferClassifier(source).fit(X, yt).predict(X)


# -- crafted model files --------------------------------------------------------
def _dump(model, path):
    """Write ``model`` as an attacker would: skops directly, no checks."""
    import skops.io

    skops.io.dump(model, path)
    return path


def _tamper(model, attribute, index, new):
    arrays = list(getattr(model, attribute))
    arrays[index] = new(arrays[index])
    setattr(model, attribute, arrays)
    return model


CRAFTED = {
    "short bias": ("intercepts_", 0, lambda b: b[:1].copy()),
    "long bias": ("intercepts_", 0, lambda b: np.concatenate([b, b])),
    "wrong weight shape": ("coefs_", 0, lambda W: W[:-1].copy()),
    "wrong dtype": ("coefs_", 0, lambda W: W.astype(np.int8)),
    "non-finite": ("coefs_", 1, lambda W: np.where(W == W.flat[0], np.nan, W)),
    "non-contiguous": ("coefs_", 0, lambda W: np.asfortranarray(W)),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
@pytest.mark.parametrize("kind", ["conv", "sae"])
def test_a_crafted_model_file_is_refused_naming_the_array(tmp_path, data, kind, case):
    Xs, ys, _, _ = data
    cls, kw = (
        (ConvAutoencoderClassifier, CONV)
        if kind == "conv"
        else (StackedAutoencoderClassifier, SAE)
    )
    model = cls(**{**kw, "max_iter": 1}, random_state=0).fit(Xs, ys)
    attribute, index, new = CRAFTED[case]
    if case == "non-contiguous" and model.coefs_[0].shape[1] == 1:
        pytest.skip("a single column is contiguous in both orders")
    path = _dump(_tamper(model, attribute, index, new), tmp_path / "m.skops")
    with pytest.raises(ValueError, match=rf"{attribute}\[{index}\]"):
        load_model(path)


def test_a_crafted_transfer_is_refused(tmp_path, data, conv32):
    _, _, Xt, yt = data
    clf = AllTransferClassifier(conv32, max_iter=1).fit(Xt, yt)
    clf.network_.intercepts[0] = clf.network_.intercepts[0][:1].copy()
    with pytest.raises(ValueError, match=r"intercepts\[0\]"):
        load_model(_dump(clf, tmp_path / "t.skops"))
    clf = AllTransferClassifier(conv32, max_iter=1).fit(Xt, yt)
    clf._plan_.units = np.array([0, 10**6])
    with pytest.raises(ValueError, match="units"):
        load_model(_dump(clf, tmp_path / "u.skops"))


def test_a_crafted_conv_geometry_is_refused(tmp_path, data):
    Xs, ys, _, _ = data
    model = ConvAutoencoderClassifier(**CONV, max_iter=1, random_state=0).fit(Xs, ys)
    model.image_shape_ = (64, 64, 1)
    with pytest.raises(ValueError, match="image_shape_"):
        load_model(_dump(model, tmp_path / "g.skops"))


def test_a_valid_file_still_loads_equal(tmp_path, data, conv32):
    _, _, Xt, _ = data
    save_model(conv32, tmp_path / "ok.skops")
    loaded = load_model(tmp_path / "ok.skops")
    assert_array_equal(loaded.predict_proba(Xt), conv32.predict_proba(Xt))


def test_kernels_never_read_outside_an_array_under_boundscheck():
    """The kernel tests pass with Numba's bounds checks on (a subprocess: the
    flag is read when Numba compiles)."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": "/tmp/nbbc"}
    tests = os.path.dirname(__file__)
    files = [
        "test_kernels.py",
        "test_conv_kernels.py",
        "test_winograd.py",
        "test_mean_field.py",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
        + [os.path.join(tests, f) for f in files],
        capture_output=True,
        text=True,
        env=env,
        cwd=tests,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# -- crafted cache entries -------------------------------------------------------
def _entry(cache):
    (entry,) = (cache / "sources").iterdir()
    return entry


def _rewrite_entry(entry, edit_body=None, edit_arrays=None):
    """Edit a cache entry and recompute its checksum, as an attacker can."""
    from skalltransfer._source_cache._store import ARRAYS_FILE, ENTRY_FILE, _digest

    content = json.loads((entry / ENTRY_FILE).read_text())
    body = content["body"]
    with np.load(entry / ARRAYS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if edit_body:
        edit_body(body["attributes"], arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    npz_bytes = buffer.getvalue()
    (entry / ARRAYS_FILE).write_bytes(npz_bytes)
    content["sha256"] = _digest(body, npz_bytes)
    (entry / ENTRY_FILE).write_text(json.dumps(content))


def _bias_array(attributes):
    return attributes["intercepts_"]["list"][0]["array"]


CRAFTED_ENTRIES = {
    "a constructor parameter": lambda a, arr: a.update(
        hidden_layer_sizes={"json": [3]}
    ),
    "a method": lambda a, arr: a.update(fit={"json": "not a method"}),
    "classes_ of another type": lambda a, arr: a.update(classes_={"json": 7}),
    "a short bias": lambda a, arr: arr.update(
        {_bias_array(a): arr[_bias_array(a)][:1]}
    ),
    "a weight of another dtype": lambda a, arr: arr.update(
        {
            a["coefs_"]["list"][0]["array"]: arr[
                a["coefs_"]["list"][0]["array"]
            ].astype(np.float16)
        }
    ),
    "a non-finite weight": lambda a, arr: arr.update(
        {
            a["coefs_"]["list"][0]["array"]: np.full_like(
                arr[a["coefs_"]["list"][0]["array"]], np.inf
            )
        }
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED_ENTRIES))
def test_a_crafted_cache_entry_is_discarded_and_refitted(tmp_path, data, case):
    from skalltransfer._source_cache._cached_fit import forget_in_process_sources

    Xs, ys, Xt, yt = data
    source = StackedAutoencoderClassifier(**SAE, random_state=0)
    kw = dict(source_data=SourceData(Xs, ys), source_memory=tmp_path, max_iter=1)
    forget_in_process_sources()  # the first fit writes the disk entry
    AllTransferClassifier(source, **kw).fit(Xt, yt)
    forget_in_process_sources()
    _rewrite_entry(_entry(tmp_path), CRAFTED_ENTRIES[case])
    with pytest.warns(UserWarning, match="Discarded the cached source"):
        clf = AllTransferClassifier(source, **kw).fit(Xt, yt)
    assert callable(clf.source_.fit)
    assert clf.source_.hidden_layer_sizes == (8,)
    assert clf.source_.intercepts_[0].shape == (8,)
    forget_in_process_sources()
    # The refit replaced the entry: the next fit reads it without a warning.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Discarded")
        AllTransferClassifier(source, **kw).fit(Xt, yt)


# -- integer parameters are integers ----------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: StackedAutoencoderClassifier((8.7,)),
        lambda: MPDBMClassifier((8.5, 4)),
        lambda: ConvAutoencoderClassifier(((4.5, 3),)),
        lambda: ConvAutoencoderClassifier(((4, 3),), hidden_layer_sizes=(8.2,)),
        lambda: ConvAutoencoderClassifier(((4, 3),), image_shape=(8.9, 8.2)),
    ],
)
def test_a_float_where_an_integer_is_meant_is_refused(data, make):
    Xs, ys, _, _ = data
    with pytest.raises((InvalidParameterError, ValueError), match="integer"):
        make().fit(Xs, ys)


def test_a_float_truncation_grid_is_refused(data, sae):
    _, _, Xt, yt = data
    clf = TruncatedTransferClassifier(sae, truncation_grid=[1.7, 2], max_iter=1)
    with pytest.raises((InvalidParameterError, ValueError), match="integer"):
        clf.fit(Xt, yt)


# -- class weights ------------------------------------------------------------
@pytest.mark.parametrize(
    "weights, message",
    [
        ({0: -1.0, 1: 1.0}, "negative"),
        ({0: 0.0, 1: 0.0}, "all zero"),
        ({0: np.nan, 1: 1.0}, "finite"),
        ({0: np.inf, 1: 1.0}, "finite"),
    ],
)
def test_bad_class_weights_are_refused_by_their_own_message(
    data, sae, weights, message
):
    _, _, Xt, yt = data
    clf = AllTransferClassifier(sae, class_weight=weights, max_iter=1)
    with pytest.raises(ValueError, match=f"class_weight.*{message}"):
        clf.fit(Xt, yt)


# -- cache paths ------------------------------------------------------------------
def test_an_empty_cache_path_is_refused(data, sae):
    _, _, Xt, yt = data
    Xs, ys = data[0], data[1]
    source = StackedAutoencoderClassifier(**SAE, random_state=0)
    clf = AllTransferClassifier(
        source, source_data=SourceData(Xs, ys), source_memory="", max_iter=1
    )
    with pytest.raises(ValueError, match="source_memory.*empty"):
        clf.fit(Xt, yt)


def test_a_cache_path_with_a_tilde_is_expanded(data, tmp_path, monkeypatch):
    from skalltransfer._source_cache._cached_fit import forget_in_process_sources

    Xs, ys, Xt, yt = data
    forget_in_process_sources()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    source = StackedAutoencoderClassifier(**SAE, random_state=0)
    AllTransferClassifier(
        source, source_data=SourceData(Xs, ys), source_memory="~/cache", max_iter=1
    ).fit(Xt, yt)
    assert (tmp_path / "cache" / "sources").is_dir()
    assert not (tmp_path / "~").exists()


# -- warm start after an architecture change -------------------------------------
@pytest.mark.parametrize(
    "cls, kw, change",
    [
        (StackedAutoencoderClassifier, SAE, dict(hidden_layer_sizes=(6,))),
        (ConvAutoencoderClassifier, CONV, dict(image_shape=(4, 16))),
        (ConvAutoencoderClassifier, CONV, dict(conv_layers=((6, 3),))),
        (MPDBMClassifier, dict(hidden_layer_sizes=(8,)), dict(hidden_layer_sizes=(9,))),
    ],
)
def test_warm_start_after_an_architecture_change_is_refused(data, cls, kw, change):
    Xs, ys, _, _ = data
    model = cls(**{**kw, "max_iter": 1}, warm_start=True, random_state=0).fit(Xs, ys)
    model.set_params(**change)
    with pytest.raises(ValueError, match="warm_start.*" + next(iter(change))):
        model.fit(Xs, ys)


def test_warm_start_with_the_same_architecture_still_continues(data):
    Xs, ys, _, _ = data
    model = StackedAutoencoderClassifier(**SAE, warm_start=True, random_state=0)
    model.fit(Xs, ys).set_params(learning_rate_init=1e-4).fit(Xs, ys)
    assert len(model.loss_curve_) == 4


# -- messages -----------------------------------------------------------------
def test_a_source_passed_as_a_class_says_pass_an_instance(data):
    _, _, Xt, yt = data
    for make in (AllTransferClassifier, SourceFeatures, DirectTransferClassifier):
        with pytest.raises((TypeError, ValueError), match="instance"):
            make(ConvAutoencoderClassifier).fit(Xt, yt)


def test_a_value_just_above_one_is_printed_exactly(data, sae):
    _, _, Xt, _ = data
    X = Xt.astype(np.float64)
    X[3, 5] = 1.000001
    with pytest.raises(ValueError, match=r"1\.000001"):
        sae.predict(X)


def test_a_nan_loss_names_the_cause_not_the_solver(data, sae):
    _, _, Xt, yt = data
    clf = AllTransferClassifier(sae, output_scale=1e308, max_iter=2)
    with pytest.raises((ValueError, FloatingPointError)) as info:
        with np.errstate(all="ignore"):
            clf.fit(Xt, yt)
    assert "solver='adam'" not in str(info.value)


def test_a_bad_transferability_layer_is_refused_at_construction():
    with pytest.raises(ValueError, match="layer"):
        make_transferability_scorer(layer="bogus")
    with pytest.raises(ValueError, match="method"):
        make_transferability_scorer(method="bogus")


def test_rank_sources_names_the_entry_that_failed(data, sae):
    _, _, Xt, yt = data
    wide = StackedAutoencoderClassifier(**SAE, random_state=0)
    wide.fit(np.hstack([data[0], data[0]]), data[1])
    with pytest.raises(ValueError, match="'wide'"):
        rank_sources({"good": sae, "wide": wide}, Xt, yt)


def test_save_model_into_a_missing_folder_names_the_target(tmp_path, sae):
    target = tmp_path / "no" / "such" / "m.skops"
    with pytest.raises(OSError, match="does not exist") as info:
        save_model(sae, target)
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    assert not target.parent.exists()


def test_nothing_the_user_passed_is_modified(data, sae):
    _, _, Xt, yt = data
    X, y = Xt.copy(), yt.copy()
    weights = {0: 1.0, 1: 2.0}
    clf = AllTransferClassifier(sae, class_weight=weights, max_iter=1).fit(X, y)
    clf.predict(X)
    assert_array_equal(X, Xt) and assert_array_equal(y, yt)
    assert weights == {0: 1.0, 1: 2.0}
    assert_allclose(sae.coefs_[0], clf.source_.coefs_[0])


# -- found by the catalogue of bad inputs (benchmarks/bad_inputs.py) ---------------
def _skops_with_member(model, path, name, payload_writer):
    """Save ``model`` as .skops, then add a member written by
    ``payload_writer(zip_member_file)``, as a crafted file would."""
    import zipfile

    save_model(model, path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, "w", force_zip64=True) as member:
            payload_writer(member)
    return path


def test_a_model_file_that_inflates_far_beyond_its_size_is_not_read(sae, tmp_path):
    def zeros(member):
        block = bytes(1 << 20)
        for _ in range(64):
            member.write(block)

    path = _skops_with_member(sae, tmp_path / "bomb.skops", "extra.bin", zeros)
    with pytest.raises(ValueError, match="decompression bomb"):
        load_model(path)


def test_an_array_header_declaring_more_than_it_holds_is_not_read(sae, tmp_path):
    def huge_header(member):
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (10**9,), }"
        header = header.replace("10**9", str(10**9))
        header += " " * (63 - (len(header) + 10) % 64) + "\n"
        member.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
        member.write(header.encode() + bytes(64))

    path = _skops_with_member(sae, tmp_path / "h.skops", "huge.npy", huge_header)
    with pytest.raises(ValueError, match="declares an array"):
        load_model(path)


def test_a_model_file_cannot_shadow_a_method(sae, tmp_path):
    import copy

    crafted = copy.deepcopy(sae)
    crafted.fit = "not a method"
    with pytest.raises(ValueError, match="fit"):
        load_model(_dump(crafted, tmp_path / "s.skops"))


@pytest.mark.parametrize(
    "craft, match",
    [
        (lambda m: delattr(m, "intercepts_"), "lacks"),
        (lambda m: m.set_params(hidden_layer_sizes=(1000,)), "hidden_layer_sizes"),
    ],
)
def test_a_model_file_missing_an_attribute_or_contradicting_itself_is_refused(
    sae, tmp_path, craft, match
):
    import copy

    crafted = copy.deepcopy(sae)
    craft(crafted)
    with pytest.raises(ValueError, match=match):
        load_model(_dump(crafted, tmp_path / "c.skops"))


def test_crafted_conv_and_transfer_files_contradicting_themselves_are_refused(
    data, conv32, sae, tmp_path
):
    import copy

    _, _, Xt, yt = data
    conv = copy.deepcopy(conv32).set_params(image_shape=(4, 16))
    with pytest.raises(ValueError, match="image_shape"):
        load_model(_dump(conv, tmp_path / "c.skops"))
    from skalltransfer._core._families import MPDBM

    clf = AllTransferClassifier(sae, max_iter=1).fit(Xt, yt)
    clf.network_.family = MPDBM
    with pytest.raises(ValueError, match="visible_intercept"):
        load_model(_dump(clf, tmp_path / "f.skops"))
    direct = DirectTransferClassifier(sae).fit(Xt, yt)
    direct.source_units_ = np.array([0, 10**6])
    with pytest.raises(ValueError, match="source_units_"):
        load_model(_dump(direct, tmp_path / "d.skops"))
    features = SourceFeatures(sae).fit(Xt)
    features.layer_ = 99
    with pytest.raises(ValueError, match="layer_"):
        load_model(_dump(features, tmp_path / "l.skops"))


def test_a_deeply_nested_cache_entry_is_discarded(data, tmp_path):
    from skalltransfer._source_cache._cached_fit import forget_in_process_sources

    Xs, ys, Xt, yt = data
    source = StackedAutoencoderClassifier(**SAE, random_state=0)
    kw = dict(source_data=SourceData(Xs, ys), source_memory=tmp_path, max_iter=1)
    forget_in_process_sources()
    AllTransferClassifier(source, **kw).fit(Xt, yt)
    forget_in_process_sources()
    entry = _entry(tmp_path) / "entry.json"
    entry.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.warns(UserWarning, match="Discarded the cached source"):
        AllTransferClassifier(source, **kw).fit(Xt, yt)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: np.zeros((60, 64), "datetime64[s]"), "datetime64"),
        (lambda: np.full((60, 64), "abc"), "numbers"),
        (lambda: None, "None"),
        (lambda: "images.npy", "path"),
        (lambda: [[0.1, 0.2], [0.3]], "numbers"),
    ],
)
def test_input_that_is_not_numbers_is_refused_in_our_words(sae, make, match):
    with pytest.raises(ValueError, match=match):
        sae.predict(make())


def test_labels_of_mixed_types_are_refused_naming_them(data):
    Xs, _, _, _ = data
    y = np.array([0, "a"] * 30, dtype=object)
    with pytest.raises(ValueError, match="mixes labels.*int, str"):
        StackedAutoencoderClassifier(**SAE).fit(Xs[:60], y)
    y = np.array([0, 1, 2] * 20, dtype=object)  # object ints are fine
    clf = StackedAutoencoderClassifier(**SAE).fit(Xs[:60], y)
    assert set(clf.classes_) == {0, 1, 2}


def test_the_metrics_refuse_bad_layers_and_class_sources(data, sae):
    _, _, Xt, yt = data
    with pytest.raises(ValueError, match="logme' and 'knn' only"):
        transferability(sae, Xt, yt, method="leep", layer=1)
    for bad in (True, 1.5, "bogus", 0):
        with pytest.raises(ValueError, match="layer"):
            transferability(sae, Xt, yt, method="knn", layer=bad)
    with pytest.raises(TypeError, match="instance"):
        transferability(StackedAutoencoderClassifier, Xt, yt)


@pytest.mark.parametrize(
    "make",
    [
        lambda: StackedAutoencoderClassifier((True,)),
        lambda: ConvAutoencoderClassifier(((True, 3),)),
        lambda: StackedAutoencoderClassifier((8,), corruption_level=[[0.1]]),
        lambda: StackedAutoencoderClassifier((8,), corruption_level=[np.nan]),
        lambda: MPDBMClassifier((8,), max_col_norm=[-1.0, 1.0]),
        lambda: MPDBMClassifier((8,), max_col_norm=[np.nan, 1.0]),
    ],
)
def test_bools_nesting_and_impossible_values_are_refused(data, make):
    Xs, ys, _, _ = data
    with pytest.raises(ValueError):
        make().set_params(max_iter=1).fit(Xs, ys)


def test_truncated_transfer_checks_its_grid_and_scoring(data, sae):
    _, _, Xt, yt = data
    with pytest.raises(ValueError, match="truncation_grid"):
        TruncatedTransferClassifier(sae, truncation_grid=[[1]], max_iter=1).fit(Xt, yt)
    with pytest.raises(ValueError, match="bogus"):
        TruncatedTransferClassifier(sae, 1, scoring="bogus", max_iter=1).fit(Xt, yt)


def test_warm_start_names_a_changed_source_or_pooling(data, sae, conv32):
    Xs, ys, Xt, yt = data
    clf = AllTransferClassifier(sae, warm_start=True, max_iter=1).fit(Xt, yt)
    clf.set_params(source=conv32)
    with pytest.raises(ValueError, match="warm_start.*source"):
        clf.fit(Xt, yt)
    conv = ConvAutoencoderClassifier(**CONV, max_iter=1, warm_start=True)
    conv.fit(Xs, ys).set_params(pooling=1)
    with pytest.raises(ValueError, match="warm_start.*pooling"):
        conv.fit(Xs, ys)


def test_paths_that_cannot_be_paths_are_refused(sae, tmp_path):
    from skalltransfer import get_cache_dir

    with pytest.raises(ValueError, match="empty"):
        get_cache_dir("")
    with pytest.raises(ValueError, match="NUL"):
        get_cache_dir("a\0b")
    with pytest.raises(TypeError, match="file path"):
        save_model(sae, 5)
    with pytest.raises(TypeError, match="file path"):
        load_model(None)
    with pytest.raises(ValueError, match="NUL"):
        save_model(sae, str(tmp_path / "a\0b.skops"))


def test_messages_name_the_parameter_to_change(data, sae):
    Xs, ys, Xt, yt = data
    with pytest.raises((TypeError, ValueError), match="mmd_layers"):
        AllTransferClassifier(
            sae,
            mmd_lambda=1.0,
            mmd_layers=[],
            source_data=SourceData(Xs, ys),
            max_iter=1,
        ).fit(Xt, yt)
    with pytest.raises(ValueError, match="extra_hidden_layer"):
        AllTransferClassifier(
            sae, n_transferred_layers=1, extra_hidden_layer=True, max_iter=1
        ).fit(Xt, yt)
    with pytest.raises(ValueError, match="conv_layers"):
        ConvAutoencoderClassifier(((2, 3),) * 4, max_iter=1).fit(Xs, ys)
    with pytest.raises(ValueError, match="validation_fraction"):
        StackedAutoencoderClassifier(
            **SAE, early_stopping=True, validation_fraction=0.99
        ).fit(Xs, ys)


def test_the_layer_stack_constructor_checks_what_it_is_given():
    from skalltransfer import LayerStack

    W, b = np.ones((4, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="hidden_activation"):
        LayerStack([W], [b], hidden_activation="bogus")
    with pytest.raises(ValueError, match="output_activation"):
        LayerStack([W], [b], output_activation="bogus")
    with pytest.raises(ValueError, match="float32 or float64"):
        LayerStack([np.ones((4, 3), dtype=int)], [b])
    with pytest.raises(ValueError, match="finite"):
        LayerStack([np.full((4, 3), np.nan)], [b])
    stack = LayerStack([W.tolist()], [b.tolist()])  # lists become arrays
    assert stack.output_proba(np.ones((2, 4))).shape == (2, 3)


def test_active_learning_helpers_check_their_arguments():
    from skalltransfer.active import aift_scores, k_center_greedy, random_shift_augment

    X = np.random.RandomState(0).rand(20, 16)
    for first in (99, -1, 10**9):
        with pytest.raises(ValueError, match="first"):
            k_center_greedy(X, 2, first=first)
    with pytest.raises(ValueError, match="n_picks"):
        k_center_greedy(X, 1.5)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        k_center_greedy(X_nan, 2)
    assert random_shift_augment(X, 2, 0).shape == (20, 2, 16)  # an int seed
    with pytest.raises(ValueError, match="n_augment"):
        random_shift_augment(X, -1, 0)
    with pytest.raises(ValueError, match="max_shift"):
        random_shift_augment(X, 2, 0, max_shift=-1)
    P = np.full((1, 3, 2), 0.5)
    P[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="probabilities"):
        aift_scores(P)


@pytest.mark.parametrize("n_labels", [2, 3])
def test_a_multi_label_mlp_is_no_source(data, n_labels):
    # Its logistic outputs are independent: no distribution over classes to
    # relate the target classes to (two labels once passed for "binary").
    from sklearn.neural_network import MLPClassifier

    Xs, ys, Xt, yt = data
    labels = np.stack([ys % 2, ys > 4, ys % 3 == 0], axis=1)[:, :n_labels]
    mlp = MLPClassifier((8,), max_iter=30, random_state=0).fit(Xs, labels)
    for use in (
        lambda: AllTransferClassifier(mlp, max_iter=1).fit(Xt, yt),
        lambda: DirectTransferClassifier(mlp).fit(Xt, yt),
        lambda: transferability(mlp, Xt, yt, method="leep"),
    ):
        with pytest.raises(ValueError, match="multi-label MLPClassifier.*one class"):
            use()


def test_an_empty_label_map_is_a_map_without_entries(sae, data):
    _, _, Xt, yt = data
    with pytest.raises(ValueError, match=r"no entry for target class\(es\) \[0, 1\]"):
        DirectTransferClassifier(sae, label_map={}).fit(Xt, yt)
    assert DirectTransferClassifier(sae).fit(Xt, yt).source_units_.tolist() == [0, 1]
