"""The source training data handle, and reading it from a ``.npz`` file.

:class:`SourceData` is opaque so that cross-validation never slices the
source set and ``clone`` never copies it; it holds a read-only copy of the
arrays, so its fingerprint (the key of cached sources) always describes its
data.
"""

import hashlib
import os
import zipfile
import zlib

import numpy as np
from sklearn.utils.validation import column_or_1d

from skalltransfer._archives import check_zip_sizes
from skalltransfer._core._validation import (
    check_unit_interval,
    checked_array,
    plain_labels,
)


class SourceData:
    """Source training data, passed by reference and fingerprinted.

    Give this to a transfer estimator's ``source_data`` parameter to let it
    fit an unfitted source model itself. Unlike a raw array, the handle is
    never sliced by cross-validation and never copied by ``clone``: every
    clone shares the same arrays.

    The handle keeps its own **read-only copy** of ``X`` and ``y``, made once
    when it is built: changing the arrays you passed afterwards does not
    change the source data (nor its fingerprint, the key of cached source
    models), so a cached source always matches the data the handle holds.
    Build a new ``SourceData`` to use new data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Source images, values in [0, 1].
    y : array-like of shape (n_samples,)
        Source labels (numbers, strings, or an object array of them, such as
        a pandas column of strings).

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The read-only copy of the source images.
    y : ndarray of shape (n_samples,)
        The read-only copy of the labels.
    fingerprint : str
        Hash of the data's content (values, not memory addresses, for object
        labels); part of the key of cached source models.

    Examples
    --------
    >>> from skalltransfer import SourceData
    >>> from skalltransfer.datasets import load_mnist
    >>> Xs, ys = load_mnist()
    >>> data = SourceData(Xs, ys)
    >>> data
    SourceData(n_samples=5000, n_features=784, n_classes=10)
    >>> data.X.flags.writeable
    False
    """

    def __init__(self, X, y):
        self._set(X, y, copy=True)

    def _set(self, X, y, copy):
        # copy=True: a copy that shares no memory with the caller's arrays
        # (check_array copies only once, also after a dtype conversion).
        X = checked_array(X, "SourceData X", dtype=(np.float32, np.float64), copy=copy)
        y = plain_labels(column_or_1d(y, warn=True))
        if copy:
            y = np.array(y, copy=True)
        if len(y) != X.shape[0]:
            raise ValueError(
                f"SourceData: X has {X.shape[0]} samples but y has {len(y)}."
            )
        check_unit_interval(X, "SourceData X")
        self._freeze(X, y)

    def _freeze(self, X, y):
        X.flags.writeable = False
        y.flags.writeable = False
        self._X = X
        self._y = y
        self._fingerprint = None

    @classmethod
    def from_npz(cls, path, X_key="X", y_key="y"):
        """Load source data from a ``.npz`` file with arrays ``X`` and ``y``.

        The file is read with ``allow_pickle=False``: it never runs code, and
        object arrays are refused. A missing ``path`` raises
        ``FileNotFoundError``, a folder ``IsADirectoryError``, and a file that
        is not a readable ``.npz`` a ``ValueError``.
        """
        X, y = read_npz(path, X_key, y_key)
        data = cls.__new__(cls)
        data._set(X, y, copy=False)  # freshly read: nobody else holds them
        return data

    @property
    def X(self):
        return self._X

    @property
    def y(self):
        return self._y

    @property
    def fingerprint(self):
        if self._fingerprint is None:
            h = hashlib.sha1()
            for a in (self._X, self._y):
                _hash_array(h, a)
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    @property
    def n_samples(self):
        return self._X.shape[0]

    # Shared by reference: clone (deepcopy) keeps one instance.
    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __getstate__(self):
        return {"X": self._X, "y": self._y, "fingerprint": self._fingerprint}

    def __setstate__(self, state):
        # Unpickled arrays are fresh (and writeable): nobody else holds them.
        self._freeze(np.asarray(state["X"]), np.asarray(state["y"]))
        self._fingerprint = state.get("fingerprint")

    def __repr__(self):
        n_classes = len(np.unique(self._y))
        return (
            f"SourceData(n_samples={self._X.shape[0]}, "
            f"n_features={self._X.shape[1]}, n_classes={n_classes})"
        )


def read_npz(path, X_key="X", y_key="y", key_hint="Pass X_key= and y_key="):
    """The arrays ``X_key`` and ``y_key`` of a ``.npz`` file, read without
    pickle, with a message of our own for a file that is not a readable
    ``.npz``, lacks a key (ending with ``key_hint``) or holds object arrays."""
    path = os.fspath(path)
    # zipfile.is_zipfile is False for a missing file or a folder too: say
    # what is wrong, not "corrupt".
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"'{path}': no such file; pass the path of a .npz file."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"'{path}' is a folder; pass the path of a .npz file in it."
        )
    # Opened first so that an unreadable file raises PermissionError, which
    # is_zipfile would turn into False.
    with open(path, "rb") as f:
        is_zip = zipfile.is_zipfile(f)
    if not is_zip:
        raise ValueError(
            f"'{path}' is not a .npz file (a zip archive written by "
            "numpy.savez); it is corrupt, truncated or of another format."
        )
    try:
        # Sizes first: a member may declare or inflate to far more than the
        # file holds.
        check_zip_sizes(path, f"'{path}'")
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in (X_key, y_key) if key not in data.files]
            if missing:
                raise ValueError(
                    f"'{path}' has no array(s) {missing}; it holds "
                    f"{sorted(data.files)}. {key_hint}"
                )
            arrays = [_npz_member(path, data, key) for key in (X_key, y_key)]
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ValueError(
            f"'{path}' is a corrupt or truncated .npz file ({exc})."
        ) from exc
    return tuple(arrays)


def _npz_member(path, data, key):
    """The array ``key`` of an open ``.npz`` file, with our messages for an
    object array, a damaged one, or a member that is not an array."""
    try:
        value = data[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(
                f"'{path}' holds object arrays, which are not loaded because "
                "unpickling them could run code; save the images as numbers and "
                "the labels as numbers or strings (e.g. y.astype(str))."
            ) from None
        raise ValueError(
            f"'{path}': the array '{key}' is damaged "
            f"({' '.join(str(exc).split())}); write the file again with "
            "numpy.savez."
        ) from exc
    if not isinstance(value, np.ndarray):
        # NumPy returns the raw bytes of a member that is not a .npy array.
        raise ValueError(
            f"'{path}': the member '{key}' is not a NumPy array; write the file "
            "with numpy.savez."
        )
    return value


def _hash_array(h, a):
    """Feed the shape, dtype and values of ``a`` to the hash ``h``."""
    h.update(str((a.shape, a.dtype.str)).encode())
    if a.dtype.hasobject:
        # The bytes of an object array are pointers, different for equal
        # arrays: hash each value's type and repr instead.
        for value in a.ravel():
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            h.update(f"{kind}:{value!r}\0".encode())
    else:
        h.update(np.ascontiguousarray(a).tobytes())
