"""Checks that a fitted model's state is what a fit makes.

A model read from a file or from the source cache is checked before it is
used: a crafted file must not make a kernel read outside an array, nor put
non-numbers into a network. Each check raises a ValueError naming the
attribute (``coefs_[0]``, ``network_.intercepts[1]``, ...) and what is wrong.
"""

import numbers
import re

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"a {type(value).__name__}"


def check_float_array(value, name, ndim, dtype=None, contiguous=True):
    """``value`` if it is a C-contiguous, finite float32/float64 array of
    ``ndim`` dimensions (of ``dtype`` when given), else a ValueError naming
    ``name``."""
    if not isinstance(value, np.ndarray) or value.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{name} must be a float32 or float64 array, but it is {_describe(value)}."
        )
    if dtype is not None and value.dtype != dtype:
        raise ValueError(
            f"{name} is {value.dtype} but the network's other arrays are "
            f"{np.dtype(dtype)}: the model was not written by a fit."
        )
    if value.ndim != ndim:
        raise ValueError(
            f"{name} has {value.ndim} dimension(s) where a fit makes {ndim}."
        )
    if contiguous and not value.flags.c_contiguous:
        raise ValueError(f"{name} is not a C-contiguous array, as a fit makes it.")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} holds values that are not finite (NaN or inf).")
    return value


def check_int(value, name, low=0):
    """``value`` if it is an int of at least ``low`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, but it is {_describe(value)}.")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}.")
    return int(value)


def check_numbers(values, name):
    """``values`` if it is a list (or tuple) of real numbers."""
    if not isinstance(values, (list, tuple)) or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"{name} must be a list of numbers, got {_describe(values)}.")
    return values


def check_arrays(values, name, ndim, dtype=None, contiguous=True):
    """``values`` if it is a non-empty list of arrays that pass
    :func:`check_float_array`, all of one dtype."""
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(
            f"{name} must be a non-empty list of arrays, but it is {_describe(values)}."
        )
    for k, value in enumerate(values):
        check_float_array(value, f"{name}[{k}]", ndim, dtype, contiguous)
        dtype = value.dtype
    return values


def check_layer_arrays(coefs, intercepts, visible=None, names=None, contiguous=True):
    """Check a network's weight arrays: lists of arrays of one float dtype,
    C order, finite values, each bias as long as its layer's output and the
    visible bias (if any) as long as the input. ``names`` are the three
    names used in messages (default ``coefs_``, ``intercepts_``,
    ``visible_intercept_``)."""
    coefs_name, intercepts_name, visible_name = names or (
        "coefs_",
        "intercepts_",
        "visible_intercept_",
    )
    check_arrays(coefs, coefs_name, 2, contiguous=contiguous)
    dtype = coefs[0].dtype
    check_arrays(intercepts, intercepts_name, 1, dtype, contiguous)
    if len(coefs) != len(intercepts):
        raise ValueError(
            f"{coefs_name} has {len(coefs)} layers but {intercepts_name} has "
            f"{len(intercepts)}."
        )
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"{intercepts_name}[{k}] has {b.shape[0]} entries but "
                f"{coefs_name}[{k}] has {W.shape[1]} output units: the model was "
                "not written by a fit."
            )
    if visible is not None:
        check_float_array(visible, visible_name, 1, dtype, contiguous)
        if visible.shape != (coefs[0].shape[0],):
            raise ValueError(
                f"{visible_name} has {visible.shape[0]} entries but "
                f"{coefs_name}[0] has {coefs[0].shape[0]} inputs."
            )


def checked_layers(build, coefs_name="coefs_"):
    """``build()`` (a function making or checking a :class:`LayerStack`),
    with the family's shape errors naming the weight array of the layer."""
    try:
        return build()
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        found = re.search(r"[Ll]ayer (\d+)", str(exc))
        where = f"{coefs_name}[{found.group(1)}]" if found else coefs_name
        raise ValueError(f"{where}: {exc}") from None


def check_stack(stack, prefix):
    """Check a :class:`LayerStack` held by a fitted model (e.g.
    ``network_``), its arrays named ``{prefix}.coefs[k]`` and so on."""
    from skalltransfer._core._families import Family

    if not isinstance(getattr(stack, "family", None), Family):
        raise ValueError(f"{prefix} has no known model family.")
    if not isinstance(getattr(stack, "config", None), dict):
        raise ValueError(f"{prefix}.config must be a dict.")
    names = (f"{prefix}.coefs", f"{prefix}.intercepts", f"{prefix}.visible_intercept")
    check_layer_arrays(stack.coefs, stack.intercepts, stack.visible_intercept, names)
    checked_layers(lambda: stack.family.check_layers(stack), names[0])


def check_n_features(stack, n_features, coefs):
    """The network's input size must be the model's ``n_features_in_``."""
    n_features = check_int(n_features, "n_features_in_", low=1)
    if stack.layer_sizes[0] != n_features:
        raise ValueError(
            f"{coefs}[0] takes {stack.layer_sizes[0]} inputs but the model "
            f"records n_features_in_={n_features}."
        )


def check_classes(classes, n_outputs=None):
    """``classes_`` must be a 1-D array of at least two distinct labels
    (``n_outputs`` of them when given)."""
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < 2:
        raise ValueError(
            f"classes_ must be a 1-D array of at least 2 labels, but it is "
            f"{_describe(classes)}."
        )
    if n_outputs is not None and len(classes) != n_outputs:
        raise ValueError(
            f"classes_ has {len(classes)} labels but the output layer has "
            f"{n_outputs} units."
        )


def check_statistics(stats):
    """``input_statistics_``: None, or a dict of the summaries of
    :func:`image_statistics`, each a finite float or None."""
    if stats is None:
        return
    keys = {"mean", "border", "contrast"}
    if not isinstance(stats, dict) or set(stats) != keys:
        raise ValueError(
            f"input_statistics_ must be a dict with keys {sorted(keys)}, got "
            f"{_describe(stats)}."
        )
    for key, value in stats.items():
        if value is not None and not (isinstance(value, float) and np.isfinite(value)):
            raise ValueError(f"input_statistics_[{key!r}] must be a finite float.")


def _check_own_attributes(obj):
    """Refuse instance attributes that hide what the class defines (a
    method, a property): a file can set any attribute, a fit never sets
    those."""
    shadowing = sorted(name for name in vars(obj) if hasattr(type(obj), name))
    if shadowing:
        raise ValueError(
            f"the {type(obj).__name__} in it sets {shadowing}, which its class "
            "defines (methods or properties): a fit never does that."
        )


def check_fitted(obj, _seen=None):
    """Check every model of this package held by ``obj`` (itself, the
    steps of a Pipeline, a search's best estimator, ...), recursively."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    check = getattr(type(obj), "_check_fitted_state", None)
    if check is not None:
        _check_own_attributes(obj)
        try:
            if obj.__sklearn_is_fitted__():
                check(obj)
        except (AttributeError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(
                f"the {type(obj).__name__} in it lacks a fitted attribute or holds "
                f"one of the wrong kind ({type(exc).__name__}: {exc})."
            ) from None
    if isinstance(obj, (list, tuple)):
        items = obj
    elif isinstance(obj, dict):
        items = obj.values()
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        items = vars(obj).values()
    else:
        return
    for item in items:
        if isinstance(item, (np.ndarray, str, bytes, numbers.Number)) or item is None:
            continue
        check_fitted(item, seen)
