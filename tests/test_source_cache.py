"""Source data and the disk cache of fitted sources: what they can be trusted
with. The cache stores plain arrays and JSON, checks a checksum on load and
never unpickles anything; the source data cannot change under a cached
source."""

import io
import json
import os
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    MPDBMClassifier,
    SourceData,
    StackedAutoencoderClassifier,
    clear_cache,
    prefit_sources,
)
from skalltransfer._source_cache._cached_fit import forget_in_process_sources


class CountingSAE(StackedAutoencoderClassifier):
    """Counts its fits, to tell a reused source from a retrained one."""

    n_fits = 0

    def fit(self, X, y):
        type(self).n_fits += 1
        return super().fit(X, y)


SAE_KW = dict(hidden_layer_sizes=(16,), pretrain_max_iter=1, max_iter=3, random_state=0)


@pytest.fixture(autouse=True)
def _fresh():
    forget_in_process_sources()
    CountingSAE.n_fits = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
    forget_in_process_sources()


@pytest.fixture(scope="module")
def task(digits):
    """Source: digits 0-5. Target: 120 images of digits 6-9."""
    X, y = digits
    return X[y < 6], y[y < 6], X[y >= 6][:120], y[y >= 6][:120]


def transfer(data, cache, source=None):
    return AllTransferClassifier(
        source or CountingSAE(**SAE_KW),
        source_data=data,
        source_memory=cache,
        max_iter=3,
        random_state=0,
    )


def entries(cache):
    """The entry directories of the disk cache."""
    root = cache / "sources"
    return sorted(p for p in root.iterdir()) if root.is_dir() else []


def data_files(cache):
    """Every non-JSON file under ``cache``: what a loader would deserialize."""
    return [
        os.path.join(d, f)
        for d, _, files in os.walk(cache)
        for f in files
        if not f.endswith(".json")
    ]


def own_warnings(record):
    """The warnings of ``record`` besides the ConvergenceWarnings of tiny fits."""
    return [w for w in record if not issubclass(w.category, ConvergenceWarning)]


def assert_same_fit(a, b):
    assert sorted(vars(a)) == sorted(vars(b))
    for name, value in vars(a).items():
        other = vars(b)[name]
        assert type(other) is type(value), name
        if isinstance(value, list):
            assert len(value) == len(other)
            for u, v in zip(value, other):
                assert_array_equal(u, v, err_msg=name)
        elif isinstance(value, np.ndarray):
            assert value.dtype == other.dtype, name
            assert_array_equal(value, other, err_msg=name)
        else:
            assert value == other, name


# -- source data ---------------------------------------------------------------
def test_object_labels_are_fingerprinted_by_value(task):
    # Object labels are fingerprinted by value, not by their bytes (pointers).
    Xs, ys, _, _ = task
    a = SourceData(Xs, np.array([f"d{v}" for v in ys], dtype=object))
    b = SourceData(Xs, np.array([f"d{v}" for v in ys], dtype=object))
    assert a.fingerprint == b.fingerprint
    c = SourceData(Xs, np.array([f"e{v}" for v in ys], dtype=object))
    assert c.fingerprint != a.fingerprint


def test_object_labels_hit_the_disk_cache(task, tmp_path):
    # Object labels give the same key in a new process: no retraining and no
    # new entry on every run.
    Xs, ys, Xt, yt = task
    cache = tmp_path / "cache"
    fitted = []
    for _ in range(2):
        forget_in_process_sources()  # a new process: only the disk cache is warm
        data = SourceData(Xs, np.array([f"d{v}" for v in ys], dtype=object))
        fitted.append(transfer(data, cache).fit(Xt, yt))
    assert CountingSAE.n_fits == 1
    assert len(entries(cache)) == 1
    first, second = (clf.source_ for clf in fitted)
    # The labels come back exactly: same dtype, same values.
    assert second.classes_.dtype == object
    assert [type(c) for c in second.classes_] == [str] * 6
    assert_same_fit(first, second)
    assert_array_equal(fitted[0].predict_proba(Xt), fitted[1].predict_proba(Xt))


def test_source_data_holds_a_read_only_copy(task, tmp_path):
    # Changing the caller's array in place after SourceData was built must
    # not make a fit reuse a source of other data.
    Xs, ys, Xt, yt = task
    XA = Xs.copy()
    XB = np.ascontiguousarray(Xs[::-1])
    data = SourceData(XA, ys)
    fingerprint = data.fingerprint
    first = transfer(data, tmp_path / "cache").fit(Xt, yt).source_
    XA[:] = XB
    assert_array_equal(data.X, Xs)  # the handle kept the data it was given
    assert data.fingerprint == fingerprint
    with pytest.raises(ValueError, match="read-only"):
        data.X[0, 0] = 0.5
    # The reused source is the one fitted on the handle's data ...
    second = transfer(data, tmp_path / "cache").fit(Xt, yt).source_
    assert second is first
    refit = StackedAutoencoderClassifier(**SAE_KW).fit(data.X, data.y)
    assert_array_equal(second.coefs_[0], refit.coefs_[0])
    # ... and a handle on the changed array is other data: a new fit.
    changed = SourceData(XA, ys)
    assert changed.fingerprint != fingerprint
    n_fits = CountingSAE.n_fits
    transfer(changed, tmp_path / "cache").fit(Xt, yt)
    assert CountingSAE.n_fits == n_fits + 1


def test_source_data_pickles_read_only(task):
    Xs, ys, _, _ = task
    data = pickle.loads(pickle.dumps(SourceData(Xs, ys)))
    assert not data.X.flags.writeable and not data.y.flags.writeable
    assert data.fingerprint == SourceData(Xs, ys).fingerprint


# -- the disk cache ------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: StackedAutoencoderClassifier(**SAE_KW),
        lambda: MPDBMClassifier((12,), max_iter=2, random_state=0),
        lambda: ConvAutoencoderClassifier(
            ((3, 3),),
            hidden_layer_sizes=(8,),
            pretrain_max_iter=1,
            max_iter=2,
            random_state=0,
        ),  # fmt: skip
    ],
    ids=["sae", "mpdbm", "conv"],
)
def test_a_cached_source_is_restored_exactly(make, task, tmp_path):
    from skalltransfer._source_cache._cached_fit import fit_source_cached

    Xs, ys, _, _ = task
    data = SourceData(Xs, ys)
    fitted, status = fit_source_cached(make(), data, tmp_path)
    assert status == "fitted"
    forget_in_process_sources()
    loaded, status = fit_source_cached(make(), data, tmp_path)
    assert status == "disk"
    assert loaded is not fitted
    assert_same_fit(fitted, loaded)
    assert_array_equal(loaded.predict_proba(Xs), fitted.predict_proba(Xs))
    # Nothing in the cache is a pickle.
    assert {os.path.basename(f) for f in data_files(tmp_path)} == {"arrays.npz"}


class _Crafted:
    """Unpickling this creates ``marker``: code run by loading a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_pickle_in_the_cache_is_never_run(task, tmp_path):
    # The cache never unpickles what it finds: a crafted pickle is not run.
    Xs, ys, Xt, yt = task
    cache, marker = tmp_path / "cache", tmp_path / "pwned"
    data = SourceData(Xs, ys)
    reference = transfer(data, cache).fit(Xt, yt)
    payload = pickle.dumps(_Crafted(marker))
    files = data_files(cache)
    assert files
    for path in files:
        with open(path, "wb") as f:
            f.write(payload)
    for entry in entries(cache):  # and where a joblib cache keeps its result
        (entry / "output.pkl").write_bytes(payload)
    forget_in_process_sources()
    with pytest.warns(UserWarning, match="Discarded the cached source") as record:
        clf = transfer(data, cache).fit(Xt, yt)
    assert not marker.exists()
    assert len(own_warnings(record)) == 1
    assert CountingSAE.n_fits == 2  # retrained, not loaded
    assert_array_equal(clf.predict_proba(Xt), reference.predict_proba(Xt))
    # The entry was replaced by a good one: the next run loads it silently.
    forget_in_process_sources()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        transfer(data, cache).fit(Xt, yt)
    assert own_warnings(record) == []
    assert CountingSAE.n_fits == 2
    assert not marker.exists()


def test_a_pickled_array_with_a_valid_checksum_is_never_run(task, tmp_path):
    # The checksum only catches damage: someone who can write the cache can
    # also recompute it. Reading the arrays without pickle is what stops a
    # crafted object array then.
    from skalltransfer._source_cache._store import ARRAYS_FILE, ENTRY_FILE, _digest

    Xs, ys, Xt, yt = task
    cache, marker = tmp_path / "cache", tmp_path / "pwned"
    data = SourceData(Xs, ys)
    reference = transfer(data, cache).fit(Xt, yt)
    (entry,) = entries(cache)
    with np.load(entry / ARRAYS_FILE) as npz:
        arrays = {name: npz[name] for name in npz.files}
    first = sorted(arrays)[0]
    arrays[first] = np.array([_Crafted(marker)], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # pickles the object array
    meta = json.loads((entry / ENTRY_FILE).read_text())
    meta["sha256"] = _digest(meta["body"], buffer.getvalue())
    (entry / ARRAYS_FILE).write_bytes(buffer.getvalue())
    (entry / ENTRY_FILE).write_text(json.dumps(meta))
    forget_in_process_sources()
    n_fits = CountingSAE.n_fits
    with pytest.warns(UserWarning, match="Discarded the cached source"):
        clf = transfer(data, cache).fit(Xt, yt)
    assert not marker.exists()
    assert CountingSAE.n_fits == n_fits + 1  # retrained, not loaded
    assert_array_equal(clf.predict_proba(Xt), reference.predict_proba(Xt))


@pytest.mark.parametrize("damage", ["truncate", "flip", "entry_json", "swap"])
def test_a_damaged_entry_is_discarded_with_one_warning(damage, task, tmp_path):
    # A damaged entry gives one warning and a refit, not a traceback.
    Xs, ys, Xt, yt = task
    data = SourceData(Xs, ys)
    cache = tmp_path / "cache"
    reference = transfer(data, cache).fit(Xt, yt)
    if damage == "truncate":  # whatever the layout: every data file, halved
        for path in data_files(cache):
            with open(path, "rb") as f:
                content = f.read()
            with open(path, "wb") as f:
                f.write(content[: len(content) // 2])
    else:
        (entry,) = entries(cache)
        arrays = entry / "arrays.npz"
    if damage == "flip":
        content = bytearray(arrays.read_bytes())
        content[len(content) // 2] ^= 0xFF
        arrays.write_bytes(bytes(content))
    elif damage == "entry_json":
        (entry / "entry.json").write_text('{"sha256": "0"')
    elif damage == "swap":  # a valid entry of another source, under this key
        other = CountingSAE(**{**SAE_KW, "hidden_layer_sizes": (8,)})
        transfer(data, tmp_path / "other", source=other).fit(Xt, yt)
        (other_entry,) = entries(tmp_path / "other")
        for name in ("arrays.npz", "entry.json"):
            (entry / name).write_bytes((other_entry / name).read_bytes())
    forget_in_process_sources()
    n_fits = CountingSAE.n_fits
    with pytest.warns(UserWarning) as record:
        clf = transfer(data, cache).fit(Xt, yt)
    messages = [str(w.message) for w in own_warnings(record)]
    assert len(messages) == 1, messages
    assert "Discarded the cached source" in messages[0]
    assert "\n" not in messages[0]
    assert CountingSAE.n_fits == n_fits + 1  # retrained ...
    assert_same_fit(clf.source_, reference.source_)
    # ... and stored anew: the next run loads it, silently.
    forget_in_process_sources()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        transfer(data, cache).fit(Xt, yt)
    assert own_warnings(record) == []
    assert CountingSAE.n_fits == n_fits + 1


def test_the_status_of_a_source_fit(task, tmp_path):
    from skalltransfer._source_cache._cached_fit import fit_source_cached

    Xs, ys, _, _ = task
    data = SourceData(Xs, ys)
    source = StackedAutoencoderClassifier(**SAE_KW)
    assert fit_source_cached(source, data, tmp_path)[1] == "fitted"
    assert fit_source_cached(source, data, tmp_path)[1] == "memory"
    forget_in_process_sources()
    assert fit_source_cached(source, data, tmp_path)[1] == "disk"
    forget_in_process_sources()
    (entry,) = entries(tmp_path)
    (entry / "arrays.npz").write_bytes(b"PK")
    with pytest.warns(UserWarning, match="Discarded"):
        assert fit_source_cached(source, data, tmp_path)[1] == "refitted"
    with pytest.warns(UserWarning, match="random_state is None"):
        status = fit_source_cached(
            source.set_params(random_state=None), data, tmp_path
        )[1]
    assert status == "not cacheable"


def test_prefit_sources_refits_a_damaged_entry(task, tmp_path):
    Xs, ys, _, _ = task
    est = transfer(SourceData(Xs, ys), tmp_path / "cache")
    assert prefit_sources(est).status == ["fitted"]
    forget_in_process_sources()
    assert prefit_sources(est).status == ["cached"]
    (entry,) = entries(tmp_path / "cache")
    (entry / "arrays.npz").write_bytes(b"")
    forget_in_process_sources()
    with pytest.warns(UserWarning, match="Discarded"):
        assert prefit_sources(est).status == ["fitted"]
    assert CountingSAE.n_fits == 2


class _WithAModel(StackedAutoencoderClassifier):
    """A source whose fit leaves an object the cache cannot store."""

    def fit(self, X, y):
        super().fit(X, y)
        self.helper_ = {"model": MLPClassifier()}
        return self


def test_the_cache_refuses_attributes_it_cannot_store(task, tmp_path):
    from skalltransfer._source_cache._store import fitted_state

    Xs, ys, Xt, yt = task
    source = _WithAModel(**SAE_KW)
    clf = transfer(SourceData(Xs, ys), tmp_path, source=source)
    with pytest.warns(UserWarning, match=r"not stored.*helper_\['model'\].*MLP"):
        clf.fit(Xt, yt)
    assert clf.score(Xt, yt) > 0  # the fit itself went on
    assert entries(tmp_path) == []
    with pytest.raises(TypeError, match=r"fitted attribute helper_\['model'\]"):
        fitted_state(clf.source_)


def test_clear_cache_deletes_its_entries_and_nothing_else(task, tmp_path):
    Xs, ys, Xt, yt = task
    transfer(SourceData(Xs, ys), tmp_path).fit(Xt, yt)
    others = tmp_path / "joblib" / "someone_elses"
    others.mkdir(parents=True)
    (others / "output.pkl").write_bytes(b"not ours")
    (tmp_path / "sources" / "notes.txt").write_text("keep me")
    (tmp_path / "mine.txt").write_text("keep me")
    assert len(entries(tmp_path)) == 2  # the entry and notes.txt
    clear_cache(tmp_path)
    assert (others / "output.pkl").read_bytes() == b"not ours"
    assert [p.name for p in entries(tmp_path)] == ["notes.txt"]
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    transfer(SourceData(Xs, ys), tmp_path).fit(Xt, yt)
    assert CountingSAE.n_fits == 2  # the in-process copy was forgotten too


def test_concurrent_writers_keep_one_whole_entry(task, tmp_path):
    from skalltransfer._source_cache._store import read_entry, write_entry

    Xs, ys, _, _ = task
    source = StackedAutoencoderClassifier(**SAE_KW).fit(Xs, ys)
    key = "0" * 32
    first = write_entry(tmp_path, key, source, "test")
    second = write_entry(tmp_path, key, source, "test")  # loses the race
    assert first == second
    assert [p.name for p in (tmp_path / "sources").iterdir()] == [key]
    loaded = read_entry(tmp_path, key, StackedAutoencoderClassifier(**SAE_KW))
    assert_same_fit(source, loaded)


@pytest.mark.parametrize(
    "source",
    [
        StackedAutoencoderClassifier((8,), pretrain_max_iter=1, max_iter=1),
        MPDBMClassifier((8,), n_mean_field_iter=2, max_iter=1),
        MPDBMClassifier((8,), n_mean_field_iter=2, max_iter=1, early_stopping=True),
        ConvAutoencoderClassifier(((2, 3),), hidden_layer_sizes=(4,), max_iter=1),
    ],
)
def test_the_cache_may_restore_every_attribute_a_fit_sets(task, source):
    from skalltransfer._source_cache._store import fitted_attribute_names

    Xs, ys, _, _ = task
    fitted = source.set_params(random_state=0).fit(Xs, ys)
    made = set(vars(fitted)) - set(fitted.get_params(deep=False))
    assert made <= fitted_attribute_names(fitted)
