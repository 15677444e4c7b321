"""A summary of what a set of images looks like (mean intensity, border,
contrast): what fitted models record and loaders use to decide an
inversion."""

import numpy as np

# Smaller images have too few pixels to tell a background from content.
MIN_IMAGE_SIDE = 5

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
