"""Images unlike the network's training images are flagged: a target whose
background, polarity or contrast differs from the source's images at
transfer time, and new images unlike the training images at predict time."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    ImageConventionWarning,
    StackedAutoencoderClassifier,
    load_model,
    save_model,
)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def source(digits):
    X, y = digits
    return StackedAutoencoderClassifier(
        (16,), pretrain_max_iter=0, max_iter=3, random_state=0
    ).fit(X[y < 6], y[y < 6])


@pytest.fixture(scope="module")
def target(digits):
    X, y = digits
    return X[y >= 6][:80], y[y >= 6][:80]


def _grey_background(X):
    """The images on a mid-grey background, content brighter."""
    return 0.5 + 0.5 * X


def _fit_quietly(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageConventionWarning)
        return clf.fit(X, y)


def test_a_fit_records_what_its_training_images_look_like(source, digits):
    stats = source.input_statistics_
    assert set(stats) == {"mean", "border", "contrast"}
    assert stats["border"] < stats["mean"]  # a dark background
    assert stats["contrast"] > 0.2


def test_a_target_like_the_source_gives_no_warning(source, target):
    X, y = target
    _fit_quietly(AllTransferClassifier(source, max_iter=2), X, y)


@pytest.mark.parametrize(
    "change, expected",
    [
        (_grey_background, "background is different"),
        (lambda X: 1.0 - X, "inverted"),
        (lambda X: X * 4095 / 65535, "contrast is low"),
    ],
)
def test_a_target_unlike_the_source_warns_with_the_fix(
    source, target, change, expected
):
    X, y = target
    with pytest.warns(ImageConventionWarning, match=expected) as record:
        AllTransferClassifier(source, max_iter=2).fit(change(X), y)
    message = str(record[0].message)
    assert "invert" in message and "per-image" in message


def test_predict_warns_on_images_unlike_the_training_images(source, target):
    X, y = target
    clf = _fit_quietly(AllTransferClassifier(source, max_iter=2), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageConventionWarning)
        clf.predict(X[:5])  # alike: no warning
    with pytest.warns(ImageConventionWarning, match="unlike its training images"):
        clf.predict(X * 4095 / 65535)  # 12-bit content read as 16-bit


def test_the_statistics_survive_saving(source, target, tmp_path):
    X, y = target
    clf = _fit_quietly(AllTransferClassifier(source, max_iter=2), X, y)
    save_model(clf, tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    assert loaded.input_statistics_ == clf.input_statistics_
    assert loaded.source_.input_statistics_ == source.input_statistics_


def test_crafted_statistics_are_refused(source, tmp_path):
    import copy

    import skops.io

    crafted = copy.deepcopy(source)
    crafted.input_statistics_ = {"mean": "a lot", "border": None, "contrast": 1.0}
    skops.io.dump(crafted, tmp_path / "c.skops")
    with pytest.raises(ValueError, match="input_statistics_"):
        load_model(tmp_path / "c.skops")
