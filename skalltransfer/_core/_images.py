"""Rows of X read as images: the one place that infers and checks an image
shape ``(height, width, channels)`` from the number of values per row."""

import math

import numpy as np

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


# Rows per chunk when summarising images: bounds the extra memory.
_STATS_ROWS = 2048


def image_statistics(X, shape=None):
    """What a set of images looks like: ``{"mean", "border", "contrast"}``.

    ``mean`` is the mean intensity, ``contrast`` the mean over images of
    each image's standard deviation, and ``border`` the mean intensity of
    the outermost ring of pixels (the background of centred objects) when
    the rows are images of ``shape`` ``(height, width, channels)`` at least
    ``MIN_IMAGE_SIDE`` pixels high and wide, else None. Plain floats, so a
    fitted model can keep them.
    """
    X = np.asarray(X)
    n = X.shape[0]
    if n == 0:
        return {"mean": None, "border": None, "contrast": None}
    total = contrast = border = 0.0
    for start in range(0, n, _STATS_ROWS):
        part = X[start : start + _STATS_ROWS].astype(np.float64, copy=False)
        total += float(part.sum())
        contrast += float(part.std(axis=1).sum())
        if shape is not None and min(shape[:2]) >= MIN_IMAGE_SIDE:
            h, w, c = shape
            images = part.reshape(len(part), h, w, c)
            ring = (
                images[:, 0].sum()
                + images[:, -1].sum()
                + images[:, 1:-1, 0].sum()
                + images[:, 1:-1, -1].sum()
            )
            border += float(ring)
    stats = {"mean": total / X.size, "border": None, "contrast": contrast / n}
    if shape is not None and min(shape[:2]) >= MIN_IMAGE_SIDE:
        h, w, c = shape
        n_ring = (2 * w + 2 * max(h - 2, 0)) * c
        stats["border"] = border / (n * n_ring)
    return stats


# How far apart two sets of images may look before a warning: intensities
# in [0, 1]; the contrast as a ratio.
BORDER_GAP = 0.25
CONTRAST_RATIO = 3.0
# Smaller images have too few pixels to tell a background from content.
MIN_IMAGE_SIDE = 5


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
