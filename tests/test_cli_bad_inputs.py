"""The command line on bad, unusual and crafted inputs: pickles only with an
explicit flag, paths shown whatever characters they hold, arguments checked
before any work starts."""

import contextlib
import csv
import io
import os
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import StackedAutoencoderClassifier, save_model
from skalltransfer.cli._main import main

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def source_files(digits, tmp_path_factory):
    """A tiny fitted 8x8 source as .skops and as a joblib pickle."""
    X, y = digits
    tmp = tmp_path_factory.mktemp("src")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source = StackedAutoencoderClassifier(
            (16,), pretrain_max_iter=1, max_iter=3, random_state=0
        ).fit(X, y)
    save_model(source, tmp / "source.skops")
    joblib.dump(source, tmp / "source.joblib")
    return tmp


@pytest.fixture(scope="module")
def folder(digits, tmp_path_factory):
    """8x8 digit images in two class folders."""
    X, y = digits
    root = tmp_path_factory.mktemp("imgs")
    for label in (0, 1):
        (root / str(label)).mkdir()
        for i, row in enumerate(X[y == label][:10]):
            image = Image.fromarray((row.reshape(8, 8) * 255).astype(np.uint8))
            image.save(root / str(label) / f"{i}.png")
    return root


class _Payload:
    """A pickle whose loading creates a file: stands for a crafted one."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("suffix", [".pkl", ".joblib", ".pickle"])
def test_no_pickle_is_loaded_without_allow_pickle(suffix, folder, tmp_path):
    marker = tmp_path / "ran"
    crafted = tmp_path / f"model{suffix}"
    with open(crafted, "wb") as f:
        pickle.dump(_Payload(str(marker)), f)
    for argv in (
        ["predict", crafted, folder / "0"],
        ["fit", "--target-dir", folder, "--source", crafted, "--size", "8", "8"]
        + ["--cv", "0", "--out", tmp_path / "m.skops"],
        ["rank", "--target-dir", folder, "--source-model", "--source", crafted],
    ):
        status, out, err = _run(argv)
        assert status == 2, err
        assert "--allow-pickle" in err
        assert not marker.exists()


def test_allow_pickle_loads_a_trusted_pickle(source_files, folder, tmp_path):
    argv = ["fit", "--target-dir", folder, "--source", source_files / "source.joblib"]
    argv += ["--size", "8", "8", "--cv", "0", "--max-iter", "2"]
    status, out, err = _run([*argv, "--allow-pickle", "--out", tmp_path / "m.joblib"])
    assert status == 0, err
    status, out, err = _run(
        ["predict", "--allow-pickle", tmp_path / "m.joblib", folder / "0"]
    )
    assert status == 0, err
    status, out, err = _run(
        ["rank", "--target-dir", folder, "--source-model", "--allow-pickle"]
        + ["--source", source_files / "source.joblib"]
    )
    assert status == 0, err


def test_predict_shows_any_file_name_on_one_row(digits, source_files, folder, tmp_path):
    model = tmp_path / "m.skops"
    argv = ["fit", "--target-dir", folder, "--source", source_files / "source.skops"]
    status, _, err = _run([*argv, "--size", "8", "8", "--cv", "0", "--out", model])
    assert status == 0, err
    images = tmp_path / "new"
    images.mkdir()
    names = ["tab\there.png", "new\nline.png", "plain.png", "back\\slash.png"]
    pixels = (digits[0][0].reshape(8, 8) * 255).astype(np.uint8)
    for name in names:
        Image.fromarray(pixels).save(images / name)
    csv_path = tmp_path / "out.csv"
    status, out, err = _run(["predict", model, images, "--csv", csv_path])
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 + len(names)  # a header, then one row per image
    assert all(len(line.split("\t")) == len(lines[0].split("\t")) for line in lines)
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    assert sorted(r[0].rsplit("/", 1)[-1] for r in rows) == sorted(names)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tasks", "1,99"], "--tasks"),
        (["--n-per-class", "100000"], "--n-per-class"),
        (["--draws", "1"], "--draws"),
        (["--draws", "2"], "--draws"),
        (["--tasks", "1,-1"], "--tasks"),
        (["--tasks", "1,1"], "named twice"),
        (["--tasks", "3"], "single class"),
        (["--n-per-class", "10", "1201"], "--n-per-class 1201"),
        (["--random-state", "-1"], "--random-state"),
        (["--random-state", str(2**32 - 2)], "--random-state"),  # draws 0, 1, 2
    ],
)
def test_reproduce_checks_its_arguments_before_any_work(
    extra, message, tmp_path, monkeypatch
):
    import skalltransfer.reproduce._run as run

    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(run, "run_experiment", no_work)
    status, out, err = _run(["reproduce", "--out", tmp_path / "r", *extra])
    assert status == 2
    assert message in err


def test_rank_with_a_non_square_source_does_not_mention_size(digits, folder, tmp_path):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source = StackedAutoencoderClassifier(
            (8,), pretrain_max_iter=0, max_iter=1, random_state=0
        ).fit(X[:, :60], y)
    save_model(source, tmp_path / "flat.skops")
    status, out, err = _run(
        ["rank", "--target-dir", folder, "--source", tmp_path / "flat.skops"]
    )
    assert status == 2
    assert "--size" not in err and "square" in err


def test_reproduce_out_and_cache_dir_must_not_be_files(tmp_path, monkeypatch):
    import skalltransfer.reproduce._run as run

    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(run, "run_experiment", no_work)
    (tmp_path / "r").write_text("a file")
    status, out, err = _run(["reproduce", "--out", tmp_path / "r"])
    assert status == 2 and "--out" in err and "is a file" in err
    argv = ["reproduce", "--out", tmp_path / "new", "--cache-dir", tmp_path / "r"]
    status, out, err = _run(argv)
    assert status == 2 and "--cache-dir" in err and "is a file" in err


@pytest.mark.parametrize("command", ["fit", "rank"])
def test_random_state_is_checked_by_the_parser(command, folder, tmp_path):
    argv = [command, "--target-dir", folder, "--random-state", "-1"]
    if command == "fit":
        argv += ["--out", tmp_path / "m.skops"]
    status, out, err = _run(argv)
    assert status == 2 and "--random-state" in err and "0 to 4294967295" in err


def test_rank_checks_its_given_sources_before_training_the_default_ones(
    folder, tmp_path, monkeypatch
):
    import skalltransfer.cli._rank as rank

    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(rank, "fit_cli_source", no_work)
    crafted = tmp_path / "model.pkl"
    crafted.write_bytes(b"not read")
    status, out, err = _run(["rank", "--target-dir", folder, "--source", crafted])
    assert status == 2 and "--allow-pickle" in err


# The relation plot draws the class names as they are.
@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_class_names_with_tabs_and_newlines_print_escaped(digits, tmp_path):
    X, y = digits
    root = tmp_path / "classes"
    classes = ["tab\tclass", "new\nline"]
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i, row in enumerate(X[y == label][:6]):
            image = Image.fromarray((row.reshape(8, 8) * 255).astype(np.uint8))
            image.save(root / name / f"{i}.png")
    source = tmp_path / "source.skops"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        save_model(
            StackedAutoencoderClassifier(
                (16,), pretrain_max_iter=1, max_iter=3, random_state=0
            ).fit(X, y),
            source,
        )
    model = tmp_path / "m.skops"
    argv = ["fit", "--target-dir", root, "--source", source, "--cv", "0"]
    status, out, err = _run([*argv, "--max-iter", "2", "--out", model])
    assert status == 0, err
    assert "tab\\tclass" in out and "new\\nline" in out
    assert "tab\tclass" not in out and "new\nline" not in out
    status, out, err = _run(["predict", model, root / classes[0], "--proba"])
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 + 6
    assert all(len(line.split("\t")) == 4 for line in lines)  # path, label, 2 p


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8_is_printed_escaped_and_kept_in_the_csv(
    source_files, folder, tmp_path
):
    model = tmp_path / "m.skops"
    argv = ["fit", "--target-dir", folder, "--source", source_files / "source.skops"]
    status, _, err = _run([*argv, "--size", "8", "8", "--cv", "0", "--out", model])
    assert status == 0, err
    images = tmp_path / "new"
    images.mkdir()
    raw = os.path.join(os.fsencode(images), b"caf\xe9.png")
    try:
        Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(os.fsdecode(raw))
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses a file name that is not UTF-8")
    csv_path = tmp_path / "out.csv"
    status, out, err = _run(["predict", model, images, "--csv", csv_path])
    assert status == 0, err
    assert "caf\\udce9.png" in out
    assert b"caf\xe9.png" in csv_path.read_bytes()


def test_a_float64_conv_source_works_from_the_command_line(digits, folder, tmp_path):
    # The command line reads images as float32: a conv source fitted on
    # float64 rows (NumPy's default) once refused them with a TypeError.
    from skalltransfer import ConvAutoencoderClassifier

    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        conv = ConvAutoencoderClassifier(
            ((4, 3),), hidden_layer_sizes=(8,), pretrain_max_iter=0, max_iter=1
        ).fit(X.astype(np.float64), y)
    assert conv.coefs_[0].dtype == np.float64
    save_model(conv, tmp_path / "conv64.skops")
    status, out, err = _run(["predict", tmp_path / "conv64.skops", folder / "0"])
    assert status == 0, err
    assert len(out.strip().splitlines()) == 1 + 10
    status, out, err = _run(["evaluate", tmp_path / "conv64.skops", folder])
    assert status == 0, err
    status, out, err = _run(
        ["rank", "--target-dir", folder, "--source", tmp_path / "conv64.skops"]
    )
    assert status == 0, err
    model = tmp_path / "m.skops"
    argv = ["fit", "--target-dir", folder, "--source", tmp_path / "conv64.skops"]
    status, _, err = _run([*argv, "--cv", "0", "--max-iter", "2", "--out", model])
    assert status == 0, err
