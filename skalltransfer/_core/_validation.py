"""Input checks and batched evaluation shared by every estimator."""

import numbers

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

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


def encode_labels(y):
    """``classes_`` and the integer code of each label."""
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
    items = list(np.atleast_1d(np.asarray(values, dtype=object)).ravel())
    out = []
    for item in items:
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            out.append(int(item))
        elif isinstance(item, numbers.Real) and float(item).is_integer():
            out.append(int(item))
        else:
            raise ValueError(
                f"{what} must hold integers, got {item!r} in {values!r}; pass "
                "whole numbers (a fraction is not rounded for you)."
            )
    return out
