"""Tests for skalltransfer.datasets."""

import gzip
import os
import struct

import numpy as np
import pytest

from skalltransfer.datasets import (
    load_fashion_mnist,
    load_fashion_mnist_subset,
    load_idx,
    load_image_folder,
    load_images,
    load_medmnist,
    load_mnist,
    make_target_task,
)

FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _idx_bytes(array, type_code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write(path, content, gz=False):
    if gz:
        content = gzip.compress(content, mtime=0)
    path.write_bytes(content)
    return path


@pytest.fixture
def idx_data():
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(7, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, size=7).astype(np.uint8)
    return images, labels


def _check_images(X, n_samples, n_pixels=784):
    assert X.shape == (n_samples, n_pixels)
    assert X.dtype == np.float32
    assert X.min() >= 0.0
    assert X.max() <= 1.0


# Bundled data ----------------------------------------------------------------


def test_load_mnist_bundled():
    X, y = load_mnist()
    _check_images(X, 5000)
    assert y.dtype == np.int64
    assert y.shape == (5000,)
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    assert X.max() == 1.0
    # uint8 pixels divided by 255: every value is a multiple of 1/255.
    np.testing.assert_allclose(X * 255, np.round(X * 255), atol=1e-4)

    X2, y2 = load_mnist()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_load_mnist_bundled_bunch():
    bunch = load_mnist(return_X_y=False)
    assert bunch.images.shape == (5000, 28, 28)
    np.testing.assert_array_equal(bunch.images.reshape(5000, -1), bunch.data)
    np.testing.assert_array_equal(bunch.target_names, np.arange(10))
    assert "MNIST" in bunch.DESCR


def test_load_mnist_bundled_rejects_split():
    with pytest.raises(ValueError, match="only be used together with path"):
        load_mnist(split="test")


def test_load_fashion_mnist_subset():
    X, y = load_fashion_mnist_subset()
    _check_images(X, 12000)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 1200))

    X_test, y_test = load_fashion_mnist_subset(split="test")
    _check_images(X_test, 2000)
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 200))


def test_load_fashion_mnist_subset_bunch():
    bunch = load_fashion_mnist_subset(split="test", return_X_y=False)
    assert bunch.images.shape == (2000, 28, 28)
    assert list(bunch.target_names) == FASHION_CLASSES
    index = bunch.source_index
    assert index.shape == (2000,)
    assert np.all(np.diff(index) > 0)
    assert index.min() >= 0 and index.max() < 10000
    with pytest.raises(ValueError, match="split must be one of"):
        load_fashion_mnist_subset(split="val")


# IDX files -------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx(tmp_path, idx_data, gz):
    images, labels = idx_data
    suffix = ".gz" if gz else ""
    images_file = _write(tmp_path / f"img-idx3-ubyte{suffix}", _idx_bytes(images), gz)
    labels_file = _write(tmp_path / f"lbl-idx1-ubyte{suffix}", _idx_bytes(labels), gz)

    X, y = load_idx(images_file, labels_file)
    _check_images(X, 7)
    np.testing.assert_array_equal(X, images.reshape(7, -1) / np.float32(255))
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)

    X_only, y_none = load_idx(str(images_file))
    np.testing.assert_array_equal(X_only, X)
    assert y_none is None


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_with_zero_images(tmp_path, gz):
    # A valid header declaring 0 images gives empty arrays of the right shape.
    empty = np.zeros((0, 5, 4), dtype=np.uint8)
    images_file = _write(tmp_path / "img", _idx_bytes(empty), gz)
    labels_file = _write(tmp_path / "lbl", _idx_bytes(np.zeros(0, np.uint8)), gz)
    X, y = load_idx(images_file, labels_file)
    assert X.shape == (0, 20) and X.dtype == np.float32
    assert y.shape == (0,) and y.dtype == np.int64


def test_load_idx_detects_gzip_by_content(tmp_path, idx_data):
    images, _ = idx_data
    gzipped = _write(tmp_path / "images-idx3-ubyte", _idx_bytes(images), gz=True)
    raw = _write(tmp_path / "images-idx3-ubyte.gz", _idx_bytes(images))
    np.testing.assert_array_equal(load_idx(gzipped)[0], load_idx(raw)[0])


def test_load_idx_bad_magic(tmp_path, idx_data):
    images, _ = idx_data
    content = b"\x12\x34" + _idx_bytes(images)[2:]
    path = _write(tmp_path / "bad-idx3-ubyte", content)
    with pytest.raises(ValueError, match="bad magic number") as excinfo:
        load_idx(path)
    assert "bad-idx3-ubyte" in str(excinfo.value)


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_truncated(tmp_path, idx_data, gz):
    images, _ = idx_data
    path = _write(tmp_path / "short-idx3-ubyte", _idx_bytes(images)[:-10], gz)
    with pytest.raises(ValueError, match="is truncated") as excinfo:
        load_idx(path)
    assert "short-idx3-ubyte" in str(excinfo.value)


def test_load_idx_truncated_header(tmp_path):
    path = _write(tmp_path / "header-idx3-ubyte", bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated"):
        load_idx(path)
    path = _write(tmp_path / "tiny", b"\x00\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        load_idx(path)


def test_load_idx_trailing_bytes(tmp_path, idx_data):
    images, _ = idx_data
    path = _write(tmp_path / "long-idx3-ubyte", _idx_bytes(images) + b"\x00")
    with pytest.raises(ValueError, match="1 unexpected trailing bytes"):
        load_idx(path)


def test_load_idx_corrupt_gzip(tmp_path, idx_data):
    images, _ = idx_data
    content = gzip.compress(_idx_bytes(images), mtime=0)[:-20]
    path = _write(tmp_path / "cut-idx3-ubyte.gz", content)
    with pytest.raises(ValueError, match="Could not decompress") as excinfo:
        load_idx(path)
    assert "cut-idx3-ubyte.gz" in str(excinfo.value)


def test_load_idx_count_mismatch(tmp_path, idx_data):
    images, labels = idx_data
    images_file = _write(tmp_path / "img", _idx_bytes(images))
    labels_file = _write(tmp_path / "lbl", _idx_bytes(labels[:5]))
    with pytest.raises(ValueError, match="7 images but .* 5 labels"):
        load_idx(images_file, labels_file)


def test_load_idx_wrong_files(tmp_path, idx_data):
    images, labels = idx_data
    images_file = _write(tmp_path / "img", _idx_bytes(images))
    labels_file = _write(tmp_path / "lbl", _idx_bytes(labels))
    with pytest.raises(ValueError, match="looks like a labels file"):
        load_idx(labels_file)
    with pytest.raises(ValueError, match="must be 1-dimensional"):
        load_idx(images_file, images_file)
    float_file = _write(tmp_path / "float", _idx_bytes(labels, type_code=0x0D))
    with pytest.raises(ValueError, match="only unsigned-byte"):
        load_idx(float_file)
    with pytest.raises(FileNotFoundError, match="No such IDX file"):
        load_idx(tmp_path / "missing")


def _write_mnist_dir(directory, idx_data, gz=True):
    images, labels = idx_data
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", 7), ("t10k", 3)):
        _write(
            directory / f"{prefix}-images-idx3-ubyte{suffix}",
            _idx_bytes(images[:n]),
            gz,
        )
        _write(
            directory / f"{prefix}-labels-idx1-ubyte{suffix}",
            _idx_bytes(labels[:n]),
            gz,
        )


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_directory(tmp_path, idx_data, gz):
    _write_mnist_dir(tmp_path, idx_data, gz)
    X, y = load_mnist(tmp_path)
    _check_images(X, 7)
    X_test, y_test = load_mnist(tmp_path, split="test")
    _check_images(X_test, 3)
    np.testing.assert_array_equal(y_test, idx_data[1][:3])
    bunch = load_mnist(str(tmp_path), split="train", return_X_y=False)
    assert bunch.images.shape == (7, 28, 28)


def test_load_mnist_fashion_missing_files(tmp_path, idx_data):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_fashion_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="load_fashion_mnist_subset"):
        load_fashion_mnist(tmp_path, split="test")
    _write_mnist_dir(tmp_path, idx_data)
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist(tmp_path, split="validation")
    with pytest.raises(NotADirectoryError, match="load_idx"):
        load_mnist(tmp_path / "train-images-idx3-ubyte.gz")


def test_load_fashion_mnist_from_directory(tmp_path, idx_data):
    _write_mnist_dir(tmp_path, idx_data)
    bunch = load_fashion_mnist(tmp_path, split="test", return_X_y=False)
    assert bunch.data.shape == (3, 784)
    assert list(bunch.target_names) == FASHION_CLASSES


@pytest.fixture(scope="module")
def real_fashion_mnist():
    """The full Fashion-MNIST from its default location (Debian package)."""
    try:
        train = load_fashion_mnist(return_X_y=False)
        test = load_fashion_mnist(split="test", return_X_y=False)
    except FileNotFoundError as exc:
        # CI installs dataset-fashion-mnist, so the data must be there.
        if os.environ.get("CI"):
            pytest.fail(f"Fashion-MNIST must be installed on CI: {exc}")
        pytest.skip(f"Fashion-MNIST is not installed: {exc}")
    return train, test


def test_load_fashion_mnist_real(real_fashion_mnist):
    train, test = real_fashion_mnist
    _check_images(train.data, 60000)
    _check_images(test.data, 10000)
    np.testing.assert_array_equal(np.bincount(train.target), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test.target), np.full(10, 1000))
    assert list(train.target_names) == FASHION_CLASSES


@pytest.mark.parametrize("split", ["train", "test"])
def test_fashion_subset_matches_source(real_fashion_mnist, split):
    full = real_fashion_mnist[0 if split == "train" else 1]
    subset = load_fashion_mnist_subset(split=split, return_X_y=False)
    np.testing.assert_array_equal(full.data[subset.source_index], subset.data)
    np.testing.assert_array_equal(full.target[subset.source_index], subset.target)


# MedMNIST --------------------------------------------------------------------


def _medmnist_arrays(shape, n=(6, 4, 5), label_shape="column", seed=0):
    rng = np.random.RandomState(seed)
    arrays = {}
    for split, size in zip(("train", "val", "test"), n):
        arrays[f"{split}_images"] = rng.randint(0, 256, (size,) + shape).astype(
            np.uint8
        )
        labels = rng.randint(0, 3, size).astype(np.uint8)
        arrays[f"{split}_labels"] = (
            labels[:, None] if label_shape == "column" else labels
        )
    return arrays


def test_load_medmnist_grayscale(tmp_path):
    arrays = _medmnist_arrays((28, 28))
    path = tmp_path / "pneumoniamnist.npz"
    np.savez_compressed(path, **arrays)

    X, y = load_medmnist(path)
    _check_images(X, 6)
    np.testing.assert_array_equal(
        X * np.float32(255), arrays["train_images"].reshape(6, -1)
    )
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, arrays["train_labels"].ravel())

    X_val, y_val = load_medmnist(str(path), "val")
    _check_images(X_val, 4)
    X_test, _ = load_medmnist(path, split="test", size=(28, 28))
    _check_images(X_test, 5)


def test_load_medmnist_rgb_resized(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    arrays = _medmnist_arrays((64, 64, 3), label_shape="flat")
    path = tmp_path / "bloodmnist_64.npz"
    np.savez_compressed(path, **arrays)

    X_native, y = load_medmnist(path)
    _check_images(X_native, 6, 64 * 64)
    assert y.shape == (6,)
    X, _ = load_medmnist(path, size=(28, 28))
    _check_images(X, 6)

    # Grayscale conversion must match Pillow's "L" mode exactly.
    gray = np.stack(
        [np.asarray(Image.fromarray(im).convert("L")) for im in arrays["train_images"]]
    )
    np.testing.assert_array_equal(X_native * np.float32(255), gray.reshape(6, -1))
    # Downsampling averages areas: the mean intensity is nearly preserved.
    np.testing.assert_allclose(X.mean(axis=1), X_native.mean(axis=1), atol=0.02)


def test_load_medmnist_corrupt(tmp_path):
    arrays = _medmnist_arrays((28, 28))

    missing = tmp_path / "missing_keys.npz"
    np.savez(missing, images=arrays["train_images"])
    with pytest.raises(ValueError, match="lacks the arrays") as excinfo:
        load_medmnist(missing)
    assert "missing_keys.npz" in str(excinfo.value)

    multi = dict(arrays, train_labels=np.zeros((6, 14), dtype=np.uint8))
    np.savez(tmp_path / "chestmnist.npz", **multi)
    with pytest.raises(ValueError, match="multi-label"):
        load_medmnist(tmp_path / "chestmnist.npz")

    volumes = dict(arrays, train_images=np.zeros((6, 28, 28, 28), np.uint8))
    np.savez(tmp_path / "organmnist3d.npz", **volumes)
    with pytest.raises(ValueError, match="3-D MedMNIST datasets"):
        load_medmnist(tmp_path / "organmnist3d.npz")

    floats = dict(arrays, train_images=arrays["train_images"] / 255.0)
    np.savez(tmp_path / "floats.npz", **floats)
    with pytest.raises(ValueError, match="are uint8"):
        load_medmnist(tmp_path / "floats.npz")

    mismatch = dict(arrays, train_labels=arrays["train_labels"][:3])
    np.savez(tmp_path / "mismatch.npz", **mismatch)
    with pytest.raises(ValueError, match="6 train images but 3 train labels"):
        load_medmnist(tmp_path / "mismatch.npz")

    garbage = _write(tmp_path / "garbage.npz", b"not a numpy file at all")
    with pytest.raises(ValueError, match="garbage.npz"):
        load_medmnist(garbage)

    good = tmp_path / "good.npz"
    np.savez_compressed(good, **arrays)
    truncated = _write(tmp_path / "truncated.npz", good.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated.npz"):
        load_medmnist(truncated)

    with pytest.raises(FileNotFoundError, match="No such MedMNIST file"):
        load_medmnist(tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="split must be one of"):
        load_medmnist(good, split="validation")
    with pytest.raises(ValueError, match="size must be"):
        load_medmnist(good, size=28)


# Image files -----------------------------------------------------------------


@pytest.fixture
def image_folder(tmp_path):
    """A class-folder dataset with several formats and bit depths."""
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path / "dataset"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()

    ramp = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1))
    Image.fromarray(ramp).save(root / "cat" / "a_gray.png")
    rgb = np.zeros((40, 30, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(root / "cat" / "b_red.jpg", quality=95)
    rgb = rgb[:28, :28]
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"garbage")

    sixteen = np.full((28, 28), 32768, dtype=np.uint16)
    sixteen[0, 0] = 65535
    Image.fromarray(sixteen).save(root / "dog" / "c_16bit.png")
    Image.fromarray(sixteen).save(root / "dog" / "d_16bit.tif")
    Image.fromarray(rgb).save(root / "dog" / "E_rgb.PNG")
    return root


def test_load_image_folder(image_folder):
    X, y, paths = load_image_folder(image_folder, return_paths=True)
    _check_images(X, 5)
    assert y.dtype.kind == "U"
    assert y.tolist() == ["cat", "cat", "dog", "dog", "dog"]
    names = [os.path.basename(p) for p in paths]
    assert names == [
        "a_gray.png",
        "b_red.jpg",
        "E_rgb.PNG",
        "c_16bit.png",
        "d_16bit.tif",
    ]

    # 16-bit images are scaled by their bit depth, not clipped.
    for row in X[3:5]:
        assert row[0] == 1.0
        np.testing.assert_allclose(row[1:], 32768 / 65535, rtol=1e-6)
    # Pure red, converted with the ITU-R 601-2 luma weights (0.299 * 255).
    np.testing.assert_allclose(X[2], 76 / 255, atol=1e-6)
    # The JPEG is lossy; its luma stays close to the red value.
    np.testing.assert_allclose(X[1], 76 / 255, atol=0.05)

    X2, y2 = load_image_folder(str(image_folder))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_load_image_folder_sizes(image_folder):
    X, y = load_image_folder(image_folder, size=(8, 4))
    _check_images(X, 5, 32)

    # Extensions are matched case-insensitively, with or without the dot.
    X, y, paths = load_image_folder(
        image_folder, extensions=("TIF", ".jpg"), return_paths=True
    )
    assert y.tolist() == ["cat", "dog"]
    assert [os.path.basename(p) for p in paths] == ["b_red.jpg", "d_16bit.tif"]
    with pytest.raises(ValueError, match="same size") as excinfo:
        load_image_folder(image_folder, size=None)
    assert "b_red.jpg" in str(excinfo.value)
    X, paths = load_images(image_folder / "dog", size=None)
    _check_images(X, 3, 28 * 28)


def test_an_image_over_the_pixel_limit_is_too_large_not_corrupt(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("L", (30, 30), 128).save(path)
    # Pillow refuses images over twice MAX_IMAGE_PIXELS (30 x 30 > 2 x 400).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)
    with pytest.raises(ValueError, match="too large") as excinfo:
        load_images(path)
    assert "corrupt" not in str(excinfo.value)
    assert "MAX_IMAGE_PIXELS" in str(excinfo.value)


def test_load_image_folder_errors(image_folder, tmp_path):
    (image_folder / "dog" / "broken.png").write_bytes(b"\x00garbage bytes")
    with pytest.raises(ValueError, match="broken.png"):
        load_image_folder(image_folder)
    (image_folder / "dog" / "broken.png").unlink()

    (image_folder / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no image") as excinfo:
        load_image_folder(image_folder)
    assert "empty" in str(excinfo.value)

    flat = tmp_path / "flat"
    flat.mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(flat)
    (flat / "x.png").write_bytes((image_folder / "cat" / "a_gray.png").read_bytes())
    with pytest.raises(ValueError, match="load_images"):
        load_image_folder(flat)

    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "absent")
    with pytest.raises(ValueError, match="size must be"):
        load_image_folder(image_folder, size=(0, 28))


def test_load_images(image_folder, tmp_path):
    X, paths = load_images(image_folder / "dog")
    _check_images(X, 3)
    assert [os.path.basename(p) for p in paths] == [
        "E_rgb.PNG",
        "c_16bit.png",
        "d_16bit.tif",
    ]
    files = [image_folder / "dog" / "d_16bit.tif", image_folder / "cat" / "a_gray.png"]
    X_list, paths_list = load_images(files, size=(10, 12))
    _check_images(X_list, 2, 120)
    assert paths_list == [str(f) for f in files]
    X_one, paths_one = load_images(str(files[1]))
    _check_images(X_one, 1)
    assert paths_one == [str(files[1])]

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no image"):
        load_images(empty)
    with pytest.raises(ValueError, match="empty sequence"):
        load_images([])
    with pytest.raises(FileNotFoundError):
        load_images([files[0], tmp_path / "absent.png"])
    corrupt = _write(tmp_path / "corrupt.png", b"\x89PNG but not really")
    with pytest.raises(ValueError, match="corrupt.png"):
        load_images([corrupt])


# make_target_task ------------------------------------------------------------


@pytest.fixture
def labelled():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(5), [10, 8, 6, 4, 2])
    rng.shuffle(y)
    X = rng.rand(len(y), 3).astype(np.float32)
    return X, y


def test_make_target_task(labelled):
    X, y = labelled
    X_copy, y_copy = X.copy(), y.copy()
    X_sub, y_sub = make_target_task(X, y, [3, 0, 1], 4, random_state=0)

    assert X_sub.shape == (12, 3)
    assert X_sub.dtype == X.dtype
    assert y_sub.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y_sub), [4, 4, 4])
    # Each sample keeps its row, and new label i stands for classes[i].
    original = {tuple(row): label for row, label in zip(X, y)}
    mapped = [[3, 0, 1][label] for label in y_sub]
    assert [original[tuple(row)] for row in X_sub] == mapped
    assert len({tuple(row) for row in X_sub}) == 12

    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    X_sub[:] = -1
    np.testing.assert_array_equal(X, X_copy)


def test_make_target_task_no_relabel(labelled):
    X, y = labelled
    X_sub, y_sub = make_target_task(X, y, [4, 2], 2, random_state=1, relabel=False)
    assert sorted(y_sub.tolist()) == [2, 2, 4, 4]
    assert y_sub.dtype == y.dtype


def test_make_target_task_reproducible(labelled):
    X, y = labelled
    a = make_target_task(X, y, [0, 1, 2], 3, random_state=42)
    b = make_target_task(X, y, [0, 1, 2], 3, random_state=42)
    c = make_target_task(X, y, [0, 1, 2], 3, random_state=np.random.RandomState(42))
    for first, second in zip(a, b):
        np.testing.assert_array_equal(first, second)
    for first, second in zip(a, c):
        np.testing.assert_array_equal(first, second)
    draws = {
        make_target_task(X, y, [0], 3, random_state=s)[0].tobytes() for s in range(5)
    }
    assert len(draws) > 1


def test_make_target_task_string_labels():
    X = np.arange(12).reshape(6, 2)
    y = np.array(["b", "a", "b", "a", "c", "c"])
    X_sub, y_sub = make_target_task(X, y, ["c", "a"], 2, random_state=0)
    np.testing.assert_array_equal(X_sub, X[[1, 3, 4, 5]])
    np.testing.assert_array_equal(y_sub, [1, 1, 0, 0])


def test_make_target_task_errors(labelled):
    X, y = labelled
    with pytest.raises(ValueError, match="Class 9 does not occur"):
        make_target_task(X, y, [0, 9], 2)
    with pytest.raises(ValueError, match="Class 4 has only 2 samples"):
        make_target_task(X, y, [0, 4], 3)
    with pytest.raises(ValueError, match="duplicates"):
        make_target_task(X, y, [0, 0], 1)
    with pytest.raises(ValueError, match="at least one class"):
        make_target_task(X, y, [], 1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_per_class must be a positive"):
            make_target_task(X, y, [0], bad)
    with pytest.raises(ValueError, match="same number of samples"):
        make_target_task(X[:-1], y, [0], 1)
