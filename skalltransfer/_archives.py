"""Zip archives of NumPy arrays (``.npz``, ``.skops``) read safely: nothing
is decompressed before its sizes are checked."""

import math
import zipfile

import numpy as np

# A stored model is a few arrays: deflate shrinks float weights little, so a
# member that inflates far beyond its stored size is a bomb, not a model.
_MAX_INFLATION = 100
_ALWAYS_FINE = 1 << 24  # members under 16 MB are read whatever their ratio


def check_zip_sizes(file, what):
    """Refuse, before anything is decompressed, a zip archive (a ``.skops``
    file, an ``.npz`` of a cache entry or a data set) whose members inflate
    far beyond their stored size, or whose ``.npy`` headers declare more data
    than the member holds. ``file`` is a path or a binary file object."""
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            size, stored = info.file_size, max(info.compress_size, 1)
            if size > _ALWAYS_FINE and size > _MAX_INFLATION * stored:
                raise ValueError(
                    f"{what}: its member {info.filename!r} inflates to {size} bytes "
                    f"from {stored}, a decompression bomb, not data; it was not "
                    "read."
                )
            if info.filename.endswith(".npy"):
                with archive.open(info) as member:
                    _check_npy_header(member, size, info.filename, what)


def _check_npy_header(member, size, name, what):
    fmt = np.lib.format
    try:
        version = fmt.read_magic(member)
        read = (
            fmt.read_array_header_1_0
            if version == (1, 0)
            else (fmt.read_array_header_2_0)
        )
        shape, _, dtype = read(member)
    except (ValueError, OSError, EOFError):
        raise ValueError(
            f"{what}: its member {name!r} is not a NumPy array (damaged, or of "
            "another format); it was not read."
        ) from None
    if dtype.hasobject:
        return  # read only with pickle, which np.load refuses here
    declared = math.prod(shape) * dtype.itemsize
    if declared > size:
        raise ValueError(
            f"{what}: its member {name!r} declares an array of {declared} bytes "
            f"but holds {size}; it was not read."
        )
