"""Loaders for image files: class folders and unlabelled images."""

import os

import numpy as np

from skalltransfer.datasets._base import _check_size, _fspath
from skalltransfer.datasets._decode import decode, resize
from skalltransfer.datasets._intensity import (
    EIGHT_BIT,
    FLOAT,
    INTEGER,
    auto_depth,
    check_color,
    check_flag,
    check_intensity,
    check_invert,
    depth_phrase,
    scale_now,
    should_invert,
    stretch,
)

DEFAULT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class _ImageSet:
    """Reads images one by one into rows of X and scales them; what depends
    on the whole set (the bit depth of ``"auto"``, the range of
    ``"minmax"``, ``invert="auto"``) is applied by :meth:`finish`."""

    def __init__(self, paths, size, options):
        self.paths, self.size = paths, size
        self.mode, self.bits, self.invert, self.color = options
        self.X = self.shape = None
        # Rows left in raw integer values for "auto", with what decides
        # their bit depth.
        self.deferred, self.high, self.path_of_high = [], -1, None
        self.header_depths, self.containers = [], {EIGHT_BIT: set(), INTEGER: set()}
        self.divisors = {}  # kind -> set of divisors applied image by image
        self.kinds = set()

    def read(self, i, path):
        pixels, kind, container, header_bits = decode(path, self.color)
        self.kinds.add(kind)
        if kind in self.containers:
            self.containers[kind].add(container)
        values, divisor = scale_now(
            pixels, kind, path, self.mode, self.bits, header_bits
        )
        if divisor is not None:
            self.divisors.setdefault(kind, set()).add(
                (float(divisor), header_bits, container)
            )
        elif kind == INTEGER and self.mode == "auto":
            self.deferred.append(i)
            if header_bits is not None:
                self.header_depths.append(header_bits)
            high = int(pixels.max()) if pixels.size else 0
            if high > self.high:
                self.high, self.path_of_high = high, path
        if self.size is not None:
            values = resize(values, self.size, clip=divisor is not None)
        if self.mode == "per-image":
            values = np.array(values, dtype=np.float32)
            stretch(values)
        if self.color == "rgb" and values.ndim == 2:
            values = np.repeat(values[..., None], 3, axis=-1)
        self._store(i, path, values)

    def _store(self, i, path, values):
        if self.X is None:
            self.shape = values.shape
            self.X = np.empty((len(self.paths), values.size), dtype=np.float32)
        elif values.shape != self.shape:
            raise ValueError(
                f"The image '{path}' has shape {values.shape} but "
                f"'{self.paths[0]}' has shape {self.shape}; with size=None all "
                "images must have the same size. Pass size=(height, width) to "
                "resize them."
            )
        self.X[i] = values.ravel()

    def finish(self):
        """Scale what depends on the set; return ``(X, info)``."""
        X, phrases, depths, value_range = self.X, [], set(), None
        if self.mode == "auto":
            if EIGHT_BIT in self.kinds:
                phrases.append("8-bit, divided by 255")
                depths.add(8)
            if self.deferred:
                depth = auto_depth(self.high, self.header_depths, self.path_of_high)
                rows = X[self.deferred]
                rows /= np.float32(2**depth - 1)
                np.clip(rows, 0.0, 1.0, out=rows)
                X[self.deferred] = rows
                phrases.append(depth_phrase(depth, self.containers[INTEGER]))
                depths.add(depth)
            if FLOAT in self.kinds:
                phrases.append("floating point, already in [0, 1], kept as they are")
        elif self.mode == "dtype":
            phrases.extend(self._dtype_phrases(depths))
        elif self.mode == "bits":
            containers = set().union(*self.containers.values())
            phrases.append(depth_phrase(self.bits, containers))
            depths.add(self.bits)
        elif self.mode == "minmax":
            low, high = stretch(X)
            phrases.append(f"the set's range [{low:g}, {high:g}] stretched to [0, 1]")
            value_range = [low, high]
        elif self.mode == "range":
            low, high = self.bits
            phrases.append(f"the range [{low:g}, {high:g}] stretched to [0, 1]")
            value_range = [low, high]
        else:
            phrases.append("stretched per image")
        h, w = self.shape[:2]
        channels = 3 if self.color == "rgb" else 1
        inverted = self.invert is True or (
            self.invert == "auto" and should_invert(X, (h, w, channels))
        )
        if inverted:
            np.subtract(np.float32(1), X, out=X)
        info = {
            "size": (int(h), int(w)),
            "channels": channels,
            "intensity": "; ".join(phrases),
            "bit_depth": depths.pop() if len(depths) == 1 else None,
            "range": value_range,
            "inverted": bool(inverted),
        }
        return X, info

    def _dtype_phrases(self, depths):
        phrases = []
        if EIGHT_BIT in self.kinds:
            phrases.append("8-bit, divided by 255")
            depths.add(8)
        for divisor, _, container in sorted(self.divisors.get(INTEGER, ())):
            depth = int(divisor + 1).bit_length() - 1
            depths.add(depth)
            phrase = depth_phrase(depth, [container])
            if phrase not in phrases:
                phrases.append(phrase)
        if FLOAT in self.kinds:
            phrases.append("floating point, already in [0, 1], kept as they are")
        return phrases


def _check_options(intensity, invert, color, return_info):
    """The loaders' options, checked before any file is read:
    ``(intensity mode, bits, invert, color)``."""
    mode, bits = check_intensity(intensity)
    invert = check_invert(invert)
    color = check_color(color)
    check_flag(return_info, "return_info")
    return mode, bits, invert, color


def _read_images(paths, size, options=("auto", None, False, "gray")):
    """Read ``paths`` into an (n_images, n_values) float32 array in [0, 1]:
    ``(X, info)``, ``info`` saying what was done to the images. ``options``
    comes from :func:`_check_options`."""
    images = _ImageSet(paths, size, options)
    for i, path in enumerate(paths):
        images.read(i, path)
    return images.finish()


def _check_extensions(extensions):
    if isinstance(extensions, str):
        extensions = (extensions,)
    if not isinstance(extensions, (list, tuple, set, frozenset)) or not all(
        isinstance(ext, str) for ext in extensions
    ):
        raise ValueError(
            "extensions must be a file extension or a sequence of them, e.g. "
            f"('.png', '.tif'); got {extensions!r}."
        )
    normalized = tuple(
        ext.lower() if ext.startswith(".") else "." + ext.lower() for ext in extensions
    )
    if not normalized:
        raise ValueError("extensions must list at least one file extension.")
    return normalized


def _list_images(directory, extensions):
    """Sorted image files directly inside ``directory``; hidden files skipped."""
    # Hidden files include macOS '._name.png' resource forks, which are not
    # images despite their extension.
    return [
        os.path.join(directory, name)
        for name in sorted(os.listdir(directory))
        if not name.startswith(".")
        and name.lower().endswith(extensions)
        and os.path.isfile(os.path.join(directory, name))
    ]


def _check_directory(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such directory: '{path}'.")
    if not os.path.isdir(path):
        raise NotADirectoryError(
            f"'{path}' is not a directory. Pass the folder that holds one "
            "sub-folder per class; to read single image files use load_images()."
        )


def load_image_folder(
    path,
    size=(28, 28),
    *,
    extensions=DEFAULT_EXTENSIONS,
    return_paths=False,
    intensity="auto",
    invert=False,
    color="gray",
    return_info=False,
):
    """Load a labelled image dataset stored as one sub-folder per class.

    The layout is the one used by many image tools::

        path/
            class_a/
                img001.png
                img002.png
            class_b/
                img003.tif

    Each image is converted to grayscale (or kept in colour with
    ``color="rgb"``), resized to ``size`` and scaled to [0, 1] by what it
    holds (``intensity``). Requires Pillow (``pip install pillow``).

    Parameters
    ----------
    path : str or os.PathLike
        Root directory. Each non-hidden sub-directory is a class, named after
        the sub-directory; files directly inside it are its samples (deeper
        sub-directories are ignored).

    size : (int, int) or None, default=(28, 28)
        Output ``(height, width)``. Images are shrunk by area averaging and
        enlarged by bilinear interpolation. If None, images keep their size,
        which must then be the same for all of them.

    extensions : tuple of str, default=(".png", ".jpg", ".jpeg", ".tif", \
".tiff", ".bmp")
        File extensions to read, matched case-insensitively. Other files and
        hidden files (names starting with ``"."``) are ignored.

    return_paths : bool, default=False
        If True, also return the path of each image.

    intensity : {"auto", "dtype", "minmax", "per-image"}, "bits:N" or \
"range:LOW:HIGH", default="auto"
        How raw pixel values become [0, 1]:

        - ``"auto"``: 8-bit images are divided by 255; 16-bit (and 32-bit
          integer) images by the bit depth their content uses, detected over
          all the images loaded together: the smallest of 10, 12, 14 and 16
          bits that holds every value (or a larger depth a TIFF header
          records), so 12-bit scans written as 16-bit files are divided by
          4095, not 65535. Floating-point images must already be in [0, 1].
        - ``"dtype"``: divided by the maximum of the file's sample type
          (255 or 65535, or ``2**bits - 1`` when a TIFF header records a
          smaller bit depth), whatever the content uses.
        - ``"bits:N"``, e.g. ``"bits:12"``: divided by ``2**N - 1``; a
          larger value is refused. The way to load new images exactly as a
          training set whose depth ``"auto"`` detected.
        - ``"minmax"``: the smallest and largest value of all the images
          (after resizing) are stretched to 0 and 1.
        - ``"range:LOW:HIGH"``, e.g. ``"range:0:4095"``: LOW and HIGH are
          stretched to 0 and 1, values outside clipped. The way to load new
          images exactly as a training set whose range ``"minmax"`` found
          (``info["range"]``).
        - ``"per-image"``: each image is stretched from its own minimum to
          its own maximum (after resizing); a constant image becomes 0. For
          images whose background or contrast varies, e.g. a mid-grey
          background.

    invert : bool or "auto", default=False
        True inverts the scaled intensities (``1 - x``); ``"auto"`` inverts
        them when the images' border (their outermost ring of pixels) is
        brighter than the images on average over the set: a bright
        background, against the dark background and bright content of the
        bundled MNIST source.

    color : {"gray", "rgb"}, default="gray"
        ``"gray"`` converts colour images to grayscale (ITU-R 601-2 luma);
        ``"rgb"`` keeps three channels, for a source fitted on colour images
        (e.g. ``ConvAutoencoderClassifier(image_shape=(h, w, 3))``), and
        repeats the grey of grayscale images on the three channels.

    return_info : bool, default=False
        If True, also return a dict saying what was done to the images.

    Returns
    -------
    X : ndarray of shape (n_images, height * width * channels), dtype=float32
        Flattened images in [0, 1], row-major and, with ``color="rgb"``,
        channels last: each row is an image of shape (height, width, 3).

    y : ndarray of shape (n_images,), dtype=str
        The class (sub-folder name) of each image.

    paths : list of str
        Only if ``return_paths=True``: the path of each image.

    info : dict
        Only if ``return_info=True``: ``"size"`` (height, width),
        ``"channels"`` (1 or 3), ``"intensity"`` (a short phrase such as
        ``"12-bit values in 16-bit files, divided by 4095"``), ``"bit_depth"``
        (``N`` when every integer image was divided by ``2**N - 1``, None
        when none or several depths were), ``"range"`` (``[low, high]``
        stretched to [0, 1] by ``"minmax"`` or ``"range:LOW:HIGH"``, else
        None) and ``"inverted"`` (bool).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` has no class sub-folder, if a class folder holds no image,
        if an image cannot be read, if an option is not one of its values, or
        if an image holds values the chosen ``intensity`` cannot scale (the
        message names the option that can).

    See Also
    --------
    load_images : Load unlabelled images, e.g. to predict them.

    Notes
    -----
    Classes are sorted by name and, within a class, files are sorted by name
    (code-point order), so the result is deterministic. EXIF orientation is
    applied; only the first frame of multi-frame files is read; alpha
    channels are dropped.

    ``"auto"`` decides the bit depth from the images loaded together, so
    new images loaded later may get another one; load them with the depth
    found for the training images, ``intensity=f"bits:{info['bit_depth']}"``
    (e.g. ``"bits:12"``).

    Examples
    --------
    >>> from skalltransfer.datasets import load_image_folder
    >>> X, y = load_image_folder("xrays/", size=(28, 28))  # doctest: +SKIP
    >>> X, y, info = load_image_folder(
    ...     "scans/", intensity="per-image", invert="auto", return_info=True
    ... )  # doctest: +SKIP
    >>> info["intensity"]  # doctest: +SKIP
    'stretched per image'
    """
    path = _fspath(path)
    size = _check_size(size)
    extensions = _check_extensions(extensions)
    options = _check_options(intensity, invert, color, return_info)
    _check_directory(path)
    classes = sorted(
        name
        for name in os.listdir(path)
        if not name.startswith(".") and os.path.isdir(os.path.join(path, name))
    )
    if not classes:
        hint = (
            " It holds image files directly; load them with load_images(), or "
            "move them into class sub-folders."
            if _list_images(path, extensions)
            else ""
        )
        raise ValueError(
            f"'{path}' has no class sub-folders. Put the images of each class "
            f"in a sub-folder named after the class.{hint}"
        )
    paths, labels = [], []
    for name in classes:
        files = _list_images(os.path.join(path, name), extensions)
        if not files:
            raise ValueError(
                f"The class folder '{os.path.join(path, name)}' holds no image "
                f"with one of the extensions {extensions}. Add images to it, "
                "remove it, or adjust extensions."
            )
        paths.extend(files)
        labels.extend([name] * len(files))
    X, info = _read_images(paths, size, options)
    y = np.array(labels, dtype=str)
    result = (X, y, paths) if return_paths else (X, y)
    return (*result, info) if return_info else result


def load_images(
    paths_or_dir,
    size=(28, 28),
    *,
    extensions=DEFAULT_EXTENSIONS,
    intensity="auto",
    invert=False,
    color="gray",
    return_info=False,
):
    """Load unlabelled images, e.g. to predict their class.

    Each image is converted to grayscale (or kept in colour), resized to
    ``size`` and scaled to [0, 1], exactly as in :func:`load_image_folder`.
    Requires Pillow (``pip install pillow``).

    Parameters
    ----------
    paths_or_dir : str, os.PathLike or sequence of those
        A directory, whose image files (directly inside, sorted by name) are
        read; a single image file; or a sequence of image files, read in the
        given order whatever their extension.

    size : (int, int) or None, default=(28, 28)
        Output ``(height, width)``; None keeps the native size, which must then
        be the same for all images.

    extensions : tuple of str, default=(".png", ".jpg", ".jpeg", ".tif", \
".tiff", ".bmp")
        File extensions read from a directory, matched case-insensitively.
        Hidden files are ignored.

    intensity : {"auto", "dtype", "minmax", "per-image"}, "bits:N" or \
"range:LOW:HIGH", default="auto"
        How raw pixel values become [0, 1], as in :func:`load_image_folder`.
        ``"auto"`` and ``"minmax"`` decide over the images loaded here; to
        predict, load new images as the training images were loaded (e.g.
        ``"bits:12"`` where the training images were 12-bit, or
        ``"range:LOW:HIGH"`` with the ``info["range"]`` of a ``"minmax"``
        training set).

    invert : bool or "auto", default=False
        True inverts the scaled intensities (``1 - x``); ``"auto"`` inverts
        them when the images' border is brighter than the images on average,
        as in :func:`load_image_folder`.

    color : {"gray", "rgb"}, default="gray"
        ``"gray"`` converts colour images to grayscale; ``"rgb"`` keeps three
        channels (grayscale images repeated on the three).

    return_info : bool, default=False
        If True, also return a dict saying what was done to the images.

    Returns
    -------
    X : ndarray of shape (n_images, height * width * channels), dtype=float32
        Flattened images in [0, 1] (channels last with ``color="rgb"``).

    paths : list of str
        The path of each image, in the order of the rows of ``X``.

    info : dict
        Only if ``return_info=True``: ``"size"``, ``"channels"``,
        ``"intensity"``, ``"bit_depth"``, ``"range"`` and ``"inverted"``, as in
        :func:`load_image_folder`.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If there is no image to read, if an image cannot be read, if an
        option is not one of its values, or if an image holds values the
        chosen ``intensity`` cannot scale.

    See Also
    --------
    load_image_folder : Load labelled images stored in class sub-folders.

    Examples
    --------
    >>> from skalltransfer.datasets import load_images
    >>> X, paths = load_images("new_scans/")  # doctest: +SKIP
    """
    size = _check_size(size)
    extensions = _check_extensions(extensions)
    options = _check_options(intensity, invert, color, return_info)
    if isinstance(paths_or_dir, (str, os.PathLike)):
        path = os.fspath(paths_or_dir)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file or directory: '{path}'.")
        if os.path.isdir(path):
            paths = _list_images(path, extensions)
            if not paths:
                raise ValueError(
                    f"The directory '{path}' holds no image with one of the "
                    f"extensions {extensions} (sub-folders are not searched; "
                    "for class sub-folders use load_image_folder())."
                )
        elif not os.path.isfile(path):
            # A FIFO or a device would block or never end when read.
            raise ValueError(
                f"'{path}' is neither an image file nor a directory (a pipe, a "
                "socket or a device); pass an image file or a folder of them."
            )
        else:
            paths = [path]
    else:
        try:
            paths = [_fspath(p, "each image path") for p in paths_or_dir]
        except TypeError:
            raise TypeError(
                "paths_or_dir must be a directory, an image file or a sequence "
                f"of image files; got {type(paths_or_dir).__name__}."
            ) from None
        if not paths:
            raise ValueError("paths_or_dir is an empty sequence; pass some images.")
        for p in paths:
            if not os.path.exists(p):
                raise FileNotFoundError(f"No such image file: '{p}'.")
            if not os.path.isfile(p):
                raise ValueError(
                    f"'{p}' is not a file; a sequence passed as paths_or_dir "
                    "must list image files."
                )
    X, info = _read_images(paths, size, options)
    return (X, paths, info) if return_info else (X, paths)
