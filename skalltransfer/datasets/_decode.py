"""Decoding one image file with Pillow: its raw pixel values, a decompression-bomb
guard and resizing."""

import warnings

import numpy as np

from skalltransfer.datasets._intensity import (
    EIGHT_BIT,
    FLOAT,
    INTEGER,
)

SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")

# PNG colour types with more than one sample per pixel: RGB, grey + alpha,
# RGBA. Pillow decodes their 16-bit samples to 8 bits, keeping the high byte.
_PNG_MULTI_SAMPLE_TYPES = (2, 4, 6)
HIGH_BYTE_WARNING = (
    "16-bit colour or grey+alpha PNG files: Pillow decodes only the high 8 "
    "bits of each sample, so their intensities keep 8 bits of precision (the "
    "bit depth is still found from their range). For full precision save "
    "them as single-channel 16-bit PNG or TIFF."
)


def _png_high_byte_only(path):
    """Whether the PNG file at ``path`` holds 16-bit samples that Pillow
    reads as 8-bit ones (its IHDR chunk: bit depth, then colour type)."""
    with open(path, "rb") as f:
        header = f.read(26)
    return (
        len(header) == 26
        and header[24] == 16
        and (header[25] in _PNG_MULTI_SAMPLE_TYPES)
    )


def import_pil():
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


def resize_plane(image, size, clip=True):
    """Resize a 2-D float32 image to ``size`` = (height, width).

    Shrinking uses area averaging (``BOX``), which avoids aliasing and, unlike
    LANCZOS or BICUBIC, cannot overshoot the image's range. Enlarging uses
    bilinear interpolation, which cannot overshoot either. ``clip`` clips the
    result to [0, 1], for images already scaled.
    """
    height, width = size
    if image.shape == (height, width):
        return image
    Image, _ = import_pil()
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
    resized = np.asarray(resized, dtype=np.float32)
    return np.clip(resized, 0.0, 1.0) if clip else resized


def resize_gray(image, size):
    """Resize a 2-D float32 image in [0, 1] to ``size`` = (height, width)."""
    return resize_plane(image, size)


def resize(image, size, clip=True):
    """Resize a 2-D image, or each channel of an (height, width, channels)
    one, to ``size``."""
    if image.ndim == 2:
        return resize_plane(image, size, clip)
    return np.stack(
        [resize_plane(image[..., c], size, clip) for c in range(image.shape[2])],
        axis=-1,
    )


def bits_per_sample(image):
    """Return the bit depth recorded in a TIFF header, or None."""
    tags = getattr(image, "tag_v2", None)
    if tags is None:
        return None
    bits = tags.get(258)  # BitsPerSample
    if isinstance(bits, tuple):
        bits = bits[0] if len(set(bits)) == 1 else None
    return bits if isinstance(bits, int) else None


# Modes whose pixels are one grey value: kept as one channel, repeated on
# three under color="rgb".
GRAY_MODES = ("1", "L", "LA", "La", "I", "F", *SIXTEEN_BIT_MODES)


def raw_pixels(image, color, bits, image_format):
    """The raw values of a Pillow image: ``(pixels, kind, container)``.

    ``pixels`` is 2-D for a grey image, (height, width, 3) for a colour one
    under ``color="rgb"``; ``kind`` is 8-bit, integer (wider than 8 bits) or
    float; ``container`` the bit depth of the file's integer samples.
    """
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES:
        return np.asarray(image), INTEGER, 16
    if mode == "I":
        # Older Pillow reads 16-bit PNGs as mode "I"; PNG has no deeper
        # integer samples.
        container = bits or (16 if image_format == "PNG" else 32)
        return np.asarray(image), INTEGER, container
    if mode == "F":
        return np.asarray(image, dtype=np.float32), FLOAT, None
    if color == "rgb" and mode not in GRAY_MODES:
        # Palette, CMYK, YCbCr...: their colours; alpha channels are dropped.
        return np.asarray(image.convert("RGB")), EIGHT_BIT, 8
    if mode != "L":
        # ITU-R 601-2 luma for colour images; alpha channels are dropped.
        image = image.convert("L")
    return np.asarray(image), EIGHT_BIT, 8


def too_large(path, exc, Image):
    """The error for an image over Pillow's pixel limit."""
    return ValueError(
        f"The image file '{path}' is too large to be read safely: {exc} It is "
        "refused before it is decoded, because a small file can declare a "
        "huge image (a decompression bomb). Resize it first or, if you trust "
        "the file, raise Pillow's limit PIL.Image.MAX_IMAGE_PIXELS (now "
        f"{Image.MAX_IMAGE_PIXELS}), e.g. 'PIL.Image.MAX_IMAGE_PIXELS = "
        "300_000_000' before loading."
    )


def decode(path, color):
    """Decode one image file: ``(pixels, kind, container, header_bits)``
    as :func:`raw_pixels` gives them, with the bit depth a TIFF header
    records (or None)."""
    Image, ImageOps = import_pil()
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
                # Read before exif_transpose, whose copy drops the TIFF tags
                # and the format.
                bits = bits_per_sample(image)
                image_format = image.format
                # Cameras and scanners often store the orientation in EXIF
                # only.
                image = ImageOps.exif_transpose(image)
                pixels, kind, container = raw_pixels(image, color, bits, image_format)
                if (
                    image_format == "PNG"
                    and kind == EIGHT_BIT
                    and _png_high_byte_only(path)
                ):
                    # Back on the 16-bit scale (65535 for 255), so the file is
                    # scaled as the 16-bit file it is, not as an 8-bit one.
                    pixels = pixels.astype(np.uint16) * np.uint16(257)
                    kind, container = INTEGER, 16
                    warnings.warn(HIGH_BYTE_WARNING, UserWarning, stacklevel=4)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # A valid image, only larger than Pillow accepts: say so, not
        # "corrupt".
        raise too_large(path, exc, Image) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(
            f"Could not read the image file '{path}': {exc}. The file is corrupt "
            "or not an image; remove or replace it."
        ) from exc
    return pixels, kind, container, bits
