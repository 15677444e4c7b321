"""Loader for MedMNIST ``.npz`` files."""

import os
import zipfile
import zlib

import numpy as np

from skalltransfer._archives import check_zip_sizes
from skalltransfer.datasets._base import _check_size, _check_split, _fspath
from skalltransfer.datasets._decode import resize, resize_gray
from skalltransfer.datasets._intensity import check_color

_SPLITS = ("train", "val", "test")
# Images are converted in chunks to bound the temporary memory.
_CHUNK = 1024


def _rgb_to_gray(images):
    """ITU-R 601-2 luma of uint8 RGB images, bit-identical to Pillow's "L"."""
    rgb = images.astype(np.uint32)
    # Pillow's fixed-point weights: 0.299, 0.587, 0.114 times 2**16, rounded.
    luma = rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471
    return ((luma + 0x8000) >> 16).astype(np.uint8)


def _member(npz, key, path, split):
    """The array ``key`` of the open MedMNIST file ``npz``, with our messages
    for an object array, a damaged member or one that is not an array."""
    try:
        value = npz[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(
                f"'{path}' holds {key} as an object array, which is not loaded "
                "because unpickling it could run code. MedMNIST files hold "
                "uint8 images and integer labels; convert the arrays to "
                "numbers and save the file again with numpy.savez."
            ) from None
        raise ValueError(
            f"Could not read the {split} split of '{path}' ({exc}); the file "
            "is corrupt or truncated. Download it again."
        ) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(
            f"Could not read the {split} split of '{path}' ({exc}); the file "
            "is corrupt or truncated. Download it again."
        ) from exc
    if not isinstance(value, np.ndarray):
        # NumPy returns the raw bytes of a member that is not a .npy array.
        raise ValueError(
            f"'{path}': the member '{key}' is not a NumPy array, so this is "
            "not a MedMNIST file. MedMNIST files are written by numpy.savez."
        )
    return value


def load_medmnist(npz_path, split="train", *, size=None, color="gray"):
    """Load one split of a 2-D MedMNIST dataset from its ``.npz`` file.

    MedMNIST (https://medmnist.com) distributes each dataset as a single
    ``.npz`` file, for instance ``pneumoniamnist.npz`` or
    ``bloodmnist_64.npz``, with the arrays ``train_images``, ``train_labels``,
    ``val_images``, ``val_labels``, ``test_images`` and ``test_labels``.
    Nothing is downloaded: pass the path of a file you already have.

    Parameters
    ----------
    npz_path : str or os.PathLike
        Path of the MedMNIST ``.npz`` file.

    split : {"train", "val", "test"}, default="train"
        Which split to load.

    size : (int, int) or None, default=None
        Output ``(height, width)``, e.g. ``(28, 28)`` to bring the 64, 128 or
        224 pixel MedMNIST+ images to the 28 x 28 size of MNIST. Images are
        shrunk by area averaging (Pillow's ``BOX`` filter) and enlarged by
        bilinear interpolation; resizing requires Pillow. If None, the native
        size is kept.

    color : {"gray", "rgb"}, default="gray"
        ``"gray"`` converts RGB datasets (BloodMNIST, DermaMNIST, ...) to
        grayscale with the ITU-R 601-2 luma transform, exactly as Pillow's
        ``"L"`` mode does; ``"rgb"`` keeps their three channels, for a source
        fitted on colour images, and repeats the grey of grayscale datasets
        on three channels.

    Returns
    -------
    X : ndarray of shape (n_samples, height * width * channels), dtype=float32
        Flattened images scaled to [0, 1] (8-bit values divided by 255):
        one channel with ``color="gray"``; with ``color="rgb"`` three,
        channels last, each row an image of shape (height, width, 3).

    y : ndarray of shape (n_samples,), dtype=int64
        Class labels.

    Raises
    ------
    FileNotFoundError
        If ``npz_path`` does not exist.
    ValueError
        If ``color`` is not ``"gray"`` or ``"rgb"``, if the file is not a
        valid MedMNIST ``.npz`` file (missing arrays, unexpected shapes or
        dtypes), or if it holds a multi-label task such as ChestMNIST, or 3-D
        volumes: only single-label 2-D datasets are supported.
    ImportError
        If ``size`` requires resizing and Pillow is not installed.

    Examples
    --------
    >>> from skalltransfer.datasets import load_medmnist
    >>> X, y = load_medmnist(
    ...     "pneumoniamnist_64.npz", "train", size=(28, 28)
    ... )  # doctest: +SKIP
    """
    path = _fspath(npz_path, "npz_path")
    split = _check_split(split, _SPLITS)
    size = _check_size(size)
    color = check_color(color)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No such MedMNIST file: '{path}'. Download the dataset's .npz file "
            "from https://medmnist.com (e.g. with the 'medmnist' package) and "
            "pass its path."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"'{path}' is a folder; pass the path of a MedMNIST .npz file, "
            "e.g. 'pneumoniamnist.npz'."
        )
    images_key, labels_key = f"{split}_images", f"{split}_labels"
    if zipfile.is_zipfile(path):
        # Sizes first: a member may declare or inflate to far more than the
        # file holds.
        check_zip_sizes(path, f"'{path}'")
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        # np.load raises ValueError for files that are neither .npy nor .npz.
        raise ValueError(
            f"Could not read '{path}' as a .npz file ({exc}); it is corrupt, "
            "truncated or not a MedMNIST file."
        ) from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(
            f"'{path}' is a .npy file holding a single array, not a MedMNIST "
            ".npz archive."
        )
    with npz:
        missing = [key for key in (images_key, labels_key) if key not in npz.files]
        if missing:
            raise ValueError(
                f"'{path}' is not a MedMNIST file: it lacks the arrays {missing} "
                f"(it holds {sorted(npz.files)}). MedMNIST files hold "
                "train_images, train_labels, val_images, val_labels, test_images "
                "and test_labels."
            )
        images = _member(npz, images_key, path, split)
        labels = _member(npz, labels_key, path, split)

    if images.dtype != np.uint8:
        raise ValueError(
            f"'{path}' has {images_key} of dtype {images.dtype}; MedMNIST images "
            "are uint8."
        )
    if images.ndim == 4 and images.shape[-1] in (1, 3):
        rgb = images.shape[-1] == 3
        if not rgb:
            images = images[..., 0]
    elif images.ndim == 3:
        rgb = False
    else:
        raise ValueError(
            f"'{path}' has {images_key} of shape {images.shape}; expected "
            "(n, height, width) grayscale or (n, height, width, 3) RGB images. "
            "3-D MedMNIST datasets (volumes such as OrganMNIST3D) are not "
            "supported."
        )
    if 0 in images.shape[1:3]:
        raise ValueError(
            f"'{path}' has {images_key} of shape {images.shape}: images without "
            "pixels; the file is corrupt."
        )
    if labels.ndim == 2 and labels.shape[1] > 1:
        raise ValueError(
            f"'{path}' holds a multi-label task ({labels_key} has shape "
            f"{labels.shape}, e.g. ChestMNIST); only single-label (binary or "
            "multi-class) tasks are supported."
        )
    if labels.ndim not in (1, 2) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"'{path}' has {labels_key} of shape {labels.shape} and dtype "
            f"{labels.dtype}; expected integer labels of shape (n,) or (n, 1)."
        )
    labels = labels.reshape(-1)
    if labels.size and (
        labels.min() < np.iinfo(np.int64).min or labels.max() > np.iinfo(np.int64).max
    ):
        raise ValueError(
            f"'{path}' has {labels_key} outside the range of int64 (largest "
            f"{labels.max()}); MedMNIST labels are small class indices, so the "
            "file is corrupt."
        )
    if len(labels) != len(images):
        raise ValueError(
            f"'{path}' holds {len(images)} {split} images but {len(labels)} "
            f"{split} labels; the file is corrupt."
        )

    out_shape = images.shape[1:3] if size is None else size
    channels = 3 if color == "rgb" else 1
    X = np.empty(
        (len(images), out_shape[0] * out_shape[1] * channels), dtype=np.float32
    )
    for start in range(0, len(images), _CHUNK):
        chunk = images[start : start + _CHUNK]
        if rgb and color == "gray":
            chunk = _rgb_to_gray(chunk)
        chunk = chunk.astype(np.float32) / np.float32(255)
        if size is not None and chunk.shape[1:3] != size:
            resize_one = resize if chunk.ndim == 4 else resize_gray
            chunk = np.stack([resize_one(image, size) for image in chunk])
        if color == "rgb" and not rgb:
            chunk = np.repeat(chunk[..., None], 3, axis=-1)
        X[start : start + len(chunk)] = chunk.reshape(len(chunk), -1)
    return X, labels.astype(np.int64)
