"""How the image loaders turn pixel values into [0, 1] (``intensity``),
invert them (``invert``), keep colour (``color``) and say what they did
(``return_info``)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    ImageConventionWarning,
    StackedAutoencoderClassifier,
)
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_image_folder,
    load_images,
    load_medmnist,
    load_mnist,
)

Image = pytest.importorskip("PIL.Image")

# Sandal, Sneaker, Ankle boot.
CLASSES = {5: "sandal", 7: "sneaker", 9: "boot"}
N_PER_CLASS = 8


@pytest.fixture(scope="module")
def shoes():
    """8-bit values (0 to 255) of a few Fashion-MNIST shoes, and labels."""
    X, y = load_fashion_mnist_subset()
    rows = np.concatenate([np.flatnonzero(y == c)[:N_PER_CLASS] for c in CLASSES])
    values = np.rint(X[rows] * 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = np.array([CLASSES[c] for c in y[rows]])
    return values, labels


def _write_folder(root, images, labels):
    """Write ``images`` (uint8 or uint16 arrays) as PNGs in class folders."""
    for i, (image, label) in enumerate(zip(images, labels)):
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / label / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def folders(shoes, tmp_path_factory):
    """The same shoes written four ways: 8-bit (the original), 12-bit
    values in 16-bit PNGs, on a mid-grey background and on a bright one."""
    values, labels = shoes
    root = tmp_path_factory.mktemp("intensities")
    twelve = np.rint(values * (4095 / 255)).astype(np.uint16)
    grey = np.rint(127.5 + 0.5 * values.astype(np.float64)).astype(np.uint8)
    return {
        "original": _write_folder(root / "original", values, labels),
        "12-bit": _write_folder(root / "twelve", twelve, labels),
        "grey": _write_folder(root / "grey", grey, labels),
        "bright": _write_folder(root / "bright", 255 - values, labels),
    }


@pytest.fixture(scope="module")
def source():
    X, y = load_mnist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return StackedAutoencoderClassifier(
            (16,), pretrain_max_iter=0, max_iter=3, random_state=0
        ).fit(X[::10], y[::10])


def _fit(source, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AllTransferClassifier(source, max_iter=3, random_state=0).fit(X, y)


# "auto" ----------------------------------------------------------------------


def test_8_bit_images_are_divided_by_255(folders, shoes):
    X, y, info = load_image_folder(folders["original"], return_info=True)
    values, _ = shoes
    assert X.dtype == np.float32 and X.shape == (3 * N_PER_CLASS, 784)
    # Rows come class by class, classes sorted by name: boot, sandal, sneaker.
    order = np.argsort(np.repeat([1, 2, 0], N_PER_CLASS), kind="stable")
    np.testing.assert_array_equal(
        X, values[order].reshape(len(X), -1).astype(np.float32) / np.float32(255)
    )
    assert info == {
        "size": (28, 28),
        "channels": 1,
        "intensity": "8-bit, divided by 255",
        "bit_depth": 8,
        "range": None,
        "inverted": False,
    }


def test_12_bit_content_in_16_bit_pngs_loads_as_its_8_bit_copy(folders, source):
    X8, y8 = load_image_folder(folders["original"])
    X12, y12, info = load_image_folder(folders["12-bit"], return_info=True)
    np.testing.assert_array_equal(y12, y8)
    assert np.abs(X12 - X8).max() <= 1 / 255
    assert info["intensity"] == "12-bit values in 16-bit files, divided by 4095"
    assert info["bit_depth"] == 12
    # A model trained on the 8-bit copies predicts the 16-bit ones alike,
    # without the warning for images unlike the training images.
    clf = _fit(source, X8, y8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageConventionWarning)
        np.testing.assert_array_equal(clf.predict(X12), clf.predict(X8))
    # Divided by the 16-bit container's maximum, as before "auto", the same
    # images are dark, and the model says so.
    X_dtype = load_image_folder(folders["12-bit"], intensity="dtype")[0]
    assert X_dtype.max() <= 4095 / 65535 + 1e-6
    with pytest.warns(ImageConventionWarning, match="contrast is low"):
        clf.predict(X_dtype)


def test_8_bit_files_of_every_mode_load_as_their_luma_over_255(tmp_path):
    rng = np.random.RandomState(0)
    images = {
        "l.png": Image.fromarray(rng.randint(0, 256, (9, 7), dtype=np.uint8)),
        "rgb.png": Image.fromarray(rng.randint(0, 256, (9, 7, 3), dtype=np.uint8)),
        "rgba.png": Image.fromarray(rng.randint(0, 256, (9, 7, 4), dtype=np.uint8)),
        "p.bmp": Image.fromarray(rng.randint(0, 256, (9, 7, 3), dtype=np.uint8))
        .convert("P"),
        "one.tif": Image.fromarray(rng.randint(0, 2, (9, 7), dtype=np.uint8) * 255)
        .convert("1"),
    }  # fmt: skip
    for name, image in images.items():
        image.save(tmp_path / name)
    X, paths = load_images(tmp_path, size=None)
    for row, path in zip(X, paths):
        with Image.open(path) as image:
            luma = np.asarray(image.convert("L"), dtype=np.float32)
        np.testing.assert_array_equal(row, luma.ravel() / np.float32(255))


@pytest.mark.parametrize(
    "high, depth",
    [(200, 10), (1023, 10), (1024, 12), (4095, 12), (9000, 14), (40000, 16)],
)
def test_auto_detects_the_bit_depth_the_set_uses(tmp_path, high, depth):
    # The brightest value is in one image only: the depth is the set's.
    images = [np.full((6, 6), 100, np.uint16), np.full((6, 6), high, np.uint16)]
    _write_folder(tmp_path, images, ["a", "b"])
    X, _, info = load_image_folder(tmp_path, size=None, return_info=True)
    np.testing.assert_allclose(X[:, 0], [100 / (2**depth - 1), high / (2**depth - 1)])
    assert info["intensity"].startswith(f"{depth}-bit")
    assert f"divided by {2**depth - 1}" in info["intensity"]
    assert info["bit_depth"] == depth


def test_a_mixed_set_says_how_each_kind_was_scaled(tmp_path):
    images = [np.full((6, 6), 255, np.uint8), np.full((6, 6), 4095, np.uint16)]
    _write_folder(tmp_path, images, ["a", "b"])
    X, _, info = load_image_folder(tmp_path, size=None, return_info=True)
    np.testing.assert_allclose(X, 1.0)
    assert info["intensity"] == (
        "8-bit, divided by 255; 12-bit values in 16-bit files, divided by 4095"
    )
    assert info["bit_depth"] is None  # two depths


def test_float_images_in_0_1_are_kept(tmp_path):
    Image.fromarray(np.full((6, 6), 0.25, np.float32)).save(tmp_path / "f.tif")
    X, _, info = load_images(tmp_path, size=None, return_info=True)
    np.testing.assert_array_equal(X, 0.25)
    assert "floating point" in info["intensity"]
    assert info["bit_depth"] is None


# The other intensities -------------------------------------------------------


def test_dtype_divides_by_the_container_maximum(folders, shoes):
    X, _, info = load_image_folder(
        folders["12-bit"], intensity="dtype", return_info=True
    )
    X8 = load_image_folder(folders["original"])[0]
    np.testing.assert_allclose(X, X8 * 4095 / 65535, atol=1 / 65535)
    assert info["intensity"] == "16-bit, divided by 65535"
    assert info["bit_depth"] == 16


def test_bits_divides_by_the_given_depth_and_refuses_values_above(folders):
    X, _, info = load_image_folder(
        folders["12-bit"], intensity="bits:12", return_info=True
    )
    X_auto = load_image_folder(folders["12-bit"])[0]
    np.testing.assert_allclose(X, X_auto, atol=1e-7)
    assert info["intensity"] == "12-bit values in 16-bit files, divided by 4095"
    assert info["bit_depth"] == 12
    with pytest.raises(ValueError, match="outside the \\[0, 1023\\]") as excinfo:
        load_image_folder(folders["12-bit"], intensity="bits:10")
    assert ".png" in str(excinfo.value) and "'bits:16'" in str(excinfo.value)


def test_minmax_stretches_the_set_range(tmp_path):
    images = [np.full((6, 6), 1000, np.uint16), np.full((6, 6), 3000, np.uint16)]
    images[0][0, 0] = 2000
    _write_folder(tmp_path, images, ["a", "b"])
    X, _, info = load_image_folder(
        tmp_path, size=None, intensity="minmax", return_info=True
    )
    assert X.min() == 0 and X.max() == 1
    assert X[0, 0] == 0.5
    assert info["intensity"] == "the set's range [1000, 3000] stretched to [0, 1]"
    assert info["bit_depth"] is None and info["range"] == [1000, 3000]
    # A constant set has no range: it becomes 0, like a constant image
    # under "per-image".
    X = load_images(tmp_path / "a", size=None, intensity="minmax")[0]
    assert X.min() == 0 and X.max() == 1
    Image.fromarray(np.full((6, 6), 7, np.uint8)).save(tmp_path / "c.png")
    np.testing.assert_array_equal(
        load_images(tmp_path / "c.png", intensity="minmax")[0], 0
    )


def test_per_image_undoes_a_grey_background(folders):
    X_grey, _, info = load_image_folder(
        folders["grey"], intensity="per-image", return_info=True
    )
    X = load_image_folder(folders["original"], intensity="per-image")[0]
    assert info["intensity"] == "stretched per image"
    assert info["bit_depth"] is None
    np.testing.assert_array_equal(X_grey.min(axis=1), 0)
    np.testing.assert_array_equal(X_grey.max(axis=1), 1)
    # At half the contrast in 8 bits, the grey copy keeps every other level
    # of the original: stretched back, it differs by about two levels.
    np.testing.assert_allclose(X_grey, X, atol=3 / 255)


def test_per_image_turns_a_constant_image_to_0(tmp_path):
    Image.fromarray(np.full((6, 6), 90, np.uint8)).save(tmp_path / "flat.png")
    X = load_images(tmp_path, intensity="per-image")[0]
    np.testing.assert_array_equal(X, 0)


def test_a_grey_background_warns_and_per_image_fixes_it(folders, source):
    X, y = load_image_folder(folders["grey"])
    with pytest.warns(ImageConventionWarning, match="per-image"):
        _fit(source, X, y)
    X, y = load_image_folder(folders["grey"], intensity="per-image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageConventionWarning)
        _fit(source, X, y)


# invert ----------------------------------------------------------------------


def test_invert(folders):
    X = load_image_folder(folders["original"])[0]
    X_inv, _, info = load_image_folder(
        folders["original"], invert=True, return_info=True
    )
    np.testing.assert_allclose(X_inv, 1 - X, atol=1e-7)
    assert info["inverted"] is True


def test_invert_auto_inverts_a_bright_background_only(folders):
    X = load_image_folder(folders["original"])[0]
    X_bright, _, info = load_image_folder(
        folders["bright"], invert="auto", return_info=True
    )
    assert info["inverted"] is True
    assert np.abs(X_bright - X).max() <= 1 / 255
    X_dark, _, info = load_image_folder(
        folders["original"], invert="auto", return_info=True
    )
    assert info["inverted"] is False
    np.testing.assert_array_equal(X_dark, X)


# color -----------------------------------------------------------------------


def test_rgb_keeps_the_channels_last(tmp_path):
    red = np.zeros((6, 5, 3), np.uint8)
    red[..., 0] = 255
    green = np.zeros((6, 5, 3), np.uint8)
    green[..., 1] = 255
    green[0, 0] = (10, 20, 30)
    _write_folder(tmp_path, [red, green], ["a", "b"])
    X, y, info = load_image_folder(tmp_path, size=None, color="rgb", return_info=True)
    assert X.shape == (2, 6 * 5 * 3)
    assert info["channels"] == 3 and info["size"] == (6, 5)
    images = X.reshape(2, 6, 5, 3)
    np.testing.assert_array_equal(images[0, ..., 0], 1)
    np.testing.assert_array_equal(images[0, ..., 1:], 0)
    np.testing.assert_array_equal(images[1, 1:, :, 1], 1)
    np.testing.assert_allclose(images[1, 0, 0], np.array([10, 20, 30]) / 255)
    # Resized, each channel is resized alone.
    X_small = load_image_folder(tmp_path, size=(3, 3), color="rgb")[0]
    assert X_small.shape == (2, 27)
    np.testing.assert_array_equal(X_small.reshape(2, 3, 3, 3)[0, ..., 0], 1)
    # "gray" converts them to luma, as before.
    X_gray, _, info = load_image_folder(tmp_path, size=None, return_info=True)
    assert X_gray.shape == (2, 30) and info["channels"] == 1


def test_rgb_repeats_grey_images_on_three_channels(folders):
    X = load_image_folder(folders["12-bit"])[0]
    X_rgb = load_image_folder(folders["12-bit"], color="rgb")[0]
    assert X_rgb.shape == (len(X), 28 * 28 * 3)
    for channel in range(3):
        np.testing.assert_array_equal(X_rgb.reshape(-1, 28, 28, 3)[..., channel],
                                      X.reshape(-1, 28, 28))  # fmt: skip


def test_load_medmnist_rgb(tmp_path):
    rng = np.random.RandomState(0)
    rgb = rng.randint(0, 256, (4, 8, 8, 3)).astype(np.uint8)
    gray = rgb[..., 0]
    labels = np.arange(4)[:, None]
    arrays = {f"{s}_labels": labels for s in ("train", "val", "test")}
    np.savez(tmp_path / "rgb.npz", **arrays, **{
        f"{s}_images": rgb for s in ("train", "val", "test")})  # fmt: skip
    np.savez(tmp_path / "gray.npz", **arrays, **{
        f"{s}_images": gray for s in ("train", "val", "test")})  # fmt: skip
    X, _ = load_medmnist(tmp_path / "rgb.npz", color="rgb")
    np.testing.assert_array_equal(X * np.float32(255), rgb.reshape(4, -1))
    X, _ = load_medmnist(tmp_path / "rgb.npz", color="rgb", size=(4, 4))
    assert X.shape == (4, 4 * 4 * 3)
    np.testing.assert_allclose(
        X.reshape(4, 4, 4, 3)[:, 0, 0], rgb[:, :2, :2].mean(axis=(1, 2)) / 255,
        rtol=1e-5,
    )  # fmt: skip
    X, _ = load_medmnist(tmp_path / "gray.npz", color="rgb")
    np.testing.assert_array_equal(
        X.reshape(4, 8, 8, 3) * np.float32(255), np.repeat(gray[..., None], 3, -1)
    )
    with pytest.raises(ValueError, match="color must be 'gray'.*got 'RGB'"):
        load_medmnist(tmp_path / "gray.npz", color="RGB")


# return_info -----------------------------------------------------------------


def test_return_info_comes_last(folders):
    X, y, paths, info = load_image_folder(
        folders["original"], return_paths=True, return_info=True
    )
    assert len(paths) == len(X) == len(y) and isinstance(info, dict)
    X, paths, info = load_images(folders["original"] / "boot", return_info=True)
    assert len(paths) == len(X) and info["size"] == (28, 28)
    X, y, paths = load_image_folder(folders["original"], return_paths=True)
    assert isinstance(paths, list)


def test_the_paths_passed_are_not_modified(folders):
    files = sorted((folders["original"] / "boot").iterdir())[:3]
    given = list(files)
    load_images(given, intensity="per-image", invert="auto", color="rgb")
    assert given == files


# Bad values ------------------------------------------------------------------


def test_range_loads_new_images_with_the_range_minmax_found(tmp_path):
    # "minmax" decides over the images loaded together: one image alone
    # would be stretched by its own range. "range:LOW:HIGH" pins it.
    images = [np.full((6, 6), 1000, np.uint16), np.full((6, 6), 3000, np.uint16)]
    images[0][0, 0] = 2000
    _write_folder(tmp_path, images, ["a", "b"])
    X_set, _, info = load_image_folder(
        tmp_path, size=None, intensity="minmax", return_info=True
    )
    low, high = info["range"]
    X_one, _, one = load_images(
        tmp_path / "a", size=None, intensity=f"range:{low}:{high}", return_info=True
    )
    np.testing.assert_array_equal(X_one, X_set[:1])
    assert one["range"] == [1000, 3000] and one["bit_depth"] is None
    assert one["intensity"] == "the range [1000, 3000] stretched to [0, 1]"
    # Values outside the range are clipped; floats and negatives work too.
    X = load_images(tmp_path / "a", size=None, intensity="range:1500:1750")[0]
    assert X.min() == 0 and X.max() == 1
    np.save(tmp_path / "f.npy", np.zeros(1))  # not an image: ignored
    Image.fromarray(np.full((6, 6), -0.25, np.float32)).save(tmp_path / "f.tif")
    X = load_images(tmp_path / "f.tif", size=None, intensity="range:-0.5:0.5")[0]
    np.testing.assert_allclose(X, 0.25)


@pytest.mark.parametrize(
    "intensity",
    ["Auto", "bits", "bits:", "bits:0", "bits:33", "bits:12.5", "bits:x",
     "bits:-4", "bits: 12", "bits:１２", "per_image", 12, None, ("bits", 12),
     "range", "range:", "range:1", "range:5:5", "range:2:1", "range:a:b",
     "range:nan:1", "range:0:inf", "range:0:1:2"],
)  # fmt: skip
def test_a_bad_intensity_is_refused_with_the_valid_values(folders, intensity):
    for load in (load_image_folder, load_images):
        with pytest.raises(ValueError, match="intensity must be 'auto'") as excinfo:
            load(folders["original"], intensity=intensity)
        assert "'bits:12'" in str(excinfo.value)


@pytest.mark.parametrize("invert", ["yes", "Auto", 1, 0, None])
def test_a_bad_invert_is_refused(folders, invert):
    with pytest.raises(ValueError, match="invert must be False"):
        load_image_folder(folders["original"], invert=invert)


@pytest.mark.parametrize("color", ["grey", "RGB", "L", None, 3])
def test_a_bad_color_is_refused(folders, color):
    with pytest.raises(ValueError, match="color must be 'gray'"):
        load_images(folders["original"] / "boot", color=color)


def test_a_bad_return_info_is_refused(folders):
    with pytest.raises(ValueError, match="return_info must be True or False"):
        load_image_folder(folders["original"], return_info="yes")


def test_values_an_intensity_cannot_scale_are_refused_naming_the_fix(tmp_path):
    outside = tmp_path / "outside.tif"
    Image.fromarray(np.full((6, 6), 3.5, np.float32)).save(outside)
    with pytest.raises(ValueError, match="intensity='minmax'") as excinfo:
        load_images(outside)
    assert "outside.tif" in str(excinfo.value)
    np.testing.assert_array_equal(load_images(outside, intensity="minmax")[0], 0)

    with pytest.raises(ValueError, match="no bit depth"):
        load_images(outside, intensity="bits:8")

    nan = tmp_path / "nan.tif"
    Image.fromarray(np.full((6, 6), np.nan, np.float32)).save(nan)
    with pytest.raises(ValueError, match="not finite"):
        load_images(nan, intensity="minmax")

    negative = tmp_path / "negative.tif"
    Image.fromarray(np.full((6, 6), -5, np.int32)).save(negative)
    with pytest.raises(ValueError, match="negative.*intensity='minmax'"):
        load_images(negative)

    wide = tmp_path / "wide.tif"
    Image.fromarray(np.full((6, 6), 70000, np.int32)).save(wide)
    with pytest.raises(ValueError, match="more than 16 bits.*'bits:N'"):
        load_images(wide)
    with pytest.raises(ValueError, match="intensity='dtype' cannot scale"):
        load_images(wide, intensity="dtype")
    X, _, info = load_images(wide, intensity="bits:17", return_info=True)
    np.testing.assert_allclose(X, 70000 / (2**17 - 1))
    assert info["intensity"] == "17-bit values in 32-bit files, divided by 131071"


def test_invert_auto_refuses_images_too_small_to_have_a_border(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "tiny.png")
    with pytest.raises(ValueError, match="invert=True or invert=False"):
        load_images(tmp_path, size=None, invert="auto")


def _write_png16(path, samples, colour_type):
    """A PNG of 16-bit big-endian ``samples`` (height, width, channels),
    written by hand: Pillow writes no 16-bit colour PNG."""
    import struct
    import zlib

    height, width = samples.shape[:2]

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = samples.astype(">u2").reshape(height, -1).tobytes()
    stride = len(rows) // height
    raw = b"".join(b"\x00" + rows[r * stride : (r + 1) * stride] for r in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr))
        f.write(chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("colour_type, channels", [(2, 3), (4, 2), (6, 4)])
def test_16_bit_colour_pngs_load_on_their_16_bit_scale_with_a_warning(
    tmp_path, shoes, colour_type, channels
):
    # Pillow keeps only the high byte of these samples: read as 8-bit files,
    # 12-bit content came out 16 times too dark and was called "8-bit".
    values = shoes[0][0].astype(np.uint16) * 16  # 12-bit content
    samples = np.repeat(values[..., None], channels, axis=-1)
    if channels in (2, 4):
        samples[..., -1] = 65535  # opaque alpha, dropped
    _write_png16(tmp_path / "scan.png", samples, colour_type)
    with pytest.warns(UserWarning, match="only the high 8 bits"):
        X, info = load_images(tmp_path / "scan.png", size=None, return_info=True)[::2]
    assert info["bit_depth"] == 12 and "divided by 4095" in info["intensity"]
    expected = (values // 256 * 257).astype(np.float32) / 4095
    np.testing.assert_allclose(X[0], expected.ravel(), atol=2e-3)
    assert X.max() > 0.8  # the content's own range, not 1/16 of it
