"""What the commands write and read beside a model, checked before any work:
the source is never overwritten, the report and plots belong to one model,
a crafted report is read as no report, and every output path is a file."""

import contextlib
import io
import json
import warnings

import joblib
import numpy as np
import pytest
from sklearn.cluster import KMeans
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


def _fit(folder, source, out, *options):
    return _run(
        ["fit", "--target-dir", folder, "--source", source, "--out", out]
        + ["--max-iter", "2", *options]
    )


def _tiny_source(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return StackedAutoencoderClassifier(
            (16,), pretrain_max_iter=1, max_iter=3, random_state=0
        ).fit(X, y)


@pytest.fixture(scope="module")
def source(digits, tmp_path_factory):
    """A tiny fitted 8x8 source saved as .skops."""
    path = tmp_path_factory.mktemp("src") / "source.skops"
    save_model(_tiny_source(*digits), path)
    return path


def _image_folder(root, digits, names, per_class, file_name="{}.png".format):
    """Digit ``label`` in folder ``names[label]``: ``per_class`` images, or
    ``per_class[label]`` when it is a list."""
    X, y = digits
    for label, name in enumerate(names):
        n = per_class[label] if isinstance(per_class, list) else per_class
        (root / name).mkdir(parents=True)
        for i, row in enumerate(X[y == label][:n]):
            image = Image.fromarray((row.reshape(8, 8) * 255).astype(np.uint8))
            image.save(root / name / file_name(i))
    return root


@pytest.fixture(scope="module")
def folder(digits, tmp_path_factory):
    """8x8 digit images, ten in each of two class folders."""
    return _image_folder(tmp_path_factory.mktemp("imgs"), digits, ["0", "1"], 10)


def test_fit_never_overwrites_its_source(source, folder, tmp_path):
    copy = tmp_path / "source.skops"
    copy.write_bytes(source.read_bytes())
    status, _, err = _fit(folder, copy, copy, "--cv", "0")
    assert status == 2
    assert "is the --source model" in err and "another name" in err
    assert copy.read_bytes() == source.read_bytes()


def test_fit_checks_the_files_beside_the_model_before_training(
    source, folder, tmp_path
):
    (tmp_path / "m_relation.png").mkdir()
    status, out, err = _fit(folder, source, tmp_path / "m.skops", "--cv", "0")
    assert status == 2
    assert "m_relation.png' beside the model, and that is a folder" in err
    assert "Traceback" not in err and out == ""  # refused before any work
    assert not (tmp_path / "m.skops").exists()


def test_two_models_never_share_a_report(source, folder, tmp_path):
    first, second = tmp_path / "m.skops", tmp_path / "m.joblib"
    status, _, err = _fit(folder, source, first, "--cv", "0", "--invert", "yes")
    assert status == 0, err
    # MODEL_report.json drops the extension: m.joblib would overwrite the
    # report that says how m.skops reads images.
    status, _, err = _fit(folder, source, second, "--cv", "0")
    assert status == 2
    assert "is the report of" in err and "m.skops" in err
    assert not second.exists()
    # A report that names a model of another format is not read for this one.
    report = tmp_path / "m_report.json"
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["images"]["options"]["invert"] is True
    joblib.dump(None, second)  # m.joblib exists, with the report now its own
    report.write_text(json.dumps(dict(written, model=str(second))), encoding="utf-8")
    status, _, err = _run(["predict", first, folder / "0"])
    assert status == 0, err
    assert "cannot read how the training images were loaded" in err
    assert "the report of" in err and "--invert yes" not in err


@pytest.mark.parametrize(
    "damage",
    [
        "nested",
        "a list",
        "intensity is a list",
        "invert is a dict",
        "inverted is a string",
        "size of one side",
        "size of a float",
        "range of strings",
    ],
)
def test_a_crafted_report_is_read_as_no_report(damage, source, folder, tmp_path):
    model = tmp_path / "m.skops"
    status, _, err = _fit(folder, source, model, "--cv", "0", "--invert", "auto")
    assert status == 0, err
    report = tmp_path / "m_report.json"
    written = json.loads(report.read_text(encoding="utf-8"))
    images = written["images"]
    if damage == "nested":
        text = "[" * 100_000 + "]" * 100_000
    elif damage == "a list":
        text = json.dumps([written])
    else:
        if damage == "intensity is a list":
            images["options"]["intensity"] = ["auto"]
        elif damage == "invert is a dict":
            images["options"]["invert"] = {"a": 1}
        elif damage == "inverted is a string":
            images["info"]["inverted"] = "false"  # bool("false") is True
        elif damage == "size of one side":
            images["info"]["size"] = [8]
        elif damage == "range of strings":
            images["options"]["intensity"] = "minmax"
            images["info"]["range"] = ["0", "1"]
        else:
            images["info"]["size"] = [8.0, 8]
        text = json.dumps(written)
    report.write_text(text, encoding="utf-8")
    status, out, err = _run(["predict", model, folder / "0"])
    assert status == 0, err
    assert "Traceback" not in err
    assert "cannot read how the training images were loaded" in err
    assert len(out.strip().splitlines()) == 1 + 10


def test_a_minmax_model_predicts_an_image_the_same_alone_or_in_a_batch(
    digits, source, tmp_path
):
    # "minmax" stretches the images loaded together: predict pins the
    # training set's range instead of stretching each batch by its own.
    X, y = digits
    folder = tmp_path / "imgs"
    for label in (0, 1):
        (folder / str(label)).mkdir(parents=True)
        for i, row in enumerate(X[y == label][:6]):
            values = (1000 + row.reshape(8, 8) * 2000).astype(np.uint16)
            Image.fromarray(values).save(folder / str(label) / f"{i}.png")
    model = tmp_path / "m.skops"
    status, _, err = _fit(folder, source, model, "--cv", "0", "--intensity", "minmax")
    assert status == 0, err
    dim = tmp_path / "new" / "dim.png"
    dim.parent.mkdir()
    Image.fromarray((1000 + X[0].reshape(8, 8) * 500).astype(np.uint16)).save(dim)
    Image.open(folder / "1" / "0.png").save(dim.parent / "full.png")
    alone = _run(["predict", model, dim])
    batch = _run(["predict", model, dim.parent])
    assert alone[0] == batch[0] == 0
    assert "--intensity range:1000.0:3000.0" in alone[2]
    row = alone[1].splitlines()[1].split("\t")[1:]
    assert row in [line.split("\t")[1:] for line in batch[1].splitlines()]


def test_predict_reads_images_at_the_size_fit_read_them(digits, tmp_path):
    # A source of 60 inputs (6x10 crops) declares no image shape: fit needs
    # --size, and predict and evaluate read the size from the report.
    X, y = digits
    crops = X.reshape(-1, 8, 8)[:, 1:7, :].reshape(-1, 6, 8)
    wide = np.concatenate([crops, crops[:, :, :2]], axis=2).reshape(len(X), 60)
    save_model(_tiny_source(wide, y), tmp_path / "wide.skops")
    folder = tmp_path / "imgs"
    for label in (0, 1):
        (folder / str(label)).mkdir(parents=True)
        for i, row in enumerate(wide[y == label][:5]):
            image = Image.fromarray((row.reshape(6, 10) * 255).astype(np.uint8))
            image.save(folder / str(label) / f"{i}.png")
    model = tmp_path / "m.skops"
    status, _, err = _fit(
        folder, tmp_path / "wide.skops", model, "--cv", "0", "--size", "6", "10"
    )
    assert status == 0, err
    status, out, err = _run(["predict", model, folder / "0"])
    assert status == 0, err
    assert "--size 6 10" in err and len(out.strip().splitlines()) == 1 + 5
    status, _, err = _run(["evaluate", model, folder])
    assert status == 0, err


def test_a_convolutional_network_takes_images_of_its_own_shape_only(
    digits, source, folder, tmp_path
):
    # 4x16 has the 64 pixels of 8x8: convolutions would read the rows folded
    # into others. A fully-connected network reads any layout of 64 pixels.
    from skalltransfer import ConvAutoencoderClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        conv = ConvAutoencoderClassifier(
            ((4, 3),), hidden_layer_sizes=(8,), pretrain_max_iter=0, max_iter=1
        ).fit(*digits)
    save_model(conv, tmp_path / "conv.skops")
    status, _, err = _fit(
        folder, tmp_path / "conv.skops", tmp_path / "m.skops", "--cv", "0"
    )
    assert status == 0, err
    for argv in (
        ["fit", "--target-dir", folder, "--source", tmp_path / "conv.skops"]
        + ["--cv", "0", "--out", tmp_path / "wide.skops", "--size", "4", "16"],
        ["predict", tmp_path / "m.skops", folder / "0", "--size", "16", "4"],
    ):
        status, _, err = _run(argv)
        assert status == 2
        assert "takes 8x8 images; pass --size 8 8 or omit --size" in err
    status, _, err = _fit(
        folder, source, tmp_path / "dense.skops", "--cv", "0", "--size", "4", "16"
    )
    assert status == 0, err


def test_fit_cross_validates_whenever_a_training_fold_keeps_two_per_class(
    digits, source, tmp_path
):
    # The linear model picks its C by an inner cross-validation, which needs
    # two images of each class in every training fold.
    three = _image_folder(tmp_path / "three", digits, ["0", "1"], 3)
    status, out, err = _fit(three, source, tmp_path / "a.skops", "--cv", "2")
    assert status == 0, err
    assert "note: 3 cross-validation folds instead of --cv 2" in out
    assert "Cross-validated accuracy (3-fold" in out
    two = _image_folder(tmp_path / "two", digits, ["0", "1"], 2)
    status, out, err = _fit(two, source, tmp_path / "b.skops")
    assert status == 0, err
    assert "no cross-validation: the smallest class has fewer than 3 images" in out
    assert (tmp_path / "b.skops").exists()


# A grouped fold may keep one image of the small class for training: the
# linear model's inner search warns and goes on.
@pytest.mark.filterwarnings("ignore:The least populated class:UserWarning")
def test_grouped_folds_keep_the_number_asked_for(digits, source, tmp_path):
    # Grouped folds follow the groups: raising their number to keep two of
    # each class for training would ask for more folds than the groups allow.
    root = _image_folder(
        tmp_path / "imgs", digits, ["0", "1", "2"], [6, 6, 3],
        lambda i: f"{'ab'[i % 2]}_{i}.png",
    )  # fmt: skip
    status, out, err = _fit(
        root, source, tmp_path / "m.skops", "--cv", "2", "--group-pattern", "^([ab])_"
    )
    assert status == 0, err
    assert "(2-fold, stratified, grouped;" in out
    assert "instead of --cv" not in out


def test_class_names_matplotlib_would_parse_are_drawn_as_they_are(
    digits, source, tmp_path
):
    pytest.importorskip("matplotlib")
    names = ["$^$", "b$"]
    folder = _image_folder(tmp_path / "imgs", digits, names, 4)
    model = tmp_path / "m.skops"
    status, _, err = _fit(folder, source, model, "--cv", "2")
    assert status == 0, err
    for plot in ("relation", "comparison", "confusion"):
        assert (tmp_path / f"m_{plot}.png").stat().st_size > 0
    status, _, err = _run(
        ["evaluate", model, folder, "--confusion", tmp_path / "c.png"]
    )
    assert status == 0, err


def test_evaluate_takes_a_classifier(digits, folder, tmp_path):
    X, _ = digits
    joblib.dump(KMeans(2, n_init=1, random_state=0).fit(X), tmp_path / "k.joblib")
    status, _, err = _run(["evaluate", tmp_path / "k.joblib", folder, "--allow-pickle"])
    assert status == 2
    assert "a KMeans has no classes to score; evaluate takes a classifier" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "{model}", "{folder}", "--confusion", "{tmp}"], "is a folder"),
        (["evaluate", "{model}", "{folder}", "--confusion", "{tmp}/plot"], "format"),
        (["evaluate", "{model}", "{folder}", "--confusion", ""], "format"),
        (["predict", "{model}", "{folder}/0", "--csv", ""], "name of a file"),
        (["predict", "{model}", "{folder}/0", "--csv", "{tmp}"], "name of a file"),
        (["predict", "{model}", "{folder}/0", "--csv", "{tmp}/no/x.csv"], "exist"),
    ],
)
def test_output_paths_are_files_checked_before_any_work(
    argv, message, source, folder, tmp_path
):
    # matplotlib would add ".png" to a name without a format and write there;
    # an empty --csv was silently ignored.
    if "--confusion" in argv:
        pytest.importorskip("matplotlib")
    values = {"model": source, "folder": folder, "tmp": tmp_path}
    status, out, err = _run([a.format(**values) for a in argv])
    assert status == 2
    assert message in err and out == ""
    assert not list(tmp_path.iterdir())


def test_a_confusion_plot_of_many_classes_stays_small(tmp_path):
    pytest.importorskip("matplotlib")
    from skalltransfer.cli._fit_report import (
        MAX_CONFUSION_INCHES,
        save_confusion_plot,
    )

    classes = np.array([f"class {k}" for k in range(150)])
    y = np.repeat(classes, 2)
    save_confusion_plot(y, y[::-1], classes, tmp_path / "c.png", "150 classes")
    with Image.open(tmp_path / "c.png") as image:
        assert max(image.size) <= (MAX_CONFUSION_INCHES + 0.8) * 150


def test_fit_refuses_more_classes_than_source_units_before_training(digits, tmp_path):
    # All-transfer answers each class through a source output unit of its
    # own; the library's message named a Python parameter, after the loading.
    X, y = digits
    keep = y < 3
    save_model(_tiny_source(X[keep], y[keep]), tmp_path / "three.skops")
    folder = _image_folder(tmp_path / "imgs", digits, ["a", "b", "c", "d"], 4)
    status, out, err = _fit(folder, tmp_path / "three.skops", tmp_path / "m.skops")
    assert status == 2
    assert "holds 4 classes but the source has 3 output units" in err
    assert "--n-transferred-layers" in err and "Traceback" not in err
    assert "Transferred" not in out  # nothing was trained
    status, _, err = _fit(
        folder,
        tmp_path / "three.skops",
        tmp_path / "m.skops",
        *("--cv", "0", "--n-transferred-layers", "1"),
    )
    assert status == 0, err
