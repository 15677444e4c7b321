"""How the image loaders turn raw pixel values into [0, 1]: the checks of
their ``intensity``, ``invert`` and ``color`` options, the scaling of one
image, and what is decided over the whole set of images loaded together
(the bit depth of ``"auto"``, the range of ``"minmax"``, ``invert="auto"``).
"""

import numpy as np

from skalltransfer._kernels._image_stats import MIN_IMAGE_SIDE, image_statistics

INTENSITIES = ("auto", "dtype", "minmax", "per-image")
# "auto" divides integer images wider than 8 bits by the smallest of these
# depths that holds every value of the set: scanners and cameras write 10-,
# 12- and 14-bit content into 16-bit files.
AUTO_DEPTHS = (10, 12, 14, 16)
MAX_BITS = 32
COLORS = ("gray", "rgb")

# The kind of an image's raw values.
EIGHT_BIT, INTEGER, FLOAT = "8-bit", "integer", "float"


def check_intensity(intensity):
    """``(mode, value)`` of a valid ``intensity`` option: ``value`` is the N
    of ``"bits:N"``, the ``(low, high)`` of ``"range:LOW:HIGH"``, else None.
    A ValueError lists the valid values."""
    message = (
        "intensity must be 'auto', 'dtype', 'minmax', 'per-image', "
        f"'bits:N' with N a whole number of bits from 1 to {MAX_BITS} (e.g. "
        "'bits:12' for 12-bit scans) or 'range:LOW:HIGH' with finite LOW < "
        "HIGH (e.g. 'range:0:4095', the range 'minmax' found for training "
        f"images); got {intensity!r}."
    )
    if not isinstance(intensity, str):
        raise ValueError(message)
    if intensity in INTENSITIES:
        return intensity, None
    prefix, _, number = intensity.partition(":")
    if prefix == "range":
        return "range", _range_bounds(number, message)
    if prefix != "bits" or not number.isascii() or not number.isdigit():
        raise ValueError(message)
    bits = int(number)
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(message)
    return "bits", bits


def _range_bounds(text, message):
    """``(low, high)`` of the ``LOW:HIGH`` of ``"range:LOW:HIGH"``."""
    parts = text.split(":")
    try:
        low, high = (float(part) for part in parts) if len(parts) == 2 else ()
    except ValueError:
        raise ValueError(message) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(message)
    return low, high


def in_range(pixels, bounds):
    """``pixels`` mapped from the range ``bounds`` to [0, 1] (float32),
    values outside it clipped; returns ``(values, divisor)``."""
    low, high = bounds
    values = pixels.astype(np.float32) - np.float32(low)
    values /= np.float32(high - low)
    np.clip(values, 0.0, 1.0, out=values)
    return values, np.float32(high - low)


def check_invert(invert):
    """A valid ``invert`` option: True, False or ``"auto"``."""
    if isinstance(invert, (bool, np.bool_)):
        return bool(invert)
    if isinstance(invert, str) and invert == "auto":
        return invert
    raise ValueError(
        "invert must be False (keep the intensities), True (1 - x: bright "
        "backgrounds become dark) or 'auto' (invert when the images' border "
        f"is brighter than their content); got {invert!r}."
    )


def check_color(color):
    """A valid ``color`` option: ``"gray"`` or ``"rgb"``."""
    if isinstance(color, str) and color in COLORS:
        return color
    raise ValueError(
        "color must be 'gray' (one luma channel, for the bundled MNIST "
        "sources) or 'rgb' (three channels, for a source fitted on colour "
        f"images); got {color!r}."
    )


def check_flag(value, name):
    """A bool option, such as ``return_info``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False; got {value!r}.")


def _max_value(bits):
    return 2**bits - 1


def scale_now(pixels, kind, path, mode, bits, header_bits):
    """The raw ``pixels`` of one image scaled to [0, 1] as float32 when
    their scale is known from this image alone, else as raw float32 values
    to be scaled over the set (``"auto"`` integers, ``"minmax"``,
    ``"per-image"``). Returns ``(array, divisor)``; ``divisor`` is None for
    deferred values. Refuses values the option cannot scale, naming the
    option that can."""
    if kind == FLOAT:
        finite = bool(np.all(np.isfinite(pixels)))
        if not finite:
            raise ValueError(
                f"The image '{path}' holds floating-point pixels that are not "
                "finite (NaN or infinite); replace them before loading."
            )
        if mode in ("minmax", "per-image"):
            return pixels, None
        if mode == "range":
            return in_range(pixels, bits)
        if mode == "bits":
            raise ValueError(
                f"The image '{path}' holds floating-point pixels, which have "
                f"no bit depth for intensity='bits:{bits}'. Pass "
                "intensity='auto' if they are already in [0, 1], else "
                "intensity='minmax' (the set's range) or 'per-image'."
            )
        if pixels.size and (pixels.min() < 0 or pixels.max() > 1):
            raise ValueError(
                f"The image '{path}' holds floating-point pixels in "
                f"[{pixels.min():g}, {pixels.max():g}], outside [0, 1], so "
                "their scale is unknown. Pass intensity='minmax' to stretch "
                "the set's range to [0, 1], or intensity='per-image' to "
                "stretch each image."
            )
        return pixels, np.float32(1)
    if mode in ("minmax", "per-image"):
        return pixels.astype(np.float32), None
    if mode == "range":
        return in_range(pixels, bits)
    low = int(pixels.min()) if pixels.size else 0
    high = int(pixels.max()) if pixels.size else 0
    if mode == "bits":
        top = _max_value(bits)
        if low < 0 or high > top:
            raise ValueError(
                f"The image '{path}' holds values in [{low}, {high}], outside "
                f"the [0, {top}] of intensity='bits:{bits}'. Pass the bit "
                "depth the images were written with (e.g. 'bits:16'), "
                "intensity='auto' to detect it, or intensity='minmax'."
            )
        return pixels.astype(np.float32) / np.float32(top), np.float32(top)
    if kind == EIGHT_BIT:
        return pixels.astype(np.float32) / np.float32(255), np.float32(255)
    # Integer images wider than 8 bits.
    if low < 0:
        raise ValueError(
            f"The image '{path}' holds negative integer pixels (down to "
            f"{low}), which a bit depth cannot scale to [0, 1]. Pass "
            "intensity='minmax' to stretch the set's range to [0, 1], or "
            "intensity='per-image' to stretch each image."
        )
    if mode == "auto":
        return pixels.astype(np.float32), None
    # "dtype": the 16-bit container's maximum, or a smaller bit depth that a
    # TIFF header records when every value fits in it.
    if high > 65535:
        raise ValueError(
            f"The image '{path}' holds 32-bit integer pixels outside the "
            f"16-bit range [0, 65535] (up to {high}), which "
            "intensity='dtype' cannot scale to [0, 1]. Pass "
            "intensity='bits:N' with the bit depth they were written with, "
            "or intensity='minmax'."
        )
    top = 65535
    if header_bits is not None and 8 < header_bits < 16 and high < 2**header_bits:
        top = _max_value(header_bits)
    return pixels.astype(np.float32) / np.float32(top), np.float32(top)


def stretch(values):
    """``values`` (float32) stretched in place from their own minimum and
    maximum to [0, 1]; constant values become 0. Returns ``(low, high)``."""
    if not values.size:
        return 0.0, 0.0
    low, high = float(values.min()), float(values.max())
    if high > low:
        values -= np.float32(low)
        values /= np.float32(high - low)
        np.clip(values, 0.0, 1.0, out=values)
    else:
        values[...] = 0.0
    return low, high


def auto_depth(high, header_depths, path_of_high):
    """The bit depth ``"auto"`` divides integer images by: the smallest of
    ``AUTO_DEPTHS`` that holds ``high``, the set's largest value, or a
    larger depth recorded in a TIFF header (between 8 and 16 bits)."""
    depth = next((d for d in AUTO_DEPTHS if high <= _max_value(d)), None)
    if depth is None:
        raise ValueError(
            f"The image '{path_of_high}' holds values up to {high}, more than "
            "16 bits, so intensity='auto' cannot tell their scale. Pass "
            "intensity='bits:N' with the bit depth they were written with, "
            "or intensity='minmax' to stretch the set's range to [0, 1]."
        )
    recorded = [b for b in header_depths if 8 < b < 16]
    return max([depth, *recorded])


def depth_phrase(bits, containers):
    """E.g. "12-bit values in 16-bit files, divided by 4095"."""
    top = _max_value(bits)
    containers = sorted(set(containers))
    if containers == [bits]:
        return f"{bits}-bit, divided by {top}"
    files = " and ".join(f"{c}-bit" for c in containers)
    return f"{bits}-bit values in {files} files, divided by {top}"


def should_invert(X, shape):
    """Whether ``invert="auto"`` inverts the set ``X`` of images of
    ``shape`` ``(height, width, channels)``: when their border (the
    outermost ring of pixels) is brighter than the images on average."""
    if min(shape[:2]) < MIN_IMAGE_SIDE:
        raise ValueError(
            f"invert='auto' needs images at least {MIN_IMAGE_SIDE} pixels "
            f"high and wide to tell their background from their content; "
            f"these are {shape[0]} x {shape[1]}. Pass invert=True or "
            "invert=False."
        )
    stats = image_statistics(X, shape)
    return stats["border"] > stats["mean"]
