"""Fitted estimators as plain arrays and JSON: the disk cache of sources.

A cached source model is its fitted attributes, never a pickle, so reading
the cache can never run code:

- arrays (and NumPy scalars) go to ``arrays.npz``, read back with
  ``allow_pickle=False``;
- everything else (ints, floats, strings, None, lists, tuples, str-keyed
  dicts, the values of object arrays such as string labels, and where each
  array belongs) goes to ``entry.json``, with the SHA-256 of both files'
  content, the cache key and the estimator's class.

Restoring an entry sets those attributes on ``clone(estimator)`` of the
caller's own unfitted estimator: the class and parameters come from the
caller (the key covers them), only the fitted state from the file. An
attribute of any other type (a scikit-learn object, a function, ...) is
refused with an error naming it.

Layout: ``<location>/sources/<key>/{entry.json, arrays.npz}``. An entry is
written in a temporary directory next to it and renamed into place in one
step (``os.replace``), so readers see a whole entry or none.
"""

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib

import numpy as np
from sklearn.base import clone

from skalltransfer._archives import check_zip_sizes
from skalltransfer._core._fitted import check_fitted

# The entry layout and what a restored source holds; a change discards
# (and refits) older entries. 2: sources record input_statistics_.
FORMAT = 2
SUBDIR = "sources"
ENTRY_FILE = "entry.json"
ARRAYS_FILE = "arrays.npz"
_TMP_PREFIX = ".tmp-"
_KEY = re.compile(r"^[0-9a-f]{32,64}$")

# Element kinds of an object array that JSON keeps exactly.
_PLAIN = {bool: "bool", int: "int", float: "float", str: "str"}
_NUMPY_KINDS = "biufU"


class CorruptEntryError(ValueError):
    """A cache entry that is unreadable, truncated or not the expected one."""


# -- encoding -------------------------------------------------------------------
def _refuse(owner, path, value, what="fitted attribute"):
    raise TypeError(
        f"{owner}: the {what} {path} is a {type(value).__module__}."
        f"{type(value).__qualname__}, which the source cache does not store: it "
        "keeps arrays, lists or tuples of arrays and JSON values (numbers, "
        "strings, None, lists, str-keyed dicts) only."
    )


def _encode_item(value, owner, path):
    """One element of an object array, tagged with its exact type."""
    kind = _PLAIN.get(type(value))
    if kind is not None:
        return [kind, value]
    if value is None:
        return ["none", None]
    if isinstance(value, np.generic) and value.dtype.kind in _NUMPY_KINDS:
        return ["numpy", value.dtype.str, value.item()]
    _refuse(owner, path, value, "element of the object array")


def _decode_item(item):
    kind = item[0]
    if kind == "none":
        return None
    if kind == "numpy":
        return np.dtype(item[1]).type(item[2])
    for cls, name in _PLAIN.items():
        if name == kind:
            return cls(item[1])
    raise CorruptEntryError(f"unknown object-array element {item!r}")


def _encode(value, arrays, owner, path):
    """A JSON description of ``value``; arrays are added to ``arrays``."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            if value.dtype != object:
                _refuse(owner, path, value)
            items = [
                _encode_item(v, owner, f"{path}[{i}]")
                for i, v in enumerate(value.ravel())
            ]
            return {"object_array": items, "shape": list(value.shape)}
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"array": name}
    if isinstance(value, np.generic):
        if value.dtype.hasobject:
            _refuse(owner, path, value)
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return {"scalar": name}
    if value is None or type(value) in _PLAIN:
        return {"json": value}
    if type(value) in (list, tuple):
        kind = type(value).__name__
        return {
            kind: [
                _encode(v, arrays, owner, f"{path}[{i}]") for i, v in enumerate(value)
            ]
        }
    if type(value) is dict and all(type(k) is str for k in value):
        return {
            "dict": {
                k: _encode(v, arrays, owner, f"{path}[{k!r}]") for k, v in value.items()
            }
        }
    _refuse(owner, path, value)


def _decode(node, arrays):
    (kind,) = set(node) - {"shape"}
    content = node[kind]
    if kind == "json":
        return content
    if kind == "array":
        return arrays[content]
    if kind == "scalar":
        return arrays[content][()]
    if kind == "object_array":
        out = np.empty(len(content), dtype=object)
        for i, item in enumerate(content):
            out[i] = _decode_item(item)
        return out.reshape(node["shape"])
    if kind == "list":
        return [_decode(v, arrays) for v in content]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in content)
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in content.items()}
    raise CorruptEntryError(f"unknown node kind {kind!r}")


def fitted_state(estimator):
    """``(arrays, attributes)``: the fitted attributes of ``estimator`` (all
    instance attributes that are not constructor parameters) as named arrays
    and a JSON-able description.

    Raises
    ------
    TypeError
        Naming the first attribute that is neither an array, a list or tuple
        of arrays, nor JSON-able.
    """
    owner = type(estimator).__name__
    params = estimator.get_params(deep=False)
    arrays, attributes = {}, {}
    for name, value in vars(estimator).items():
        if name not in params:
            attributes[name] = _encode(value, arrays, owner, name)
    return arrays, attributes


def class_name(estimator):
    cls = type(estimator)
    return f"{cls.__module__}.{cls.__qualname__}"


# -- files ----------------------------------------------------------------------
def entry_dir(location, key):
    return os.path.join(location, SUBDIR, key)


def _digest(body, npz_bytes):
    h = hashlib.sha256()
    h.update(_canonical(body))
    h.update(npz_bytes)
    return h.hexdigest()


def _canonical(body):
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def write_entry(location, key, estimator, package_version):
    """Store the fitted ``estimator`` under ``key`` in ``location``.

    Returns the entry's directory. An entry another process wrote meanwhile
    is kept (both are fits of the same key).

    Raises
    ------
    TypeError
        If a fitted attribute cannot be stored (nothing is written).
    OSError
        If the directory cannot be written.
    """
    arrays, attributes = fitted_state(estimator)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    npz_bytes = buffer.getvalue()
    body = {
        "format": FORMAT,
        "key": key,
        "estimator": class_name(estimator),
        "package_version": package_version,
        "attributes": attributes,
    }
    entry = {"sha256": _digest(body, npz_bytes), "body": body}

    parent = os.path.join(location, SUBDIR)
    os.makedirs(parent, exist_ok=True)
    final = os.path.join(parent, key)
    tmp = tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{key}-", dir=parent)
    try:
        with open(os.path.join(tmp, ARRAYS_FILE), "wb") as f:
            f.write(npz_bytes)
        with open(os.path.join(tmp, ENTRY_FILE), "w", encoding="utf-8") as f:
            json.dump(entry, f)
        try:
            os.replace(tmp, final)
        except OSError:
            if not os.path.isdir(final):
                raise
            # Another process stored the same key first: keep its entry.
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _read_verified(location, key):
    """``(body, npz_bytes)`` of a whole, unaltered entry, None if absent.

    Raises CorruptEntryError otherwise; reads bytes and JSON only.
    """
    path = entry_dir(location, key)
    if not os.path.isdir(path):
        return None
    try:
        with open(os.path.join(path, ENTRY_FILE), encoding="utf-8") as f:
            entry = json.load(f)
        with open(os.path.join(path, ARRAYS_FILE), "rb") as f:
            npz_bytes = f.read()
        body, digest = entry["body"], entry["sha256"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CorruptEntryError(f"{type(exc).__name__}: {exc}") from None
    if _digest(body, npz_bytes) != digest:
        raise CorruptEntryError(
            "its content does not match its SHA-256 checksum (corrupt, "
            "truncated or modified)"
        )
    if body.get("format") != FORMAT or body.get("key") != key:
        raise CorruptEntryError("it was stored under another key or format")
    return body, npz_bytes


def has_entry(location, key):
    """Whether a whole, unaltered entry for ``key`` is stored (checksum
    verified, nothing constructed)."""
    try:
        return _read_verified(location, key) is not None
    except CorruptEntryError:
        return False


def read_entry(location, key, estimator):
    """The fitted model stored under ``key``, rebuilt on ``clone(estimator)``;
    None if there is no entry.

    Raises
    ------
    CorruptEntryError
        If the entry is corrupt, truncated, altered or holds another class.
    """
    found = _read_verified(location, key)
    if found is None:
        return None
    body, npz_bytes = found
    if body.get("estimator") != class_name(estimator):
        raise CorruptEntryError(
            f"it holds a {body.get('estimator')}, not a {class_name(estimator)}"
        )
    try:
        check_zip_sizes(io.BytesIO(npz_bytes), ARRAYS_FILE)
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        attributes = {
            name: _decode(node, arrays) for name, node in body["attributes"].items()
        }
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        raise CorruptEntryError(f"{type(exc).__name__}: {exc}") from exc
    unexpected = sorted(set(attributes) - fitted_attribute_names(estimator))
    if unexpected:
        raise CorruptEntryError(
            f"it sets {unexpected}, which are not fitted attributes of a "
            f"{type(estimator).__name__} (parameters come from the caller)"
        )
    fitted = clone(estimator)
    vars(fitted).update(attributes)
    try:
        check_fitted(fitted)
    except ValueError as exc:
        raise CorruptEntryError(str(exc)) from None
    return fitted


def fitted_attribute_names(estimator):
    """The attributes an entry may restore on ``estimator``'s class: those
    the class declares (``_fitted_attributes``), else scikit-learn's
    convention (a trailing underscore), minus anything the class defines
    itself (a method, a property) and the constructor parameters."""
    cls = type(estimator)
    declared = getattr(cls, "_fitted_attributes", None)
    if declared is not None:
        names = set(declared)
    else:
        names = {
            name
            for name in vars(estimator)
            if name.endswith("_") and not name.startswith("__")
        }
    params = set(estimator.get_params(deep=False))
    return {name for name in names if name not in params and not hasattr(cls, name)}


def remove_entry(location, key):
    """Delete the entry of ``key`` (if any)."""
    shutil.rmtree(entry_dir(location, key), ignore_errors=True)


def clear_entries(location):
    """Delete every entry (and leftover temporary directory) this module
    wrote under ``location``; other files are left alone. Returns the number
    of entries deleted."""
    parent = os.path.join(location, SUBDIR)
    if not os.path.isdir(parent):
        return 0
    n = 0
    for name in os.listdir(parent):
        path = os.path.join(parent, name)
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        if _KEY.match(name):
            shutil.rmtree(path, ignore_errors=True)
            n += 1
        elif name.startswith(_TMP_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
    try:
        os.rmdir(parent)  # only if nothing else is left in it
    except OSError:
        pass
    return n
