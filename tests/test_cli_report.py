"""The command line's honest answer on a folder of your own images (issue 28):
``fit`` compared with not transferring on the same folds, with a report,
per-class results and plots; grouped cross-validation; how images are read
(``--intensity``, ``--invert``, ``--color``); ``evaluate``; probabilities
in ``predict``; ``rank``'s scores beside a reference."""

import codecs
import contextlib
import csv
import io
import json
import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    roc_auc_score,
)
from sklearn.svm import LinearSVC

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    ImageConventionWarning,
    StackedAutoencoderClassifier,
    load_model,
    save_model,
)
from skalltransfer.cli._main import main
from skalltransfer.datasets import load_image_folder, load_images
from skalltransfer.metrics._transferability import (
    knn_from_features,
    leep_from_outputs,
    logme_from_features,
    nce_from_outputs,
)
from skalltransfer.model_selection._comparison import (
    LINEAR,
    NO_TRANSFER,
    TRANSFER,
    TransferComparison,
)

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

CANDIDATES = [TRANSFER, NO_TRANSFER, LINEAR]
# Patients per class and images per patient of the test folder.
N_PATIENTS, N_IMAGES = 6, 3


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def _quantised(digits, label, n):
    """``n`` digit images of ``label``, in steps of 1/15: exact both as
    8-bit (x 255) and as 12-bit (x 4095) values."""
    X, y = digits
    return np.round(X[y == label][:n] * 15) / 15


def _write_folder(root, rows_by_class, kind="8-bit"):
    """One sub-folder per class; the images of patient ``p`` are named
    ``pNN_i.png``, patients numbered across the classes."""
    patient = 0
    for name, rows in rows_by_class.items():
        (root / name).mkdir(parents=True)
        for i, row in enumerate(rows):
            patient_id = patient + i // N_IMAGES
            image = row.reshape(8, 8)
            if kind == "8-bit":
                pil = Image.fromarray(np.round(image * 255).astype(np.uint8))
            elif kind == "inverted":
                pil = Image.fromarray(np.round((1 - image) * 255).astype(np.uint8))
            elif kind == "12-bit":
                pil = Image.fromarray(np.round(image * 4095).astype(np.uint16))
            else:  # rgb
                grey = np.round(image * 255).astype(np.uint8)
                pil = Image.fromarray(np.stack([grey] * 3, axis=-1))
            pil.save(root / name / f"p{patient_id:02d}_{i:02d}.png")
        patient += -(-len(rows) // N_IMAGES)
    return root


@pytest.fixture(scope="module")
def digit_rows(digits):
    n = N_PATIENTS * N_IMAGES
    return {"zero": _quantised(digits, 0, n), "one": _quantised(digits, 1, n)}


@pytest.fixture(scope="module")
def folders(digit_rows, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("folders")
    return {
        kind: _write_folder(tmp / kind, digit_rows, kind)
        for kind in ("8-bit", "inverted", "12-bit", "rgb")
    }


@pytest.fixture(scope="module")
def sources(digits, tmp_path_factory):
    """Tiny 8x8 sources saved as .skops: grey (SAE) and colour (conv)."""
    X, y = digits
    tmp = tmp_path_factory.mktemp("sources")
    X3 = np.repeat(X.reshape(-1, 8, 8, 1), 3, axis=3).reshape(len(X), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grey = StackedAutoencoderClassifier(
            (16,), pretrain_max_iter=1, max_iter=5, random_state=0
        ).fit(X, y)
        colour = ConvAutoencoderClassifier(
            ((4, 3),),
            hidden_layer_sizes=(16,),
            pretrain_max_iter=1,
            max_iter=2,
            image_shape=(8, 8, 3),
            random_state=0,
        ).fit(X3, y)
    save_model(grey, tmp / "grey.skops")
    save_model(colour, tmp / "rgb.skops")
    return {"grey": tmp / "grey.skops", "rgb": tmp / "rgb.skops"}


def _fit(folder, out, source, *extra):
    return _run(
        ["fit", "--target-dir", folder, "--source", source, "--max-iter", "5"]
        + [*extra, "--out", out]
    )


@pytest.fixture(scope="module")
def fitted(folders, sources, tmp_path_factory):
    """``fit`` with 3-fold cross-validation on the 8-bit folder."""
    tmp = tmp_path_factory.mktemp("fit")
    status, out, err = _fit(
        folders["8-bit"], tmp / "m.skops", sources["grey"], "--cv", "3"
    )
    assert status == 0, err
    with open(tmp / "m_report.json", encoding="utf-8") as f:
        report = json.load(f)
    return dict(tmp=tmp, model=tmp / "m.skops", out=out, err=err, report=report)


# -- fit: what was done to the images, the comparison, the report ------------------
def test_fit_first_line_says_what_was_done_to_the_images(fitted):
    first = fitted["out"].splitlines()[0]
    assert first.startswith("Target: 36 images in 2 classes from ")
    assert (
        "read as 8x8 grayscale, not inverted; intensities: 8-bit, divided by 255"
        in first
    )
    assert fitted["err"] == ""  # nothing to warn about


def test_fit_compares_the_transfer_with_not_transferring(fitted):
    out, report = fitted["out"], fitted["report"]
    assert "Cross-validated accuracy (3-fold, stratified; the same folds" in out
    table = out[out.index("  candidate") :].splitlines()
    assert table[0].split()[:2] == ["candidate", "accuracy"]
    for line, name in zip(table[1:4], CANDIDATES):
        assert line.strip().startswith(name) and "±" in line
    assert "points" not in table[1] and "points" in table[2] and "points" in table[3]
    verdicts = ("Transfer helped", "Transfer did not help", "No clear difference")
    assert table[4].startswith(verdicts)

    cv = report["cross_validation"]
    assert cv["n_folds"] == 3 and list(cv["candidates"]) == CANDIDATES
    # The folds split the images once each, and every candidate's fold
    # scores are the accuracy of its out-of-fold predictions on that fold.
    files = [f for fold in cv["folds"] for f in fold]
    assert sorted(files) == sorted(cv["files"]) and len(files) == 36
    position = {name: i for i, name in enumerate(cv["files"])}
    labels = np.array(cv["labels"])
    for name in CANDIDATES:
        predicted = np.array(cv["out_of_fold_predictions"][name])
        scores = [
            accuracy_score(labels[idx], predicted[idx])
            for idx in ([position[f] for f in fold] for fold in cv["folds"])
        ]
        assert_allclose(cv["candidates"][name]["fold_scores"], scores)
        assert_allclose(cv["candidates"][name]["mean"], np.mean(scores))
        assert set(cv["per_class"][name]) >= {"zero", "one"}
    assert report["chosen"] == cv["chosen"] == TRANSFER
    for k, fold in enumerate(cv["folds"]):
        assert all(cv["test_fold"][position[f]] == k for f in fold)


def test_fit_prints_the_per_class_results_of_the_cross_validated_predictions(fitted):
    out, report = fitted["out"], fitted["report"]
    assert "Per-class results of the transfer (its cross-validated predictions):" in out
    per_class = report["cross_validation"]["per_class"][TRANSFER]
    lines = out.splitlines()
    start = lines.index(
        "Per-class results of the transfer (its cross-validated predictions):"
    )
    assert lines[start + 1].split() == [
        "class",
        "precision",
        "recall",
        "f1-score",
        "support",
    ]
    for line, name in zip(lines[start + 2 : start + 4], ("one", "zero")):
        expected = [f"{per_class[name][k]:.2f}" for k in ("precision", "recall")]
        assert line.split()[:3] == [name, *expected]
        assert line.split()[-1] == "18"


def test_fit_report_says_what_was_done_to_the_images(fitted):
    images = fitted["report"]["images"]
    assert images["options"] == {"intensity": "auto", "invert": False, "color": "gray"}
    assert images["info"]["size"] == [8, 8] and images["info"]["channels"] == 1
    assert images["info"]["inverted"] is False
    assert images["classes"] == {"one": 18, "zero": 18}


def test_fit_saves_the_comparison_and_confusion_plots(fitted):
    for name in ("relation", "comparison", "confusion"):
        with Image.open(fitted["tmp"] / f"m_{name}.png") as image:
            assert image.format == "PNG"
    assert "m_comparison.png" in fitted["out"] and "m_confusion.png" in fitted["out"]


def test_relation_and_units_are_named_by_the_source_classes(fitted):
    out = fitted["out"]
    header = next(line for line in out.splitlines() if "source class " in line)
    assert header.split()[:4] == ["class", "\\", "source", "class"]
    assert header.split()[4:] == [str(d) for d in range(10)]
    assert "Selected source classes: " in out
    # Two balanced classes: no information is -ln 2.
    assert f"scores {-np.log(2):.3f} (minus the entropy" in out


def test_fit_without_cross_validation_writes_no_comparison(folders, sources, tmp_path):
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"], "--cv", "0"
    )
    assert status == 0, err
    assert "Cross-validated" not in out and "candidate" not in out
    with open(tmp_path / "m_report.json", encoding="utf-8") as f:
        assert json.load(f)["cross_validation"] is None
    assert (tmp_path / "m_relation.png").exists()
    assert not (tmp_path / "m_comparison.png").exists()


def test_select_best_needs_cross_validation(folders, sources, tmp_path):
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"], "--cv", "0",
        "--select", "best",
    )  # fmt: skip
    assert status == 2 and out == ""
    assert "--select best" in err and "--cv 0" in err


def test_select_best_saves_the_best_cross_validated_candidate(
    folders, sources, tmp_path
):
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"], "--select", "best"
    )
    assert status == 0, err
    with open(tmp_path / "m_report.json", encoding="utf-8") as f:
        report = json.load(f)
    best = report["cross_validation"]["best"]
    assert report["chosen"] == best
    means = {k: v["mean"] for k, v in report["cross_validation"]["candidates"].items()}
    assert means[best] == max(means.values())
    model = load_model(tmp_path / "m.skops")
    expected = LogisticRegression if best == LINEAR else AllTransferClassifier
    assert isinstance(model, expected)


@pytest.mark.parametrize("best", [NO_TRANSFER, LINEAR])
def test_select_best_saves_that_candidate_fitted_on_every_image(
    best, folders, sources, tmp_path, monkeypatch
):
    monkeypatch.setattr(TransferComparison, "best", property(lambda self: best))
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"], "--select", "best"
    )
    assert status == 0, err
    assert f"Saved the model (the {best}, best cross-validated)" in out
    assert f"Per-class results of the {best}" in out
    model = load_model(tmp_path / "m.skops")
    if best == LINEAR:
        assert isinstance(model, LogisticRegression)
    else:
        assert isinstance(model, AllTransferClassifier)
        assert model.n_transferred_layers_ == 0
    X, y = load_image_folder(folders["8-bit"], size=(8, 8))
    assert model.predict(X).shape == y.shape  # fitted on the images
    # The saved model works with predict and evaluate.
    status, out, err = _run(["predict", tmp_path / "m.skops", folders["8-bit"] / "one"])
    assert status == 0, err
    assert out.splitlines()[0].split("\t") == [
        "path",
        "prediction",
        "p(one)",
        "p(zero)",
    ]
    status, out, err = _run(["evaluate", tmp_path / "m.skops", folders["8-bit"]])
    assert status == 0, err
    assert f"Accuracy: {accuracy_score(y, model.predict(X)):.1%}" in out


# -- grouped cross-validation ------------------------------------------------------
def _group_of(name):
    return name.rsplit("/", 1)[-1].split("_")[0]


def _folds_of_each_group(report):
    folds = {}
    for k, fold in enumerate(report["cross_validation"]["folds"]):
        for name in fold:
            folds.setdefault(_group_of(name), set()).add(k)
    return folds


def test_group_pattern_keeps_each_group_in_one_fold(folders, sources, tmp_path):
    argv = ["--cv", "3", "--group-pattern", r"^(p\d+)_"]
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "g.skops", sources["grey"], *argv
    )
    assert status == 0, err
    assert "(3-fold, stratified, grouped;" in out
    assert f"Groups (--group-pattern ^(p\\d+)_): {2 * N_PATIENTS}" in out
    with open(tmp_path / "g_report.json", encoding="utf-8") as f:
        report = json.load(f)
    assert report["cross_validation"]["splitter"] == "StratifiedGroupKFold"
    folds = _folds_of_each_group(report)
    assert len(folds) == 2 * N_PATIENTS
    assert all(len(k) == 1 for k in folds.values()), folds
    # Without the groups, the same folder splits patients across folds: the
    # check above is not true by chance.
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "u.skops", sources["grey"], "--cv", "3"
    )
    assert status == 0, err
    with open(tmp_path / "u_report.json", encoding="utf-8") as f:
        assert any(len(k) > 1 for k in _folds_of_each_group(json.load(f)).values())


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_groups_csv_keeps_each_group_in_one_fold(delimiter, folders, sources, tmp_path):
    folder = folders["8-bit"]
    rows = [["file", "patient"]]  # a header row is allowed
    for k, name in enumerate(sorted(os.listdir(folder / "zero"))):
        # Paths relative to the folder and bare file names both work.
        rows.append([f"zero/{name}" if k % 2 else name, _group_of(name)])
    rows += [[name, _group_of(name)] for name in sorted(os.listdir(folder / "one"))]
    with open(tmp_path / "groups.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    argv = ["--cv", "3", "--groups", tmp_path / "groups.csv"]
    status, out, err = _fit(folder, tmp_path / "g.skops", sources["grey"], *argv)
    assert status == 0, err
    with open(tmp_path / "g_report.json", encoding="utf-8") as f:
        report = json.load(f)
    assert all(len(k) == 1 for k in _folds_of_each_group(report).values())
    cv = report["cross_validation"]
    assert cv["groups"] == [_group_of(name) for name in cv["files"]]


@pytest.mark.parametrize(
    "rows, message",
    [
        (None, "no such file"),
        ([], "the file is empty"),
        ([["zero/p00_00.png", "a"], ["nowhere.png", "b"]], "not images of"),
        ([["zero/p00_00.png", "a"]], "35 of 36 images have no group"),
        ([["zero/p00_00.png", "a"], ["p00_00.png", "b"]], "listed twice"),
        ([["zero/p00_00.png", "a"], ["p00_01.png"]], "expected two columns"),
        ([["zero/p00_00.png", "a"], ["p00_01.png", ""]], "no group for"),
    ],
)
def test_groups_csv_errors_name_the_fix(rows, message, folders, sources, tmp_path):
    path = tmp_path / "groups.csv"
    if rows is not None:
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"], "--groups", path
    )
    assert status == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("skalltransfer fit: error: --groups") and message in line
    assert out == ""  # before any training


def test_groups_csv_file_names_in_two_class_folders_need_their_path(
    digits, sources, tmp_path
):
    X, y = digits
    rows = {"a": X[y == 0][:4], "b": X[y == 1][:4]}
    folder = tmp_path / "same"
    for name, images in rows.items():
        (folder / name).mkdir(parents=True)
        for i, row in enumerate(images):
            pixels = np.round(row.reshape(8, 8) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
    (tmp_path / "g.csv").write_text("0.png,p1\n", encoding="utf-8")
    status, out, err = _fit(
        folder, tmp_path / "m.skops", sources["grey"], "--groups", tmp_path / "g.csv"
    )
    assert status == 2
    assert "in several class folders" in err and "relative to --target-dir" in err


@pytest.mark.parametrize(
    "pattern, extra, message",
    [
        ("(", [], "not a valid regular expression"),
        ("^patient", [], "matches none of the 36 file names"),
        (r"^p0(\d)_", [], "6 of 36 file names give no group"),
        (r"^p(\d)\d_", [], "fall into 2 groups, fewer than the 5"),
        (r"^(p0[01])_|^(x)", ["--cv", "2"], "give no group"),
    ],
)
def test_group_pattern_errors_name_the_fix(
    pattern, extra, message, folders, sources, tmp_path
):
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"],
        "--group-pattern", pattern, *extra,
    )  # fmt: skip
    assert status == 2, err
    (line,) = err.strip().splitlines()
    assert "--group-pattern" in line and message in line
    assert out == ""


def test_groups_are_unused_without_cross_validation(folders, sources, tmp_path):
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"],
        "--group-pattern", r"^(p\d+)_", "--cv", "0",
    )  # fmt: skip
    assert status == 0, err
    assert "note: --group-pattern is unused: no cross-validation." in out
    assert "Groups (" not in out


def test_groups_and_group_pattern_exclude_each_other(folders, tmp_path):
    status, out, err = _run(
        ["fit", "--target-dir", folders["8-bit"], "--groups", "g.csv"]
        + ["--group-pattern", "x", "--out", tmp_path / "m.skops"]
    )
    assert status == 2 and "not allowed with" in err


def test_fewer_groups_than_folds_is_reported_before_training(
    folders, sources, tmp_path
):
    status, out, err = _fit(
        folders["8-bit"], tmp_path / "m.skops", sources["grey"],
        "--group-pattern", r"^p(\d)\d_",
    )  # fmt: skip
    assert status == 2
    assert "2 groups, fewer than the 5 cross-validation folds" in err
    assert "pass --cv 2 or fewer" in err
    assert not (tmp_path / "m.skops").exists()


# -- how images are read: --intensity, --invert, --color ---------------------------
def test_an_image_warning_is_one_line_and_invert_auto_fixes_it(
    folders, sources, tmp_path
):
    status, out, err = _fit(
        folders["inverted"], tmp_path / "m.skops", sources["grey"], "--cv", "0"
    )
    assert status == 0, err
    (line,) = err.strip().splitlines()
    assert line.startswith("warning: The target images look unlike the source's")
    assert "--invert auto" in line and "Warning" not in line
    assert ", not inverted;" in out.splitlines()[0]

    status, out, err = _fit(
        folders["inverted"], tmp_path / "m.skops", sources["grey"], "--cv", "0",
        "--invert", "auto",
    )  # fmt: skip
    assert status == 0 and err == ""
    assert "read as 8x8 grayscale, inverted;" in out.splitlines()[0]
    with open(tmp_path / "m_report.json", encoding="utf-8") as f:
        images = json.load(f)["images"]
    assert images["options"]["invert"] == "auto" and images["info"]["inverted"]


def test_intensity_reaches_the_loaders_of_every_command(
    folders, sources, fitted, tmp_path
):
    twelve = folders["12-bit"]
    status, out, err = _fit(twelve, tmp_path / "m.skops", sources["grey"], "--cv", "0")
    assert status == 0, err
    assert "divided by 4095" in out.splitlines()[0]  # 12-bit content detected
    status, out, err = _fit(
        twelve, tmp_path / "m.skops", sources["grey"], "--cv", "0",
        "--intensity", "dtype",
    )  # fmt: skip
    assert status == 0
    assert "divided by 65535" in out.splitlines()[0]
    assert err.startswith("warning: ") and "contrast is low" in err

    # A model fitted on the 8-bit images predicts the 12-bit copies alike.
    model = fitted["model"]
    predictions = {}
    for kind in ("8-bit", "12-bit"):
        status, out, err = _run(["predict", model, folders[kind] / "one", "--no-proba"])
        assert status == 0 and err == ""
        predictions[kind] = [line.split("\t")[1] for line in out.splitlines()[1:]]
    assert predictions["8-bit"] == predictions["12-bit"]
    # Read as 16-bit values they look unlike the training images.
    status, out, err = _run(
        ["predict", model, twelve / "one", "--intensity", "dtype", "--no-proba"]
    )
    assert status == 0
    (line,) = err.strip().splitlines()
    assert line.startswith("warning: ") and "unlike its training images" in line
    assert "--intensity, --invert and --color" in line
    # evaluate and rank take the option too.
    accuracies = {}
    for option in ("bits:12", "auto"):
        status, out, err = _run(["evaluate", model, twelve, "--intensity", option])
        assert status == 0, err
        accuracies[option] = out.splitlines()[1]
    assert accuracies["bits:12"] == accuracies["auto"]
    status, out, err = _run(
        ["rank", "--target-dir", twelve, "--source-model", "--source", sources["grey"]]
        + ["--intensity", "bits:16"]
    )
    assert status == 0, err
    assert "16-bit, divided by 65535" in out


def test_predict_keeps_the_bit_depth_fit_found(folders, sources, digits, tmp_path):
    model = tmp_path / "m.skops"
    status, out, err = _fit(folders["12-bit"], model, sources["grey"], "--cv", "0")
    assert status == 0, err
    # One dim 12-bit image: alone, "auto" would take it for 10-bit content.
    dim = np.round(digits[0][0].reshape(8, 8) * 0.2 * 4095).astype(np.uint16)
    Image.fromarray(dim).save(tmp_path / "dim.png")
    status, out, err = _run(["predict", model, tmp_path / "dim.png"])
    assert status == 0
    assert "--intensity bits:12" in err and "note: " in err
    X, _ = load_images(tmp_path / "dim.png", size=(8, 8), intensity="bits:12")
    proba = [float(p) for p in out.splitlines()[1].split("\t")[2:]]
    with warnings.catch_warnings():
        # A dim image has a low contrast: the model warns, as predict did.
        warnings.simplefilter("ignore", ImageConventionWarning)
        expected = load_model(model).predict_proba(X)[0]
    assert_allclose(proba, expected, atol=1e-4)
    X_auto, _ = load_images(tmp_path / "dim.png", size=(8, 8))
    assert X_auto.max() > 3 * X.max()  # what the recorded depth avoids
    # The depth is recorded as a number; a report written before it was
    # (the phrase only) pins the same depth, and a crafted one is not used.
    report = tmp_path / "m_report.json"
    with open(report, encoding="utf-8") as f:
        written = json.load(f)
    assert written["images"]["info"]["bit_depth"] == 12
    for depth, pinned in [(None, False), ("drop", True), (99, False),
                          ("12", False), (True, False), (12.0, False)]:  # fmt: skip
        info = dict(written["images"]["info"])
        if depth == "drop":
            del info["bit_depth"]
        else:
            info["bit_depth"] = depth
        with open(report, "w", encoding="utf-8") as f:
            json.dump({**written, "images": {**written["images"], "info": info}}, f)
        status, out, err = _run(["predict", model, tmp_path / "dim.png"])
        assert status == 0, err
        assert ("--intensity bits:12" in err) is pinned, (depth, err)
        assert ("cannot read how the training images" in err) is (
            depth not in (None, "drop")
        )


@pytest.mark.parametrize(
    "option, message",
    [
        (["--intensity", "bits:0"], "expected auto, dtype, bits:N"),
        (["--intensity", "12bit"], "expected auto, dtype, bits:N"),
        (["--invert", "maybe"], "expected auto, yes or no"),
        (["--color", "cmyk"], "invalid choice"),
    ],
)
def test_image_options_are_checked_by_the_parser(option, message, folders, tmp_path):
    for command in (
        ["fit", "--target-dir", folders["8-bit"], "--out", tmp_path / "m.skops"],
        ["predict", tmp_path / "m.skops", folders["8-bit"]],
        ["evaluate", tmp_path / "m.skops", folders["8-bit"]],
        ["rank", "--target-dir", folders["8-bit"]],
    ):
        status, out, err = _run([*command, *option])
        assert status == 2 and message in err


def test_invert_alone_means_yes_and_predict_reads_images_as_fit_did(
    folders, sources, tmp_path
):
    model = tmp_path / "m.skops"
    status, out, err = _fit(
        folders["inverted"], model, sources["grey"], "--cv", "0", "--invert"
    )
    assert status == 0 and err == ""
    assert ", inverted;" in out.splitlines()[0]
    # predict and evaluate read new images as fit read the training images
    # (recorded in the report beside the model) and say so.
    status, out, err = _run(["predict", model, folders["inverted"] / "one"])
    assert status == 0
    (line,) = err.strip().splitlines()
    assert line.startswith("note: reading the images as the training images were")
    assert "--invert yes" in line
    X, _ = load_images(folders["inverted"] / "one", size=(8, 8), invert=True)
    labels = [row.split("\t")[1] for row in out.splitlines()[1:]]
    assert labels == list(load_model(model).predict(X))
    status, out, err = _run(["evaluate", model, folders["inverted"]])
    assert status == 0 and "--invert yes" in err
    assert ", inverted;" in out.splitlines()[0]
    # An option given on the command line wins, and no note is printed.
    status, out, err = _run(
        ["predict", model, folders["8-bit"] / "one", "--invert", "no"]
    )
    assert status == 0 and "note:" not in err


def test_color_follows_the_source(folders, sources, tmp_path):
    model = tmp_path / "m.skops"
    status, out, err = _fit(folders["rgb"], model, sources["rgb"], "--cv", "0")
    assert status == 0, err
    assert "read as 8x8 RGB, not inverted" in out.splitlines()[0]
    assert load_model(model).n_features_in_ == 8 * 8 * 3
    status, out, err = _run(["predict", model, folders["rgb"] / "one"])
    assert status == 0, err
    assert len(out.splitlines()) == 1 + N_PATIENTS * N_IMAGES
    status, out, err = _run(["evaluate", model, folders["rgb"]])
    assert status == 0 and "8x8 RGB" in out
    # A grey source stays grey; a mismatch names the fix.
    for source, color in ((sources["rgb"], "gray"), (sources["grey"], "rgb")):
        status, out, err = _fit(
            folders["rgb"], model, source, "--cv", "0", "--color", color
        )
        assert status == 2
        assert f"--color {color}" in err and "drop --color" in err


def test_a_colour_source_trained_from_npz_source_images(digits, tmp_path, folders):
    X, y = digits
    X3 = np.repeat(X.reshape(-1, 8, 8, 1), 3, axis=3).reshape(len(X), -1)
    np.savez(tmp_path / "rgb.npz", X=X3, y=y)
    argv = ["--source-model", "conv", "--quick", "--cache-dir", tmp_path / "cache"]
    status, out, err = _fit(
        folders["rgb"], tmp_path / "m.skops", tmp_path / "rgb.npz", "--cv", "0", *argv
    )
    assert status == 2
    assert "192 inputs" in err and "8x8 RGB: pass --color rgb" in err
    status, out, err = _fit(
        folders["rgb"], tmp_path / "m.skops", tmp_path / "rgb.npz", "--cv", "0",
        "--color", "rgb", *argv,
    )  # fmt: skip
    assert status == 0, err
    assert "read as 8x8 RGB" in out.splitlines()[0]
    assert load_model(tmp_path / "m.skops").source_.image_shape_ == (8, 8, 3)


# -- evaluate ----------------------------------------------------------------------
def test_evaluate_prints_the_scores_of_a_labelled_folder(fitted, folders, tmp_path):
    png = tmp_path / "confusion.png"
    status, out, err = _run(
        ["evaluate", fitted["model"], folders["8-bit"], "--confusion", png]
    )
    assert status == 0, err
    model = load_model(fitted["model"])
    X, y = load_image_folder(folders["8-bit"], size=(8, 8))
    predicted = model.predict(X)
    lines = out.splitlines()
    assert lines[0].startswith("36 images in 2 classes from ")
    assert f"Accuracy: {accuracy_score(y, predicted):.1%}" in out
    assert f"{balanced_accuracy_score(y, predicted):.1%}" in lines[2]
    auroc = roc_auc_score(y == model.classes_[1], model.predict_proba(X)[:, 1])
    assert f"AUROC ('zero' as the positive class; 0.5 is chance): {auroc:.3f}" in out
    matrix = confusion_matrix(y, predicted, labels=model.classes_)
    start = lines.index(
        "Confusion matrix (rows: true class, columns: predicted class):"
    )
    assert lines[start + 1].split()[-2:] == ["one", "zero"]
    for line, row, name in zip(lines[start + 2 :], matrix, model.classes_):
        assert line.split() == [name, *map(str, row)]
    assert "Per-class results:" in out
    with Image.open(png) as image:
        assert image.format == "PNG"


def test_evaluate_maps_folder_names_to_the_model_classes(digits, sources, tmp_path):
    X, y = digits
    keep = np.isin(y, [3, 5, 7])
    source = load_model(sources["grey"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AllTransferClassifier(source, max_iter=3, random_state=0)
        model.fit(X[keep], y[keep])
    save_model(model, tmp_path / "int.skops")
    folder = _write_folder(
        tmp_path / "digits", {str(d): _quantised(digits, d, 5) for d in (3, 5, 7)}
    )
    status, out, err = _run(["evaluate", tmp_path / "int.skops", folder])
    assert status == 0, err
    assert "AUROC" not in out  # three classes
    assert "15 images in 3 classes" in out
    (folder / "9").mkdir()
    Image.new("L", (8, 8)).save(folder / "9" / "a.png")
    status, out, err = _run(["evaluate", tmp_path / "int.skops", folder])
    assert status == 2
    assert "class folders the model does not know: '9'" in err


def test_evaluate_on_a_folder_without_some_classes_warns_of_nothing(
    digits, sources, tmp_path, recwarn
):
    X, y = digits
    keep = np.isin(y, [3, 7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AllTransferClassifier(load_model(sources["grey"]), max_iter=3)
        model.fit(X[keep], y[keep])
    save_model(model, tmp_path / "m.skops")
    # Sevens filed under "3": the model predicts a class the folder lacks.
    folder = _write_folder(tmp_path / "one_class", {"3": _quantised(digits, 7, 10)})
    assert set(model.predict(load_image_folder(folder, size=(8, 8))[0])) >= {7}
    recwarn.clear()
    status, out, err = _run(["evaluate", tmp_path / "m.skops", folder])
    assert status == 0, err
    assert "Balanced accuracy (the mean recall over the classes present)" in out
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "{tmp}/missing.skops", "{folder}"], "no such file"),
        (["evaluate", "{tmp}/m.joblib", "{folder}"], "--allow-pickle"),
        (["evaluate", "{model}", "{tmp}/nowhere"], "No such directory"),
        (["evaluate", "{model}", "{folder}/one"], "no class sub-folders"),
        (
            ["evaluate", "{model}", "{folder}", "--confusion", "{tmp}/no/c.png"],
            "--confusion",
        ),
        (["predict", "{model}", "{folder}"], "skalltransfer evaluate"),
    ],
)
def test_evaluate_errors_are_one_line(argv, message, fitted, folders, tmp_path):
    (tmp_path / "m.joblib").write_bytes(b"not read")
    names = dict(tmp=tmp_path, model=fitted["model"], folder=folders["8-bit"])
    status, out, err = _run([a.format(**names) for a in argv])
    assert status == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"skalltransfer {argv[0]}: error: ") and message in line


# -- predict -----------------------------------------------------------------------
def test_predict_prints_probabilities_unless_no_proba(fitted, folders):
    argv = ["predict", fitted["model"], folders["8-bit"] / "zero"]
    outputs = {}
    for extra in ([], ["--proba"], ["--no-proba"]):
        status, out, err = _run([*argv, *extra])
        assert status == 0, err
        outputs[tuple(extra)] = [line.split("\t") for line in out.splitlines()]
    assert outputs[()] == outputs[("--proba",)]  # --proba: kept, the default
    assert outputs[()][0] == ["path", "prediction", "p(one)", "p(zero)"]
    assert [row[:2] for row in outputs[()]][1:] == outputs[("--no-proba",)][1:]
    assert outputs[("--no-proba",)][0] == ["path", "prediction"]


def test_predict_a_model_without_probabilities(digits, folders, tmp_path):
    X, y = digits
    save_model(LinearSVC().fit(X, y), tmp_path / "svc.skops")
    argv = ["predict", tmp_path / "svc.skops", folders["8-bit"] / "one"]
    status, out, err = _run(argv)
    assert status == 0, err
    assert out.splitlines()[0].split("\t") == ["path", "prediction"]
    status, out, err = _run([*argv, "--proba"])
    assert status == 2 and "no predict_proba; pass --no-proba" in err


def test_predict_round_trips_any_file_name(digits, fitted, tmp_path):
    names = [
        "tab\there.png",
        "new\nline.png",
        'comma, "quoted".png',
        "back\\slash.png",
        "back\\tslash-t.png",
        "esc\x1b.png",
        "ünïcödé 😀.png",
        "plain.png",
    ]
    images = tmp_path / "new"
    images.mkdir()
    pixels = np.round(digits[0][0].reshape(8, 8) * 255).astype(np.uint8)
    for name in names:
        Image.fromarray(pixels).save(images / name)
    if os.name == "posix":
        raw = os.path.join(os.fsencode(images), b"caf\xe9.png")
        with contextlib.suppress(OSError, UnicodeError):
            Image.fromarray(pixels).save(os.fsdecode(raw))
    expected = sorted(os.path.join(str(images), n) for n in os.listdir(images))
    csv_path = tmp_path / "out.csv"
    status, out, err = _run(["predict", fitted["model"], images, "--csv", csv_path])
    assert status == 0, err
    with open(csv_path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        table = list(csv.reader(f))
    assert table[0] == ["path", "prediction", "p(one)", "p(zero)"]
    assert sorted(row[0] for row in table[1:]) == expected
    lines = out.splitlines()
    assert len(lines) == 1 + len(expected)  # one row per image
    if os.name == "posix":
        # The printed cells are the names with Python escapes, so they
        # decode back to the exact names.
        printed = [
            codecs.decode(
                line.split("\t")[0].encode("latin-1", "backslashreplace"),
                "unicode_escape",
            )
            for line in lines[1:]
        ]
        assert sorted(printed) == expected
        assert [line.split("\t")[1:] for line in lines[1:]] == [
            row[1:] for row in table[1:]
        ]


# -- rank --------------------------------------------------------------------------
def _imbalanced_folder(digits, root):
    return _write_folder(
        root, {"a": _quantised(digits, 0, 10), "b": _quantised(digits, 1, 4)}
    )


@pytest.mark.parametrize("method", ["leep", "nce", "knn", "logme"])
def test_rank_prints_each_score_beside_its_reference(method, digits, sources, tmp_path):
    folder = _imbalanced_folder(digits, tmp_path / "imbalanced")
    status, out, err = _run(
        ["rank", "--target-dir", folder, "--source-model", "--source", sources["grey"]]
        + ["--method", method]
    )
    assert status == 0, err
    X, y = load_image_folder(folder, size=(8, 8))
    codes = np.unique(y, return_inverse=True)[1]
    (reference,) = [line for line in out.splitlines() if line.startswith("   - ")]
    value = float(reference.split()[-1])
    if method in ("leep", "nce"):
        assert "no information" in reference
        freq = np.array([10, 4]) / 14
        assert_allclose(value, np.sum(freq * np.log(freq)), atol=1e-4)
        # It is what the score gives a source whose outputs are constant.
        constant = np.full((len(y), 3), 1 / 3)
        score = leep_from_outputs if method == "leep" else nce_from_outputs
        assert_allclose(value, score(constant, codes, 2), atol=1e-4)
        assert out.splitlines()[-1].startswith(f"{method.upper()} is at most 0;")
    else:
        assert "raw pixels (no source)" in reference
        score = knn_from_features if method == "knn" else logme_from_features
        assert_allclose(value, score(X, codes, 2), atol=1e-4)
        assert "above the raw-pixel line" in out.splitlines()[-1]
    assert "Target images read as 8x8 grayscale, not inverted" in out


def test_rank_reads_the_images_with_the_given_options(folders, sources):
    status, out, err = _run(
        ["rank", "--target-dir", folders["inverted"], "--source-model"]
        + ["--source", sources["grey"], "--invert", "auto"]
    )
    assert status == 0 and err == ""
    assert "Target images read as 8x8 grayscale, inverted;" in out


def test_leep_no_information_value_is_minus_the_entropy_for_any_outputs():
    # What "no information" means: any constant source output.
    codes = np.array([0, 0, 0, 1, 1, 2])
    freq = np.bincount(codes) / len(codes)
    for outputs in (np.ones((6, 1)), np.tile([[0.2, 0.5, 0.3]], (6, 1))):
        assert_allclose(
            leep_from_outputs(outputs, codes, 3), np.sum(freq * np.log(freq))
        )
    assert_array_equal(np.unique(codes), [0, 1, 2])
