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


# Read size of a gzip stream: the data are read in chunks up to the size
# the header declares, never all at once.
_CHUNK = 1 << 20


def _check_file(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such IDX file: '{path}'.")
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"'{path}' is a directory; pass the path of an IDX file "
            "(e.g. 'train-images-idx3-ubyte.gz')."
        )


def _read_up_to(stream, n_bytes):
    """At most ``n_bytes`` of ``stream``: fewer only at its end."""
    buf = bytearray()
    while len(buf) < n_bytes:
        chunk = stream.read(min(_CHUNK, n_bytes - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _parse_header(path, head):
    """``(shape, header_size)`` from the first bytes ``head`` of an IDX file
    (at least 4, and the whole header when the file holds it)."""
    if len(head) < 4:
        raise ValueError(
            f"'{path}' is not an IDX file: it holds only {len(head)} bytes, "
            "fewer than the 4-byte magic number."
        )
    type_code, ndim = head[2], head[3]
    if head[0] != 0 or head[1] != 0 or ndim == 0 or type_code not in _IDX_TYPE_NAMES:
        magic = int.from_bytes(head[:4], "big")
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
    if len(head) < header_size:
        raise ValueError(
            f"'{path}' is truncated: its header declares {ndim} dimensions but "
            f"the file ends after {len(head)} bytes. Download it again."
        )
    shape = tuple(int(d) for d in np.frombuffer(head, ">u4", count=ndim, offset=4))
    return shape, header_size


def _size_error(path, shape, expected, actual):
    """The error for data of ``actual`` bytes where ``expected`` are declared
    (``actual`` None: more than declared, by an unknown amount)."""
    if actual is None:
        problem = "has unexpected trailing bytes"
        holds = "more"
    elif actual < expected:
        problem, holds = "is truncated", actual
    else:
        problem = f"has {actual - expected} unexpected trailing bytes"
        holds = actual
    return ValueError(
        f"'{path}' {problem}: its header declares shape {shape}, i.e. "
        f"{expected} data bytes, but the file holds {holds}. The file is "
        "corrupt; download it again."
    )


def _read_idx_array(path):
    """Return the unsigned-byte array stored in the IDX file ``path``.

    Only as many bytes as the header declares are read (and one more, to
    detect trailing data): a small gzip file that decompresses to gigabytes
    is refused without decompressing it.
    """
    path = _fspath(path, "IDX file path")
    _check_file(path)
    with open(path, "rb") as f:
        # Decide by content, not by extension: mirrors ship both gzipped files
        # without '.gz' and already-decompressed files that kept it.
        is_gzip = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        if not is_gzip:
            return _read_idx_stream(path, f, os.fstat(f.fileno()).st_size)
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return _read_idx_stream(path, g, None)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"Could not decompress the gzip file '{path}' ({exc}); it is "
                "corrupt or truncated. Download it again."
            ) from exc


def _read_idx_stream(path, stream, file_size):
    """The IDX array of ``stream``; ``file_size`` is its size in bytes, or
    None when unknown (a gzip stream)."""
    head = _read_up_to(stream, 4)
    if len(head) == 4 and head[0] == 0 and head[1] == 0:
        head += _read_up_to(stream, 4 * head[3])
    shape, header_size = _parse_header(path, head)
    expected = math.prod(shape)
    if file_size is not None:
        # The size is known: refuse a wrong one without reading the data.
        if file_size - header_size != expected:
            raise _size_error(path, shape, expected, file_size - header_size)
        buf = stream.read(expected)
    else:
        buf = _read_up_to(stream, expected + 1)
        if len(buf) > expected:
            raise _size_error(path, shape, expected, None)
    if len(buf) != expected:
        raise _size_error(path, shape, expected, len(buf))
    return np.frombuffer(buf, dtype=np.uint8).reshape(shape)


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
