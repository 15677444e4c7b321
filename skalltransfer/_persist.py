"""Saving and loading fitted models, by default without pickle.

``.skops`` files are written and read with :mod:`skops.io`, which rebuilds
objects from a JSON description and NumPy arrays and never unpickles: a
file can only produce instances of types the loader trusts. We trust
scikit-learn's own (skops' defaults) and this package's, computed from the
package itself rather than listed by hand:

- every estimator class defined in the package (subclasses of
  ``BaseEstimator`` whose module is ``skalltransfer.*``), so a new estimator
  is trusted as soon as it exists;
- every registered model family's class (a :class:`LayerStack` stores its
  family by name, so a family object normally never appears in a file);
- the non-estimator data types that fitted models hold, listed in
  ``_DATA_TYPES``.

``.joblib`` (pickle) files still work, but loading one runs whatever code it
holds, so :func:`load_model` refuses them unless ``allow_pickle=True``.
"""

import functools
import os
import pkgutil
import tempfile
import zipfile

from sklearn.base import BaseEstimator

from skalltransfer._archives import check_zip_sizes
from skalltransfer._core._families._base import _REGISTRY
from skalltransfer._core._fitted import check_fitted
from skalltransfer._core._stack import LayerStack
from skalltransfer._core._validation import as_path
from skalltransfer._source_cache._data import SourceData
from skalltransfer.transfer._base import Plan

__all__ = ["load_model", "save_model"]

_PACKAGE = __name__.split(".")[0]

#: Types other than estimators and families that a fitted model may hold.
_DATA_TYPES = (LayerStack, Plan, SourceData)

SKOPS_SUFFIXES = (".skops",)
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def _type_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@functools.cache
def _import_package():
    """Import every module of the package, so that every estimator class is
    defined (the package root does not import, e.g., ``active``)."""
    root = os.path.dirname(os.path.abspath(__file__))
    for info in pkgutil.walk_packages([root], prefix=f"{_PACKAGE}."):
        if info.name.endswith("__main__"):
            continue
        try:
            __import__(info.name)
        except ImportError:  # a module needing a missing optional dependency
            continue


def trusted_types():
    """Fully qualified names of this package's types that a saved model may
    hold and :func:`load_model` rebuilds.

    Returns
    -------
    names : list of str
    """
    _import_package()
    types = {
        cls
        for cls in _subclasses(BaseEstimator)
        if cls.__module__.split(".")[0] == _PACKAGE
    }
    types.update(type(family) for family in _REGISTRY.values())
    types.update(_DATA_TYPES)
    return sorted(_type_name(cls) for cls in types)


def _skops():
    try:
        import skops.io
    except ImportError as exc:  # pragma: no cover - skops is a dependency
        raise ImportError(
            "Saving and loading .skops models needs skops: pip install skops"
        ) from exc
    return skops.io


def is_skops_file(path):
    """Whether ``path`` holds a skops archive (a zip with ``schema.json``)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return "schema.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def model_format(path):
    """``"skops"`` or ``"joblib"``, from the suffix of ``path``."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in SKOPS_SUFFIXES:
        return "skops"
    if suffix in PICKLE_SUFFIXES:
        return "joblib"
    raise ValueError(
        f"Cannot tell the model format of '{os.fspath(path)}': name it *.skops "
        "(safe to load: no pickle) or *.joblib (a pickle)."
    )


def _untrusted(path):
    trusted = set(trusted_types())
    return [t for t in _skops().get_untrusted_types(file=path) if t not in trusted]


def save_model(model, path):
    """Save a fitted model; ``.skops`` files load without running any code.

    The format follows the suffix: ``.skops`` (:mod:`skops.io`, no pickle)
    or ``.joblib`` / ``.pkl`` (``joblib.dump``, a pickle). The file is
    written under a temporary name in the same directory and then renamed,
    so an interrupted save never leaves a truncated model.

    Parameters
    ----------
    model : object
        Usually a fitted estimator or a ``Pipeline``.
    path : str or os.PathLike
        Destination; its directory must exist.

    Raises
    ------
    ValueError
        If the suffix names no known format.
    TypeError
        For ``.skops``: if the model holds objects that :func:`load_model`
        would not trust (e.g. a ``joblib.Memory`` as ``source_memory``);
        nothing is written.

    See Also
    --------
    load_model : Load a model saved by this function.

    Examples
    --------
    >>> import tempfile, os
    >>> from skalltransfer import StackedAutoencoderClassifier, load_model, save_model
    >>> from skalltransfer.datasets import load_mnist
    >>> X, y = load_mnist()
    >>> clf = StackedAutoencoderClassifier(
    ...     (16,), pretrain_max_iter=1, max_iter=2, random_state=0
    ... ).fit(X[::10], y[::10])  # doctest: +SKIP
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> save_model(clf, path)  # doctest: +SKIP
    >>> (load_model(path).predict(X[:5]) == clf.predict(X[:5])).all()  # doctest: +SKIP
    np.True_
    """
    path = os.path.abspath(as_path(path, "path"))
    fmt = model_format(path)
    directory, name = os.path.split(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Cannot save the model to '{path}': the folder '{directory}' does "
            "not exist. Create it first (os.makedirs) or choose another path."
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise type(exc)(
            exc.errno,
            f"Cannot save the model to '{path}': the folder '{directory}' is "
            f"not writable ({exc.strerror}). Choose a folder you can write to",
        ) from None
    os.close(fd)
    try:
        if fmt == "skops":
            _skops().dump(model, tmp)
            untrusted = _untrusted(tmp)
            if untrusted:
                raise TypeError(
                    f"The model holds objects of types {untrusted}, which "
                    "load_model does not trust; remove them before saving (for "
                    "a transfer estimator: set_params(source_memory=None)), or "
                    "save as .joblib."
                )
        else:
            import joblib

            joblib.dump(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_model(path, *, allow_pickle=False):
    """Load a model saved by :func:`save_model` (or ``joblib.dump``).

    A ``.skops`` file is rebuilt by :mod:`skops.io` with this package's types
    and scikit-learn's trusted, and never runs code; a file holding any
    other type is refused with the list of those types, and a file named
    ``.skops`` that is not a skops archive is refused (never unpickled). Any
    other file is taken for a pickle (joblib): loading it runs whatever code
    it holds, so it is refused unless ``allow_pickle=True``. Load only pickles
    you trust.

    Parameters
    ----------
    path : str or os.PathLike
        The file to load: a ``.skops`` archive, or (with ``allow_pickle``)
        a joblib pickle.
    allow_pickle : bool, default=False
        Load a pickle (``.joblib``) file too.

    Returns
    -------
    model : object

    Raises
    ------
    ValueError
        If the file is a pickle and ``allow_pickle`` is False, if a skops
        file holds untrusted types, if a file named ``.skops`` is not a
        skops archive, or if the file cannot be read.

    See Also
    --------
    save_model : Save a fitted model.
    """
    path = as_path(path, "path")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: '{path}'.")
    is_skops = is_skops_file(path)
    if not is_skops and os.path.splitext(path)[1].lower() in SKOPS_SUFFIXES:
        # A file that claims to be safe is never unpickled, whatever it holds.
        raise ValueError(
            f"'{path}' is named .skops but is not a skops archive; it was not "
            "loaded. Save models with save_model(model, 'model.skops')."
        )
    if is_skops:
        sio = _skops()
        try:
            check_zip_sizes(path, f"'{path}'")
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise ValueError(f"'{path}' was not loaded: {exc}") from None
        try:
            untrusted = _untrusted(path)
            if not untrusted:
                model = sio.load(path, trusted=trusted_types())
        except Exception as exc:  # a damaged archive can raise almost anything
            raise ValueError(
                f"'{path}' is not a readable .skops model ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())})."
            ) from exc
        if untrusted:
            raise ValueError(
                f"'{path}' holds objects of types {untrusted}, which are neither "
                "skalltransfer's nor trusted by skops; it was not loaded. If you "
                "trust the file, load it with skops.io.load(path, trusted=[...])."
            )
        return _checked(model, path)
    if not allow_pickle:
        raise ValueError(
            f"'{path}' is not a .skops model; if it is a joblib or pickle file, "
            "loading it runs code stored in it. Load only files you trust, with "
            "load_model(path, allow_pickle=True)."
        )
    import joblib

    return _checked(joblib.load(path), path)


def _checked(model, path):
    """``model`` once every model of this package in it has the fitted
    state a fit makes (a crafted file must not reach the kernels)."""
    try:
        check_fitted(model)
    except ValueError as exc:
        raise ValueError(
            f"'{path}' was not loaded: {exc} Save models with save_model from "
            "a fit, and load only files you trust."
        ) from None
    return model
