"""Loaders for image files: class folders and unlabelled images."""

import os
import warnings

import numpy as np

from skalltransfer.datasets._base import _check_size, _fspath

DEFAULT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def _import_pil():
    """Import Pillow lazily: it is an optional dependency."""
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise ImportError(
            "Reading or resizing images requires Pillow, an optional dependency "
            "of skalltransfer. Install it with 'pip install pillow' or "
            "'pip install skalltransfer[images]'."
        ) from exc
    return Image, ImageOps


def _resize_gray(image, size):
    """Resize a 2-D float32 image in [0, 1] to ``size`` = (height, width).

    Shrinking uses area averaging (``BOX``), which avoids aliasing and, unlike
    LANCZOS or BICUBIC, cannot overshoot outside [0, 1]. Enlarging uses
    bilinear interpolation, which cannot overshoot either.
    """
    height, width = size
    if image.shape == (height, width):
        return image
    Image, _ = _import_pil()
    # Image.Resampling appeared in Pillow 9.1; older releases had the constants
    # on Image itself.
    filters = getattr(Image, "Resampling", Image)
    if height <= image.shape[0] and width <= image.shape[1]:
        resample = filters.BOX
    else:
        resample = filters.BILINEAR
    # Mode "F" (32-bit float) keeps full precision while resampling.
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32))
    resized = resized.resize((width, height), resample=resample)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _bits_per_sample(image):
    """Return the bit depth recorded in a TIFF header, or None."""
    tags = getattr(image, "tag_v2", None)
    if tags is None:
        return None
    bits = tags.get(258)  # BitsPerSample
    if isinstance(bits, tuple):
        bits = bits[0] if len(set(bits)) == 1 else None
    return bits if isinstance(bits, int) else None


def _gray_float(image, path, bits=None):
    """Convert a Pillow image to a 2-D float32 array in [0, 1].

    ``bits`` is the bit depth recorded in the file header, if any.
    """
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        pixels = np.asarray(image)
        if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
            raise ValueError(
                f"The image '{path}' holds 32-bit integer pixels outside the "
                "16-bit range [0, 65535], which cannot be scaled to [0, 1] "
                "without knowing their range. Convert it to an 8- or 16-bit "
                "image first."
            )
        # Scale by the bit depth, not by the maximum: the relative intensities
        # of, e.g., a 12-bit scan stored in a 16-bit TIFF are preserved.
        max_value = 65535
        if bits is not None and 8 < bits < 16 and pixels.max() < 2**bits:
            max_value = 2**bits - 1
        return pixels.astype(np.float32) / np.float32(max_value)
    if mode == "F":
        pixels = np.asarray(image, dtype=np.float32)
        if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 1:
            raise ValueError(
                f"The image '{path}' holds floating-point pixels outside [0, 1]; "
                "convert it to an 8- or 16-bit image first."
            )
        return pixels
    if mode != "L":
        # ITU-R 601-2 luma for colour images; alpha channels are dropped.
        image = image.convert("L")
    return np.asarray(image, dtype=np.float32) / np.float32(255)


def _too_large(path, exc, Image):
    """The error for an image over Pillow's pixel limit."""
    return ValueError(
        f"The image file '{path}' is too large to be read safely: {exc} It is "
        "refused before it is decoded, because a small file can declare a "
        "huge image (a decompression bomb). Resize it first or, if you trust "
        "the file, raise Pillow's limit PIL.Image.MAX_IMAGE_PIXELS (now "
        f"{Image.MAX_IMAGE_PIXELS}), e.g. 'PIL.Image.MAX_IMAGE_PIXELS = "
        "300_000_000' before loading."
    )


def _read_image(path, size):
    """Read one image file as a 2-D float32 array in [0, 1], resized."""
    Image, ImageOps = _import_pil()
    try:
        # Pillow only warns about an image over MAX_IMAGE_PIXELS (it refuses
        # one over twice that) and then decodes it, which can take gigabytes
        # for a small file: its warning becomes an error here. Pillow checks
        # the size on opening, before decoding, and again for the frames or
        # tiles it decodes, so the whole read is covered.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                # Forces decoding, so truncated files fail here, not later.
                image.load()
                # Read before exif_transpose, whose copy drops the TIFF tags.
                bits = _bits_per_sample(image)
                # Cameras and scanners often store the orientation in EXIF
                # only.
                image = ImageOps.exif_transpose(image)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # A valid image, only larger than Pillow accepts: say so, not
        # "corrupt".
        raise _too_large(path, exc, Image) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(
            f"Could not read the image file '{path}': {exc}. The file is corrupt "
            "or not an image; remove or replace it."
        ) from exc
    pixels = _gray_float(image, path, bits)
    if size is not None:
        pixels = _resize_gray(pixels, size)
    return pixels


def _read_images(paths, size):
    """Read ``paths`` into an (n_images, n_pixels) float32 array."""
    X = None
    first_shape = None
    for i, path in enumerate(paths):
        pixels = _read_image(path, size)
        if X is None:
            first_shape = pixels.shape
            X = np.empty((len(paths), pixels.size), dtype=np.float32)
        elif pixels.shape != first_shape:
            raise ValueError(
                f"The image '{path}' has shape {pixels.shape} but '{paths[0]}' "
                f"has shape {first_shape}; with size=None all images must have "
                "the same size. Pass size=(height, width) to resize them."
            )
        X[i] = pixels.ravel()
    return X


def _check_extensions(extensions):
    if isinstance(extensions, str):
        extensions = (extensions,)
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
):
    """Load a labelled image dataset stored as one sub-folder per class.

    The layout is the one used by many image tools::

        path/
            class_a/
                img001.png
                img002.png
            class_b/
                img003.tif

    Each image is converted to grayscale, resized to ``size`` and scaled to
    [0, 1]. Requires Pillow (``pip install pillow``).

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

    Returns
    -------
    X : ndarray of shape (n_images, height * width), dtype=float32
        Flattened grayscale images in [0, 1]. Colour images are converted with
        the ITU-R 601-2 luma transform (Pillow's ``"L"`` mode); 8-bit images
        are divided by 255 and 16-bit images by 65535 (or by ``2**bits - 1``
        when a TIFF header records a smaller bit depth).

    y : ndarray of shape (n_images,), dtype=str
        The class (sub-folder name) of each image.

    paths : list of str
        Only if ``return_paths=True``: the path of each image.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` has no class sub-folder, if a class folder holds no image,
        or if an image cannot be read.

    See Also
    --------
    load_images : Load unlabelled images, e.g. to predict them.

    Notes
    -----
    Classes are sorted by name and, within a class, files are sorted by name
    (code-point order), so the result is deterministic. EXIF orientation is
    applied; only the first frame of multi-frame files is read.

    Examples
    --------
    >>> from skalltransfer.datasets import load_image_folder
    >>> X, y = load_image_folder("xrays/", size=(28, 28))  # doctest: +SKIP
    """
    path = _fspath(path)
    size = _check_size(size)
    extensions = _check_extensions(extensions)
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
    X = _read_images(paths, size)
    y = np.array(labels, dtype=str)
    if return_paths:
        return X, y, paths
    return X, y


def load_images(paths_or_dir, size=(28, 28), *, extensions=DEFAULT_EXTENSIONS):
    """Load unlabelled images, e.g. to predict their class.

    Each image is converted to grayscale, resized to ``size`` and scaled to
    [0, 1], exactly as in :func:`load_image_folder`. Requires Pillow
    (``pip install pillow``).

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

    Returns
    -------
    X : ndarray of shape (n_images, height * width), dtype=float32
        Flattened grayscale images in [0, 1].

    paths : list of str
        The path of each image, in the order of the rows of ``X``.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If there is no image to read, or if an image cannot be read.

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
    return _read_images(paths, size), paths
