"""The ``skalltransfer`` command (fit / predict on an image folder) and the
user cache directory of trained sources."""

import contextlib
import csv
import io
import os
import sys
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    StackedAutoencoderClassifier,
    clear_cache,
    clear_source_cache,
    get_cache_dir,
)
from skalltransfer.cli import build_parser, main
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
    clear_source_cache()
    with pytest.MonkeyPatch.context() as mp:
        counter = _FitCounter(mp)
        common = ["fit", "--target-dir", folder, "--quick", "--source-model", "sae"]
        first = _run([*common, "--cache-dir", cache, "--out", tmp / "m.joblib"])
        n_fits_first = counter.n
        n_files_first = sum(len(f) for _, _, f in os.walk(cache))
        # Forget the in-process copy: the second run must read the disk cache.
        clear_source_cache()
        second = _run(
            [*common, "--cache-dir", cache, "--cv", "0", "--out", tmp / "m2.joblib"]
        )
    return dict(
        tmp=tmp,
        cache=cache,
        model=tmp / "m.joblib",
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
        "24 images of 28x28 pixels in 2 classes",
        "disc",
        "square",
        "Relation p_c(v)",
        "Selected source units: disc -> ",
        "Training accuracy:",
        "Cross-validated accuracy (5-fold, stratified)",
        "(trained, cached in",
    ]:
        assert text in out
    model = joblib.load(fitted["model"])
    assert isinstance(model, AllTransferClassifier)
    assert_array_equal(model.classes_, ["disc", "square"])
    assert model.n_features_in_ == 784
    assert model.relation_.shape == (2, 10)
    # The saved model keeps its fitted source, not the source images.
    assert model.source is model.source_
    assert model.get_params()["source_data"] is None
    png = fitted["tmp"] / "m_relation.png"
    with Image.open(png) as image:
        assert image.format == "PNG"


def test_second_fit_reuses_the_cached_source(fitted):
    assert fitted["n_fits"][0] == 1
    assert fitted["n_files"][0] > 0
    status, out, err = fitted["second"]
    assert status == 0, err
    assert "(reused from" in out
    assert fitted["n_fits"][1] == 1  # no new source fit ...
    assert fitted["n_files"][1] == fitted["n_files"][0]  # ... and no new entry
    assert "Cross-validated" not in out  # --cv 0


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
    model = joblib.load(fitted["model"])
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
    name, label = lines[1].split("\t")
    assert name == str(path)
    assert label in {"disc", "square"}


# -- other sources ----------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_source(digits, tmp_path_factory):
    """A tiny fitted 8x8 source saved with joblib, and its data as .npz."""
    X, y = digits
    tmp = tmp_path_factory.mktemp("source")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source = StackedAutoencoderClassifier(
            (16,), pretrain_max_iter=1, max_iter=5, random_state=0
        ).fit(X, y)
    joblib.dump(source, tmp / "source.joblib")
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
            digits_source / "source.joblib",
            "--cv",
            "2",
            "--max-iter",
            "5",
            "--out",
            out,
        ]
    )
    assert status == 0, err
    assert "24 images of 8x8 pixels" in stdout
    assert "loaded from" in stdout
    assert "Cross-validated accuracy (2-fold" in stdout
    assert joblib.load(out).n_features_in_ == 64
    # predict resizes to the model's 8x8 input.
    status, stdout, err = _run(["predict", out, folder / "square"])
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
        [*argv, "--cv", "0", "--max-iter", "2", "--out", tmp_path / "m.joblib"]
    )
    assert status == 0, err
    assert "matplotlib is not installed" in stdout
    assert (tmp_path / "m.joblib").exists()
    assert not (tmp_path / "m_relation.png").exists()


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
        (["fit", "--target-dir", "{folder}", "--source", "{tmp}/junk.joblib"], "read"),
        (["predict", "{tmp}/junk.joblib", "{folder}"], "cannot read it as a saved"),
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
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"skalltransfer {argv[0]}: error: ")
    assert message in lines[0]


def test_usage_errors_and_help():
    status, out, err = _run(["fit", "--n-transferred-layers", "some"])
    assert status == 2
    assert "all' or a non-negative integer" in err
    status, out, err = _run(["--help"])
    assert status == 0
    for command in ("demo", "fit", "predict"):
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
    assert not any((tmp_path / "joblib").rglob("*.pkl"))
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    # Clearing a cache that does not exist does not create it.
    clear_cache(tmp_path / "never")
    assert not (tmp_path / "never").exists()
