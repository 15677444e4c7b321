"""Input checks and batched evaluation shared by every estimator."""

import numbers
import os
import re

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, validate_data

# Rows per chunk at prediction time: bounds the extra memory of predict,
# predict_proba and transform independently of n_samples.
PREDICT_BATCH_SIZE = 2048


def check_unit_interval(X, what="X"):
    """Raise a ValueError naming the fix if ``X`` has values outside [0, 1]."""
    if X.size == 0:
        return
    lo, hi = float(X.min()), float(X.max())
    if lo < 0.0 or hi > 1.0:
        # scikit-learn's wording for estimators tagged positive_only.
        negative = "Negative values in data: " if lo < 0.0 else ""
        raise ValueError(
            f"{negative}{what} must hold values in [0, 1] (binary visible units / "
            f"pixel intensities), but its values range over [{lo!r}, {hi!r}]. "
            "Scale it first, e.g. divide 8-bit images by 255 or put "
            "sklearn.preprocessing.MinMaxScaler(clip=True) before this "
            "estimator in a Pipeline."
        )


def _label_kind(value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def plain_labels(y):
    """An object array of labels as an array of one plain type; a
    ValueError naming the types when they are mixed (NumPy cannot order a
    mix of numbers and strings)."""
    y = np.asarray(y)
    if y.dtype != object:
        return y
    kinds = sorted({_label_kind(v) for v in y.ravel()})
    if len(kinds) > 1 and set(kinds) != {"int", "float"}:
        raise ValueError(
            f"y mixes labels of different types ({', '.join(kinds)}); give every "
            "label the same type, e.g. y.astype(str)."
        )
    if kinds in (["int"], ["float"], ["float", "int"], ["bool"]):
        return np.asarray(y.tolist())
    return y


def encode_labels(y):
    """``classes_`` and the integer code of each label."""
    y = plain_labels(y)
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"The target y holds only one class ({classes[0]!r}); a classifier "
            "needs samples of at least 2 classes."
        )
    return classes, codes.astype(np.intp)


def batched(func, X, batch_size=None):
    """Apply ``func`` to row chunks of ``X`` into one preallocated output, so
    the extra memory is one chunk, whatever the number of rows.
    ``batch_size`` None reads ``PREDICT_BATCH_SIZE`` at call time."""
    if batch_size is None:
        batch_size = PREDICT_BATCH_SIZE
    n = X.shape[0]
    if n <= batch_size:
        return func(X)
    first = func(X[:batch_size])
    out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
    out[:batch_size] = first
    for start in range(batch_size, n, batch_size):
        out[start : start + batch_size] = func(X[start : start + batch_size])
    return out


def check_source_input(source, stack, X):
    """Raise a ValueError naming the fix if the rows of ``X`` do not fit the
    input layer of the source network ``stack`` (its size) or the value range
    ``source`` requires (pixel intensities in [0, 1])."""
    n_expected = stack.layer_sizes[0]
    if X.shape[1] != n_expected:
        raise ValueError(
            f"X has {X.shape[1]} feature(s) but the source network expects "
            f"{n_expected}; resize the images to the source's input size (e.g. "
            "load_image_folder(path, size=(28, 28)) for a 28 x 28 source)."
        )
    if getattr(source, "_requires_unit_interval", False):
        check_unit_interval(X)


def as_integers(values, what):
    """``values`` (a number or a sequence of numbers) as a list of Python
    ints; a ValueError naming ``what`` if one is not an integer (a float such
    as 8.7 is refused, not truncated; 8.0 is accepted as 8)."""
    array = np.asarray(values, dtype=object)
    if array.ndim > 1:
        raise ValueError(f"{what} must be a flat sequence of integers, got {values!r}.")
    out = []
    for item in np.atleast_1d(array):
        if isinstance(item, (bool, np.bool_)):
            raise ValueError(
                f"{what} must hold integers, got the boolean {item!r} in {values!r}."
            )
        if isinstance(item, numbers.Integral):
            out.append(int(item))
        elif isinstance(item, numbers.Real) and float(item).is_integer():
            out.append(int(item))
        else:
            raise ValueError(
                f"{what} must hold integers, got {item!r} in {values!r}; pass "
                "whole numbers (a fraction is not rounded for you)."
            )
    return out


# scikit-learn's own wording for input that is not numbers; replaced by ours.
_NOT_NUMBERS = (
    "could not convert",
    "setting an array element with a sequence",
    "Expected 2D array, got scalar array",
    "Expected a 2-dimensional container but got",
    "argument must be a string or a",
)


def check_numeric_input(X, what="X"):
    """Refuse, naming the fix, input that is not an array of real numbers
    but that scikit-learn would turn into numbers silently (datetimes) or
    refuse in its own words (None, a string such as a file name)."""
    if X is None:
        raise ValueError(
            f"{what} is None; pass a 2-D array of numbers of shape (n_samples, "
            "n_features), e.g. images flattened to rows of pixel intensities."
        )
    if isinstance(X, (str, bytes, os.PathLike)):
        raise ValueError(
            f"{what} is a path or a string ({X!r}), not an array: load the data "
            "first (e.g. skalltransfer.datasets.load_image_folder or np.load)."
        )
    dtype = getattr(X, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind in "MmSUV":
        kind = {"M": "dates", "m": "time spans"}.get(np.dtype(dtype).kind, "strings")
        raise ValueError(
            f"{what} holds {kind} (dtype {np.dtype(dtype)}), not numbers; pass "
            "pixel intensities (or other real numbers)."
        )


def _numbers_error(exc, what):
    """Our message for scikit-learn's refusal ``exc`` of non-numeric input."""
    text = str(exc)
    found = re.search(r"could not convert string to float: (.*)", text)
    if found:
        problem = f"it holds text ({found.group(1).strip()}), not numbers"
    elif "sequence" in text or "inhomogeneous" in text:
        problem = (
            "its rows have different lengths, or some cells hold lists instead "
            "of numbers"
        )
    elif "scalar" in text:
        problem = "it is a single value, not a table of samples"
    else:
        problem = "it could not be read as a table of numbers"
    return ValueError(
        f"{what} must be a 2-D array of real numbers, one row per sample (e.g. "
        f"images flattened to rows of pixel intensities), but {problem}."
    )


def validated(estimator, X="no_validation", y="no_validation", **kwargs):
    """scikit-learn's ``validate_data``, with a message of ours for input
    that is not numbers."""
    if not isinstance(X, str) or X != "no_validation":
        check_numeric_input(X)
    try:
        return validate_data(estimator, X, y, **kwargs)
    except ValueError as exc:
        if any(phrase in str(exc) for phrase in _NOT_NUMBERS):
            raise _numbers_error(exc, "X") from None
        raise


def checked_array(X, what="X", **kwargs):
    """scikit-learn's ``check_array``, with a message of ours for input that
    is not numbers."""
    check_numeric_input(X, what)
    try:
        return check_array(X, **kwargs)
    except ValueError as exc:
        if any(phrase in str(exc) for phrase in _NOT_NUMBERS):
            raise _numbers_error(exc, what) from None
        raise


def as_path(path, what="path"):
    """``path`` (a str or os.PathLike) as a str; a TypeError for another
    type and a ValueError for an empty path or one holding a NUL byte, each
    naming ``what``."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"{what} must be a file path (a str or os.PathLike), got "
            f"{type(path).__name__}."
        ) from None
    if not path.strip():
        raise ValueError(f"{what} is an empty path; pass a file or folder path.")
    if "\0" in path:
        raise ValueError(f"{what} {path!r} contains a NUL byte, which no path can.")
    return path
