"""Helpers shared by the dataset loaders."""

import os
import zipfile
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

# The bundled files are plain ``.npz`` archives whose members are LZMA-compressed
# (see ``tools/bundle_datasets.py`` in the source tree); ``np.load`` reads them
# through the standard library.
_DATA_DIR = "data"


def _to_float01(array, max_value=255):
    """Return ``array`` as float32 scaled to [0, 1] by dividing by ``max_value``."""
    out = np.asarray(array).astype(np.float32)
    out /= np.float32(max_value)
    return out


def _check_split(split, allowed):
    if not isinstance(split, str) or split not in allowed:
        allowed_str = ", ".join(repr(s) for s in allowed)
        raise ValueError(f"split must be one of {allowed_str}; got {split!r}.")
    return split


# Pixels per image a loader resizes to at most (4096 x 4096): a network on
# small data never takes more, and a typo must not allocate gigabytes.
MAX_PIXELS = 4096 * 4096


def _check_size(size):
    """Validate a ``(height, width)`` size; ``None`` means native size."""
    if size is None:
        return None
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(
            f"size must be a (height, width) pair of positive integers or None; "
            f"got {size!r}."
        ) from None
    for value in (height, width):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or value < 1
        ):
            raise ValueError(
                f"size must be a (height, width) pair of positive integers or "
                f"None; got {size!r}."
            )
    if int(height) * int(width) > MAX_PIXELS:
        raise ValueError(
            f"size={tuple(size)!r} asks for {int(height) * int(width)} pixels per "
            f"image, more than {MAX_PIXELS}; pass the size the network takes "
            "(e.g. (28, 28) for the bundled MNIST sources)."
        )
    return int(height), int(width)


def _load_bundled(filename, keys):
    """Read the arrays ``keys`` from a data file shipped with the package."""
    resource = resources.files(__package__).joinpath(_DATA_DIR).joinpath(filename)
    try:
        with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            missing = [key for key in keys if key not in npz.files]
            if missing:
                raise ValueError(
                    f"The bundled data file '{filename}' lacks the arrays {missing}; "
                    "it is corrupt. Reinstall skalltransfer."
                )
            return {key: npz[key] for key in keys}
    except FileNotFoundError:
        raise FileNotFoundError(
            f"The bundled data file '{filename}' is missing from the installed "
            "skalltransfer package. Reinstall skalltransfer, or regenerate the "
            "file with 'python tools/bundle_datasets.py --help' from a source checkout."
        ) from None
    except RuntimeError as exc:
        # zipfile raises RuntimeError when Python was built without lzma.
        raise ImportError(
            f"Reading the bundled data file '{filename}' needs Python's lzma "
            f"module, which this Python installation lacks ({exc}). Use a Python "
            "built with liblzma support (e.g. install the xz/liblzma development "
            "package and rebuild Python)."
        ) from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(
            f"The bundled data file '{filename}' is corrupt ({exc}). "
            "Reinstall skalltransfer."
        ) from exc


def _image_bunch(X, y, image_shape, target_names, descr, **extra):
    """Build the :class:`~sklearn.utils.Bunch` returned when return_X_y=False."""
    return Bunch(
        data=X,
        target=y,
        # A view: the flat and the 2-D forms share memory, as in load_digits.
        images=X.reshape((len(X),) + tuple(image_shape)),
        target_names=target_names,
        DESCR=descr,
        **extra,
    )


def _fspath(path, name="path"):
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(
            f"{name} must be a str or os.PathLike; got {type(path).__name__}."
        ) from None
