"""Rows of X read as images: the one place that infers and checks an image
shape ``(height, width, channels)`` from the number of values per row."""

import math


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
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
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
