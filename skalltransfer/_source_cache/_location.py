"""The user cache directory where trained source models are kept.

Training a source network on MNIST takes minutes; fine-tuning it to a small
target set takes seconds. Pass ``source_memory=get_cache_dir()`` to
:class:`AllTransferClassifier` and every source architecture is trained once
per machine, not once per script run. Sources are stored as plain arrays and
JSON (:mod:`skalltransfer._source_cache._store`), never as pickles.
"""

import os
import sys

from skalltransfer._core._validation import as_path
from skalltransfer._source_cache._cached_fit import forget_in_process_sources
from skalltransfer._source_cache._store import clear_entries

#: Environment variable that overrides the default cache directory.
CACHE_ENV_VAR = "SKALLTRANSFER_CACHE"

_APP_NAME = "skalltransfer"


def _platform_cache_dir():
    """The per-user cache directory this platform's conventions prescribe."""
    home = os.path.expanduser("~")
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, _APP_NAME, "Cache")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", _APP_NAME)
    # XDG Base Directory spec: a relative $XDG_CACHE_HOME is invalid and must
    # be ignored.
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(home, ".cache")
    return os.path.join(base, _APP_NAME)


def _resolve_cache_dir(path):
    if path is None:
        # An empty variable counts as unset, as in most shells' conventions.
        path = os.environ.get(CACHE_ENV_VAR) or _platform_cache_dir()
    path = as_path(path, "The cache directory")
    return os.path.abspath(os.path.expanduser(path))


def get_cache_dir(path=None):
    """Return the directory where trained source models are cached.

    The directory is created if needed. Pass it as the ``source_memory`` of
    :class:`AllTransferClassifier`: fitted sources are stored there, keyed by
    the source class, its parameters, the source data's fingerprint and the
    package version, so an unchanged source is trained only once. Each entry
    is the source's fitted arrays (``.npz``, read without pickle) and a JSON
    file with its other fitted values and a SHA-256 checksum: reading the
    cache never runs code, and a corrupt entry is discarded (with a warning)
    and retrained.

    Parameters
    ----------
    path : str, os.PathLike or None, default=None
        The directory to use. If None, the environment variable
        ``SKALLTRANSFER_CACHE`` is used when set (and not empty), else the
        platform's per-user cache directory:

        - Linux and other Unix: ``$XDG_CACHE_HOME/skalltransfer``, or
          ``~/.cache/skalltransfer`` when ``XDG_CACHE_HOME`` is not set;
        - macOS: ``~/Library/Caches/skalltransfer``;
        - Windows: ``%LOCALAPPDATA%\\skalltransfer\\Cache``.

        ``~`` is expanded.

    Returns
    -------
    path : str
        Absolute path of the (existing) cache directory.

    Raises
    ------
    NotADirectoryError
        If the path exists but is a file.
    PermissionError
        If the directory cannot be created.

    See Also
    --------
    clear_cache : Delete the cached source models.

    Examples
    --------
    >>> from skalltransfer import AllTransferClassifier, MPDBMClassifier, SourceData
    >>> from skalltransfer import get_cache_dir
    >>> from skalltransfer.datasets import load_mnist
    >>> clf = AllTransferClassifier(
    ...     MPDBMClassifier(random_state=0),
    ...     source_data=SourceData(*load_mnist()),
    ...     source_memory=get_cache_dir(),
    ... )  # doctest: +SKIP
    """
    path = _resolve_cache_dir(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(
            f"The skalltransfer cache path '{path}' exists but is a file. Remove "
            f"it, or choose another directory with path=... or the "
            f"{CACHE_ENV_VAR} environment variable."
        )
    try:
        os.makedirs(path, exist_ok=True)
    except PermissionError as exc:
        raise PermissionError(
            f"Cannot create the skalltransfer cache directory '{path}' ({exc}). "
            f"Choose a writable directory with path=... or the {CACHE_ENV_VAR} "
            "environment variable."
        ) from exc
    return path


def clear_cache(path=None):
    """Delete the source models cached on disk and in this process.

    Only what the cache itself wrote is deleted: the entries under the
    ``sources/`` sub-directory. Pointing ``path`` at a directory holding
    other files is safe. The directory is not created if it does not exist.

    Parameters
    ----------
    path : str, os.PathLike or None, default=None
        The cache directory, resolved as in :func:`get_cache_dir`.

    Returns
    -------
    path : str
        Absolute path of the cache directory that was cleared.

    See Also
    --------
    get_cache_dir : Where the cache lives.
    """
    path = _resolve_cache_dir(path)
    if os.path.isdir(path):
        clear_entries(path)
    # The in-process cache would otherwise keep serving the deleted models.
    forget_in_process_sources()
    return path
