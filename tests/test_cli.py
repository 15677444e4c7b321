"""The ``skalltransfer`` command (fit / predict on an image folder) and the
user cache directory of trained sources."""

import contextlib
import csv
import io
import os
import pickle
import shutil
import sys
import tempfile
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    StackedAutoencoderClassifier,
    clear_cache,
    get_cache_dir,
    load_model,
    save_model,
)
from skalltransfer._source_cache._cached_fit import forget_in_process_sources
from skalltransfer.cli._main import build_parser, main
from skalltransfer.datasets import load_images

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageDraw  # noqa: E402


def _shape_image(kind, rng, size=28):
    """A bright square or disc at a random place, plus noise, as uint8."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    cx, cy = rng.randint(size // 3, 2 * size // 3, size=2)
    r = rng.randint(size // 6, size // 3)
    box = [cx - r, cy - r, cx + r, cy + r]
    if kind == "square":
        draw.rectangle(box, fill=230)
    else:
        draw.ellipse(box, fill=230)
    pixels = np.asarray(image, dtype=float) + rng.normal(0, 15, (size, size))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _make_folder(root, n_per_class=12, classes=("disc", "square"), seed=0):
    rng = np.random.RandomState(seed)
    for kind in classes:
        os.makedirs(root / kind)
        for i in range(n_per_class):
            _shape_image(kind, rng).save(root / kind / f"{i:02d}.png")
    return root


def _double(x):
    return 2 * x


def _run(argv):
    """``main(argv)`` with its stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


class _FitCounter:
    """Counts source fits, to prove that the cache spares them."""

    def __init__(self, monkeypatch):
        self.n = 0
        original = StackedAutoencoderClassifier.fit

        def fit(estimator, X, y):
            self.n += 1
            return original(estimator, X, y)

        monkeypatch.setattr(StackedAutoencoderClassifier, "fit", fit)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _make_folder(tmp_path_factory.mktemp("patches"))


@pytest.fixture(scope="module")
def fitted(folder, tmp_path_factory):
    """One quick ``fit`` on the bundled MNIST subset, then a second one."""
    tmp = tmp_path_factory.mktemp("fit")
    cache = tmp / "cache"
    forget_in_process_sources()
    with pytest.MonkeyPatch.context() as mp:
        counter = _FitCounter(mp)
        common = ["fit", "--target-dir", folder, "--quick", "--source-model", "sae"]
        first = _run([*common, "--cache-dir", cache, "--out", tmp / "m.skops"])
        n_fits_first = counter.n
        n_files_first = sum(len(f) for _, _, f in os.walk(cache))
        # Forget the in-process copy: the second run must read the disk cache.
        forget_in_process_sources()
        second = _run(
            [*common, "--cache-dir", cache, "--cv", "0", "--out", tmp / "m2.joblib"]
        )
    return dict(
        tmp=tmp,
        cache=cache,
        model=tmp / "m.skops",
        joblib_model=tmp / "m2.joblib",
        first=first,
        second=second,
        n_fits=(n_fits_first, counter.n),
        n_files=(n_files_first, sum(len(f) for _, _, f in os.walk(cache))),
    )


# -- fit ------------------------------------------------------------------------
def test_fit_prints_a_summary_and_saves_model_and_plot(fitted):
    status, out, err = fitted["first"]
    assert status == 0, err
    for text in [
        "24 images in 2 classes",
        "read as 28x28 grayscale",
        "disc",
        "square",
        "Relation p_c(v)",
        "Selected source classes: disc -> ",
        "Transferability of the source (LEEP",
        "Training accuracy:",
        "Cross-validated accuracy (5-fold, stratified;",
        "no transfer (T=0)",
        "linear model on raw pixels",
        "Per-class results of the transfer",
        "(trained, cached in",
    ]:
        assert text in out
    model = load_model(fitted["model"])
    assert isinstance(model, AllTransferClassifier)
    assert_array_equal(model.classes_, ["disc", "square"])
    assert model.n_features_in_ == 784
    assert model.relation_.shape == (2, 10)
    # The saved model keeps its fitted source, not the source images.
    assert model.source is model.source_
    assert model.get_params()["source_data"] is None
    for name in ("relation", "comparison", "confusion"):
        with Image.open(fitted["tmp"] / f"m_{name}.png") as image:
            assert image.format == "PNG"
    assert (fitted["tmp"] / "m_report.json").is_file()


def test_second_fit_reuses_the_cached_source(fitted):
    assert fitted["n_fits"][0] == 1
    assert fitted["n_files"][0] > 0
    status, out, err = fitted["second"]
    assert status == 0, err
    assert "(reused from" in out
    assert fitted["n_fits"][1] == 1  # no new source fit ...
    assert fitted["n_files"][1] == fitted["n_files"][0]  # ... and no new entry
    assert "Cross-validated" not in out  # --cv 0


def test_fit_with_a_convolutional_source_the_default(folder, tmp_path):
    status, out, err = _run(
        ["fit", "--target-dir", folder, "--quick", "--cv", "0", "--max-iter", "3",
         "--cache-dir", tmp_path / "cache", "--out", tmp_path / "conv.skops"]
    )  # fmt: skip
    assert status == 0, err
    assert "ConvAutoencoderClassifier conv 5x5x8 5x5x16, dense (64,)" in out
    model = load_model(tmp_path / "conv.skops")
    assert model.network_.family == "conv"
    X, _ = load_images(folder / "disc")
    assert model.predict(X).shape == (len(X),)


# -- rank -----------------------------------------------------------------------
def test_rank_scores_cached_and_given_sources(folder, fitted, tmp_path):
    cache = fitted["cache"]  # holds the quick SAE source of the fit above
    status, out, err = _run(
        ["rank", "--target-dir", folder, "--quick", "--source-model", "sae",
         "--source", fitted["model"], "--cache-dir", cache, "--method", "logme"]
    )  # fmt: skip
    assert status == 0, err
    assert "Source sae: StackedAutoencoderClassifier (100, 100): from the cache" in out
    lines = [line for line in out.splitlines() if line.lstrip()[:2] in ("1.", "2.")]
    assert len(lines) == 2
    scores = [float(line.split()[-3]) for line in lines]
    assert scores[0] >= scores[1]  # best first
    assert str(fitted["model"]) in out
    status, _, err = _run(["rank", "--target-dir", folder, "--source-model"])
    assert status == 2 and "nothing to rank" in err
    status, _, err = _run(["rank", "--target-dir", tmp_path / "nowhere"])
    assert status == 2 and "no such folder" in err


# -- predict --------------------------------------------------------------------
def test_predict_a_folder_with_probabilities_and_csv(fitted, folder, tmp_path):
    out_csv = tmp_path / "predictions.csv"
    status, out, err = _run(
        ["predict", fitted["model"], folder / "disc", "--proba", "--csv", out_csv]
    )
    assert status == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split("\t") == ["path", "prediction", "p(disc)", "p(square)"]
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) == 12
    model = load_model(fitted["model"])
    X, paths = load_images(folder / "disc")
    assert [r[0] for r in rows] == paths
    assert [r[1] for r in rows] == list(model.predict(X))
    proba = np.array([[float(p) for p in r[2:]] for r in rows])
    assert_allclose(proba, model.predict_proba(X), atol=1e-4)
    with open(out_csv, newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == ["path", "prediction", "p(disc)", "p(square)"]
    assert table[1:] == rows


def test_predict_a_single_image_of_another_size(fitted, tmp_path):
    path = tmp_path / "big.png"
    _shape_image("disc", np.random.RandomState(1), size=40).save(path)
    status, out, err = _run(["predict", fitted["model"], path])
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    # Probabilities are printed by default.
    assert lines[0].split("\t") == ["path", "prediction", "p(disc)", "p(square)"]
    name, label, *proba = lines[1].split("\t")
    assert name == str(path)
    assert label in {"disc", "square"}
    assert_allclose(sum(float(p) for p in proba), 1.0, atol=1e-3)
    status, out, err = _run(["predict", fitted["model"], path, "--no-proba"])
    assert status == 0, err
    assert [line.split("\t") for line in out.strip().splitlines()] == [
        ["path", "prediction"],
        [name, label],
    ]


# -- other sources ----------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_source(digits, tmp_path_factory):
    """A tiny fitted 8x8 source saved as .skops and with joblib, and its data
    as .npz."""
    X, y = digits
    tmp = tmp_path_factory.mktemp("source")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source = StackedAutoencoderClassifier(
            (16,), pretrain_max_iter=1, max_iter=5, random_state=0
        ).fit(X, y)
    joblib.dump(source, tmp / "source.joblib")
    save_model(source, tmp / "source.skops")
    np.savez(tmp / "digits.npz", X=X, y=y)
    return tmp


def test_fit_from_a_saved_source_model(digits_source, folder, tmp_path):
    out = tmp_path / "m.joblib"
    status, stdout, err = _run(
        [
            "fit",
            "--target-dir",
            folder,
            "--source",
            digits_source / "source.skops",
            "--cv",
            "2",
            "--max-iter",
            "5",
            "--out",
            out,
        ]
    )
    assert status == 0, err
    assert err == ""  # a .skops source loads without a notice
    assert "24 images in 2 classes" in stdout
    assert "read as 8x8 grayscale" in stdout
    assert "loaded from" in stdout
    assert "Cross-validated accuracy (2-fold" in stdout
    assert joblib.load(out).n_features_in_ == 64
    # predict resizes to the model's 8x8 input.
    status, stdout, err = _run(["predict", "--allow-pickle", out, folder / "square"])
    assert status == 0, err
    assert len(stdout.strip().splitlines()) == 13


def test_fit_from_npz_source_data_with_partial_transfer(
    digits_source, folder, tmp_path
):
    status, stdout, err = _run(
        [
            "fit",
            "--target-dir",
            folder,
            "--source",
            digits_source / "digits.npz",
            "--source-model",
            "sae",
            "--quick",
            "--n-transferred-layers",
            "1",
            "--size",
            "8",
            "8",
            "--cv",
            "0",
            "--cache-dir",
            tmp_path / "cache",
            "--out",
            tmp_path / "m.joblib",
        ]
    )
    assert status == 0, err
    assert "trained on 1000 images of" in stdout
    assert "Transferred 1 of 3 weight layers" in stdout
    assert joblib.load(tmp_path / "m.joblib").n_transferred_layers_ == 1


def test_fit_without_matplotlib_saves_no_plot(
    monkeypatch, digits_source, folder, tmp_path
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    argv = ["fit", "--target-dir", folder, "--source", digits_source / "source.joblib"]
    status, stdout, err = _run(
        [*argv, "--allow-pickle", "--cv", "0", "--max-iter", "2"]
        + ["--out", tmp_path / "m.joblib"]
    )
    assert status == 0, err
    assert "matplotlib is not installed" in stdout
    assert (tmp_path / "m.joblib").exists()
    assert not (tmp_path / "m_relation.png").exists()


# -- saving and loading safely, and the cache ---------------------------------------
def test_a_skops_model_predicts_without_pickle(fitted, folder, monkeypatch):
    import pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    status, out, err = _run(["predict", fitted["model"], folder / "disc"])
    assert status == 0, err
    assert err == ""  # no notice: nothing runs code
    assert len(out.strip().splitlines()) == 13


def test_joblib_files_load_with_allow_pickle_after_a_one_line_notice(
    fitted, folder, digits_source, tmp_path
):
    # Without --allow-pickle a pickle is refused unread, naming the flag.
    status, out, err = _run(["predict", fitted["joblib_model"], folder / "disc"])
    assert status == 2
    assert "--allow-pickle" in err and "runs code" in err and "note:" not in err
    status, out, err = _run(
        ["predict", "--allow-pickle", fitted["joblib_model"], folder / "disc"]
    )
    assert status == 0, err
    (line,) = err.strip().splitlines()
    assert line.startswith("note: ") and "runs code" in line and "trust" in line
    argv = ["fit", "--target-dir", folder, "--source", digits_source / "source.joblib"]
    status, out, err = _run(
        [*argv, "--allow-pickle", "--cv", "0", "--max-iter", "2"]
        + ["--out", tmp_path / "m.skops"]
    )
    assert status == 0, err
    (line,) = err.strip().splitlines()
    assert "runs code" in line
    for command in ("fit", "predict", "rank", "evaluate"):
        status, out, _ = _run([command, "--help"])
        text = " ".join(out.split())
        assert "load only files you trust" in text or "for files you trust" in text
        assert "--allow-pickle" in text


class _Payload:
    """A pickle whose loading creates a file: stands for a crafted one."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("name", ["innocent.skops", "model.bin", "model"])
def test_only_files_named_as_pickles_are_unpickled(name, folder, tmp_path):
    # A pickle renamed .skops (or named anything but .joblib/.pkl/.pickle)
    # is refused unread by every command that loads a model.
    marker = tmp_path / "ran"
    with open(tmp_path / name, "wb") as f:
        pickle.dump(_Payload(str(marker)), f)
    for argv in (
        ["predict", tmp_path / name, folder / "disc"],
        ["fit", "--target-dir", folder, "--source", tmp_path / name]
        + ["--cv", "0", "--out", tmp_path / "m.skops"],
        ["rank", "--target-dir", folder, "--source-model", "--source", tmp_path / name],
    ):
        status, out, err = _run(argv)
        assert status == 2, err
        assert "not a .skops model" in err and "read as pickles" in err
        assert "note:" not in err  # no "loading it runs code" notice either
        assert not marker.exists()


def test_a_damaged_cache_entry_is_retrained_not_reported_as_reused(
    fitted, folder, tmp_path
):
    # A damaged cache entry costs one warning line and is reported as
    # retrained, never as reused.
    cache = tmp_path / "cache"
    shutil.copytree(fitted["cache"], cache)
    for path in cache.rglob("arrays.npz"):
        path.write_bytes(path.read_bytes()[:100])
    forget_in_process_sources()
    argv = ["fit", "--target-dir", folder, "--quick", "--source-model", "sae"]
    status, out, err = _run(
        [*argv, "--cache-dir", cache, "--cv", "0", "--out", tmp_path / "m.skops"]
    )
    assert status == 0, err
    assert "reused" not in out
    assert "trained again: the cached copy was damaged" in out
    (line,) = err.strip().splitlines()
    assert line.startswith("warning: Discarded the cached source")
    # The entry was replaced: the next run reuses it.
    forget_in_process_sources()
    status, out, err = _run(
        [*argv, "--cache-dir", cache, "--cv", "0", "--out", tmp_path / "m.skops"]
    )
    assert status == 0 and err == ""
    assert "(reused from" in out


def test_out_is_checked_before_any_training(folder, tmp_path, monkeypatch):
    counter = _FitCounter(monkeypatch)
    argv = ["fit", "--target-dir", folder, "--quick", "--cache-dir", tmp_path]
    status, out, err = _run([*argv, "--out", tmp_path / "model.bin"])
    assert status == 2 and "*.skops" in err

    real_mkstemp = tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and os.path.samefile(dir, tmp_path / "locked"):
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)

    (tmp_path / "locked").mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    status, out, err = _run([*argv, "--out", tmp_path / "locked" / "m.skops"])
    assert status == 2
    assert "cannot write in" in err and "Permission denied" in err
    assert counter.n == 0 and out == ""  # failed at once, nothing trained


@pytest.mark.parametrize("value", ["1", "-2", "x"])
def test_cv_must_be_0_or_at_least_2(value):
    status, out, err = _run(
        ["fit", "--target-dir", ".", "--out", "m.skops", "--cv", value]
    )
    assert status == 2
    assert "0 (no cross-validation) or at least 2" in err


@pytest.fixture
def npz_sources(digits, tmp_path):
    X, y = digits
    pixels = np.round(X * 255).astype(np.uint8)
    np.savez(tmp_path / "raw.npz", images=pixels, labels=y)
    np.savez(tmp_path / "labels.npz", X=X, y=np.array(list("ab") * 3, dtype=object))
    (tmp_path / "pickle.npz").write_bytes(b"\x80\x04garbage, not a zip")
    content = (tmp_path / "raw.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(content[: len(content) // 2])
    # Zips whose members are not .npy arrays, or have a broken header.
    with zipfile.ZipFile(tmp_path / "members.npz", "w") as archive:
        archive.writestr("X.npy", "text, not an array")
        archive.writestr("y.npy", "text")
    with zipfile.ZipFile(tmp_path / "header.npz", "w") as archive:
        archive.writestr("X.npy", b"\x93NUMPY\x01\x00\x76\x00{'descr'")
        archive.writestr("y.npy", b"\x93NUMPY\x01\x00\x76\x00{'descr'")
    return tmp_path


@pytest.mark.parametrize(
    "source, options, message",
    [
        ("pickle.npz", [], "not a .npz file"),
        ("truncated.npz", [], "not a .npz file"),
        ("labels.npz", [], "object arrays"),
        ("members.npz", [], "is not a NumPy array"),
        # Refused by the size checks that read each member's header first.
        ("header.npz", [], "its member 'X.npy' is not a NumPy array (damaged"),
        ("raw.npz", [], "Pass --x-key NAME and --y-key NAME"),
        ("raw.npz", ["--x-key", "images", "--y-key", "labels"], "--scale 255"),
        ("raw.npz", ["--x-key", "images", "--y-key", "labels", "--scale", "2"], "try"),
    ],
)
def test_npz_sources_get_command_line_messages(
    source, options, message, npz_sources, folder
):
    argv = ["fit", "--target-dir", folder, "--source", npz_sources / source]
    argv += [*options, "--cache-dir", npz_sources / "cache"]
    status, out, err = _run([*argv, "--out", npz_sources / "m.skops"])
    assert status == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "allow_pickle" not in err and "X_key=" not in err
    assert "MinMaxScaler" not in err


def test_npz_source_with_keys_and_scale(npz_sources, folder):
    argv = ["fit", "--target-dir", folder, "--source", npz_sources / "raw.npz"]
    argv += ["--x-key", "images", "--y-key", "labels", "--scale", "255", "--quick"]
    argv += ["--size", "8", "8", "--cv", "0", "--cache-dir", npz_sources / "cache"]
    status, out, err = _run([*argv, "--out", npz_sources / "m.skops"])
    assert status == 0, err
    assert "trained on 1000 images of" in out


class _Terminal(io.StringIO):
    """Captured stderr that says it is a terminal."""

    def isatty(self):
        return True


def _run_on_terminal(argv):
    out, err = io.StringIO(), _Terminal()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def test_progress_bar_on_a_terminal_only(digits_source, folder, tmp_path, monkeypatch):
    pytest.importorskip("tqdm")
    argv = ["fit", "--target-dir", folder, "--source", digits_source / "digits.npz"]
    argv += ["--quick", "--source-model", "sae", "--size", "8", "8"]
    argv += ["--cv", "3", "--max-iter", "2"]

    def run(run, cache, *extra):
        forget_in_process_sources()
        return run([*argv, *extra, "--cache-dir", cache, "--out", tmp_path / "m.skops"])

    status, out, err = run(_run_on_terminal, tmp_path / "c1")
    assert status == 0, err
    # Source epochs (3 pretraining epochs per layer + 20), then the folds.
    assert "source" in err and "/26" in err and "epoch" in err
    # 3 candidates (transfer, T = 0, linear) on each of the 3 folds.
    assert "cross-validation" in err and "/9 " in err and "fit" in err
    assert "can take minutes" not in out  # the bar replaces that line
    # Quiet with -q, when stderr is no terminal, and without tqdm.
    assert run(_run_on_terminal, tmp_path / "c2", "-q")[2] == ""
    status, out, err = run(_run, tmp_path / "c3")
    assert status == 0 and err == ""
    assert "Training the source network" in out
    # Without tqdm a terminal gets the plain notice instead of a bar.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    status, out, err = run(_run_on_terminal, tmp_path / "c4")
    assert status == 0 and err == ""
    assert "Training the source network" in out and "can take minutes" in out


# -- errors ---------------------------------------------------------------------
@pytest.fixture
def bad_inputs(tmp_path, folder):
    (tmp_path / "junk.joblib").write_text("not a model")
    one = tmp_path / "one_class"
    _make_folder(one, n_per_class=2, classes=("only",))
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--target-dir", "{tmp}/nowhere"], "no such folder"),
        (["fit", "--target-dir", "{tmp}/one_class"], "single class folder"),
        (["fit", "--target-dir", "{folder}/disc"], "no class sub-folders"),
        (["fit", "--target-dir", "{folder}", "--size", "9", "9"], "--size 9 9"),
        (["fit", "--target-dir", "{folder}", "--source", "{tmp}/x.pt"], "no such file"),
        (
            ["fit", "--target-dir", "{folder}", "--source", "{tmp}/junk.joblib"]
            + ["--allow-pickle"],
            "read",
        ),
        (
            ["fit", "--target-dir", "{folder}", "--source", "{tmp}/junk.joblib"],
            "--allow-pickle",
        ),
        (
            ["predict", "--allow-pickle", "{tmp}/junk.joblib", "{folder}"],
            "cannot read it as a saved",
        ),
        (["predict", "{tmp}/junk.joblib", "{folder}"], "--allow-pickle"),
        (["predict", "{tmp}/missing.joblib", "{folder}"], "no such file"),
        (["predict", "{model}", "{tmp}/nowhere.png"], "No such file"),
        (["predict", "{model}", "{tmp}/empty"], "holds no image"),
        (["predict", "{model}", "{folder}", "--size", "7", "7"], "784 inputs"),
    ],
)
def test_user_errors_are_one_line_with_status_2(
    argv, message, bad_inputs, folder, fitted
):
    names = dict(tmp=bad_inputs, folder=folder, model=fitted["model"])
    argv = [a.format(**names) for a in argv]
    if argv[0] == "fit":
        argv += ["--cache-dir", str(bad_inputs / "cache")]
        argv += ["--out", str(bad_inputs / "m.joblib")]
    status, out, err = _run(argv)
    assert status == 2
    assert "Traceback" not in err
    # Besides the notice printed before a joblib file is loaded: one line.
    lines = [line for line in err.strip().splitlines() if not line.startswith("note:")]
    assert len(lines) == 1
    assert lines[0].startswith(f"skalltransfer {argv[0]}: error: ")
    assert message in lines[0]


def test_usage_errors_and_help():
    status, out, err = _run(["fit", "--n-transferred-layers", "some"])
    assert status == 2
    assert "all' or a non-negative integer" in err
    status, out, err = _run(["--help"])
    assert status == 0
    for command in ("demo", "fit", "predict", "evaluate"):
        assert command in out


def test_demo_is_still_registered():
    args = build_parser().parse_args(["demo", "-v"])
    assert args.command == "demo" and args.verbose == 1
    assert callable(args.func)


# -- cache directory --------------------------------------------------------------
def test_get_cache_dir_explicit_path_is_created(tmp_path):
    path = tmp_path / "a" / "b"
    assert get_cache_dir(path) == str(path)
    assert path.is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file"):
        get_cache_dir(tmp_path / "file")


def test_get_cache_dir_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SKALLTRANSFER_CACHE", str(tmp_path / "env"))
    assert get_cache_dir() == str(tmp_path / "env")
    assert (tmp_path / "env").is_dir()
    # An explicit path wins over the variable.
    assert get_cache_dir(tmp_path / "explicit") == str(tmp_path / "explicit")


@pytest.mark.parametrize(
    "platform, env, expected",
    [
        ("linux", {"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/skalltransfer"),
        ("linux", {"XDG_CACHE_HOME": "relative"}, "{tmp}/.cache/skalltransfer"),
        ("linux", {}, "{tmp}/.cache/skalltransfer"),
        ("darwin", {}, "{tmp}/Library/Caches/skalltransfer"),
        ("win32", {"LOCALAPPDATA": "{tmp}/Local"}, "{tmp}/Local/skalltransfer/Cache"),
    ],
)
def test_get_cache_dir_platform_defaults(
    monkeypatch, tmp_path, platform, env, expected
):
    for name in ("SKALLTRANSFER_CACHE", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKALLTRANSFER_CACHE", "")  # empty counts as unset
    # expanduser reads HOME on POSIX and USERPROFILE on Windows.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    monkeypatch.setattr(sys, "platform", platform)
    expected = os.path.normpath(expected.format(tmp=tmp_path))
    assert get_cache_dir() == expected
    assert os.path.isdir(expected)


def test_clear_cache_removes_only_the_cached_models(tmp_path):
    memory = joblib.Memory(get_cache_dir(tmp_path), verbose=0)
    assert memory.cache(_double)(3) == 6
    (tmp_path / "notes.txt").write_text("keep me")
    assert (tmp_path / "joblib").is_dir()
    assert clear_cache(tmp_path) == str(tmp_path)
    # A joblib.Memory of the user's own in the same directory is not ours.
    assert any((tmp_path / "joblib").rglob("*.pkl"))
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    # Clearing a cache that does not exist does not create it.
    clear_cache(tmp_path / "never")
    assert not (tmp_path / "never").exists()
