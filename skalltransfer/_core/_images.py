"""Rows of X read as images: the one place that infers and checks an image
shape ``(height, width, channels)`` from the number of values per row."""

import math

from skalltransfer._core._validation import as_integers


def square_image_shape(n_values, channels=1):
    """``(side, side, channels)`` if ``n_values`` is ``side * side *
    channels`` for a whole ``side``, else None."""
    if n_values < 1 or channels < 1 or n_values % channels:
        return None
    side = math.isqrt(n_values // channels)
    return (side, side, channels) if side * side * channels == n_values else None


def image_shape(
    n_values, shape=None, *, channels=1, what="X", unit="features", param="image_shape"
):
    """``(height, width, channels)`` of rows of ``n_values`` values.

    ``shape`` is a given ``(height, width)`` or ``(height, width,
    channels)``, checked against ``n_values``; None infers a square image of
    ``channels`` channels. A ValueError says that ``what`` has ``n_values``
    ``unit`` and names ``param``, the parameter that fixes it.
    """
    if shape is None:
        found = square_image_shape(n_values, channels)
        if found is None:
            raise ValueError(
                f"{what[:1].upper()}{what[1:]} has {n_values} {unit}, which is not "
                "a square number, so the image shape cannot be inferred; pass "
                f"{param}=(height, width) or (height, width, channels)."
            )
        return found
    try:
        dims = tuple(as_integers(shape, param))
    except TypeError:
        dims = ()
    if len(dims) == 2:
        dims = (*dims, 1)
    if len(dims) != 3:
        raise ValueError(
            f"{param} must be a (height, width) or (height, width, channels) "
            f"tuple; got {shape!r}."
        )
    if min(dims) < 1 or math.prod(dims) != n_values:
        raise ValueError(
            f"{param}={tuple(shape)!r} holds {math.prod(dims)} values per image "
            f"but {what} has {n_values} {unit}; pass (height, width) or (height, "
            "width, channels) with that many values, rows being row-major "
            "images (channels last)."
        )
    return dims


class ImageConventionWarning(UserWarning):
    """Images that do not look like the images a network was trained on: a
    brighter background, another polarity, much lower contrast."""


# How far apart two sets of images may look before a warning: intensities
# in [0, 1]; the contrast as a ratio.
BORDER_GAP = 0.25
CONTRAST_RATIO = 3.0


def convention_differences(reference, stats):
    """Sentences saying how images summarised by ``stats`` differ from those
    of ``reference`` (both from :func:`image_statistics`), [] if alike."""
    if not reference or not stats or stats.get("mean") is None:
        return []
    found = []
    ref_border, border = reference.get("border"), stats.get("border")
    if ref_border is None or border is None:
        return []  # rows that are not images: no convention to compare
    if abs(border - ref_border) > BORDER_GAP:
        inverted = border > stats["mean"] and ref_border < reference["mean"]
        kind = "inverted (bright background)" if inverted else "different"
        found.append(
            f"their background is {kind}: border intensity {border:.2f} "
            f"against {ref_border:.2f}"
        )
    ref_contrast, contrast = reference.get("contrast"), stats.get("contrast")
    if (
        ref_contrast
        and contrast is not None
        and contrast * CONTRAST_RATIO < ref_contrast
    ):
        found.append(
            f"their contrast is low: {contrast:.3f} against {ref_contrast:.3f} "
            "(e.g. 12-bit content in 16-bit files divided by 65535)"
        )
    return found
