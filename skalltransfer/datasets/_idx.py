"""Reader for the IDX format used by MNIST, Fashion-MNIST, KMNIST and EMNIST."""

import gzip
import math
import os
import zlib

import numpy as np

from skalltransfer.datasets._base import _fspath, _to_float01

_GZIP_MAGIC = b"\x1f\x8b"

# IDX data-type codes (third byte of the magic number).
_IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short",
    0x0C: "int",
    0x0D: "float",
    0x0E: "double",
}


def _read_file_bytes(path):
    """Return the content of ``path``, transparently gunzipping it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such IDX file: '{path}'.")
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"'{path}' is a directory; pass the path of an IDX file "
            "(e.g. 'train-images-idx3-ubyte.gz')."
        )
    with open(path, "rb") as f:
        # Decide by content, not by extension: mirrors ship both gzipped files
        # without '.gz' and already-decompressed files that kept it.
        is_gzip = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        if not is_gzip:
            return f.read()
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return g.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"Could not decompress the gzip file '{path}' ({exc}); it is "
                "corrupt or truncated. Download it again."
            ) from exc


def _read_idx_array(path):
    """Return the unsigned-byte array stored in the IDX file ``path``."""
    path = _fspath(path, "IDX file path")
    buf = _read_file_bytes(path)
    if len(buf) < 4:
        raise ValueError(
            f"'{path}' is not an IDX file: it holds only {len(buf)} bytes, fewer "
            "than the 4-byte magic number."
        )
    type_code, ndim = buf[2], buf[3]
    if buf[0] != 0 or buf[1] != 0 or ndim == 0 or type_code not in _IDX_TYPE_NAMES:
        magic = int.from_bytes(buf[:4], "big")
        raise ValueError(
            f"'{path}' is not an IDX file: bad magic number 0x{magic:08X}. IDX "
            "files start with two zero bytes, a data-type code and the number of "
            "dimensions (e.g. 0x00000803 for MNIST images, 0x00000801 for "
            "labels). Check that you passed the right file."
        )
    if type_code != 0x08:
        raise ValueError(
            f"'{path}' stores {_IDX_TYPE_NAMES[type_code]} values (type code "
            f"0x{type_code:02X}); only unsigned-byte IDX files (type code 0x08), "
            "as used by MNIST-like datasets, are supported."
        )
    header_size = 4 + 4 * ndim
    if len(buf) < header_size:
        raise ValueError(
            f"'{path}' is truncated: its header declares {ndim} dimensions but "
            f"the file ends after {len(buf)} bytes. Download it again."
        )
    shape = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndim, offset=4))
    expected = math.prod(shape)
    actual = len(buf) - header_size
    if actual != expected:
        problem = (
            "is truncated"
            if actual < expected
            else f"has {actual - expected} unexpected trailing bytes"
        )
        raise ValueError(
            f"'{path}' {problem}: its header declares shape {shape}, i.e. "
            f"{expected} data bytes, but the file holds {actual}. The file is "
            "corrupt; download it again."
        )
    return np.frombuffer(buf, dtype=np.uint8, offset=header_size).reshape(shape)


def load_idx(images_file, labels_file=None):
    """Load images (and labels) stored in the IDX format.

    The IDX format is used by MNIST, Fashion-MNIST, KMNIST and EMNIST. Files may
    be gzip-compressed or not; compression is detected from the file content,
    not from its extension.

    Parameters
    ----------
    images_file : str or os.PathLike
        Path of an unsigned-byte IDX file holding ``n`` images, for instance
        ``train-images-idx3-ubyte.gz``. Any array with at least two dimensions
        is accepted; everything after the first dimension is flattened.

    labels_file : str or os.PathLike, default=None
        Path of the matching unsigned-byte IDX labels file, for instance
        ``train-labels-idx1-ubyte.gz``. If None, no labels are read.

    Returns
    -------
    X : ndarray of shape (n_samples, n_pixels), dtype=float32
        The images, flattened row by row and scaled to [0, 1] (divided by 255).
        A file whose header declares 0 images gives an empty
        ``(0, n_pixels)`` array.

    y : ndarray of shape (n_samples,), dtype=int64, or None
        The labels, or None when ``labels_file`` is None.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file is not a valid unsigned-byte IDX file (bad magic number,
        truncated or over-long content, corrupt gzip stream), or if the number
        of labels differs from the number of images.

    Notes
    -----
    EMNIST stores its images transposed (column by column). They are returned
    as stored; transpose each 28x28 image if you need them upright.

    Examples
    --------
    >>> from skalltransfer.datasets import load_idx
    >>> X, y = load_idx(
    ...     "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
    ... )  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (60000, 784)
    """
    images = _read_idx_array(images_file)
    if images.ndim < 2:
        raise ValueError(
            f"'{os.fspath(images_file)}' holds a 1-dimensional array of shape "
            f"{images.shape}, which looks like a labels file. Pass an images "
            "file as images_file and the labels file as labels_file."
        )
    labels = None
    if labels_file is not None:
        labels = _read_idx_array(labels_file)
        if labels.ndim != 1:
            raise ValueError(
                f"'{os.fspath(labels_file)}' holds an array of shape "
                f"{labels.shape}, but a labels file must be 1-dimensional. Did "
                "you swap images_file and labels_file?"
            )
        if len(labels) != len(images):
            raise ValueError(
                f"The images file '{os.fspath(images_file)}' holds {len(images)} "
                f"images but the labels file '{os.fspath(labels_file)}' holds "
                f"{len(labels)} labels. Make sure both files belong to the same "
                "dataset split."
            )
        labels = labels.astype(np.int64)
    # Explicit pixel count: reshape cannot infer -1 for a file of 0 images.
    n_pixels = math.prod(images.shape[1:])
    X = _to_float01(images.reshape(len(images), n_pixels), 255)
    return X, labels
