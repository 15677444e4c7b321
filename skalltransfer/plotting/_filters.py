"""FilterDisplay: a network's first-layer weights as images (Fig. 5 of the
seed paper)."""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._images import image_shape as infer_image_shape
from skalltransfer.plotting._style import (
    check_matplotlib,
    new_axes,
    unwrap_estimator,
)


# -- first-layer filters ------------------------------------------------------------
def _first_layer_weights(estimator_or_coefs):
    """Copy of the first weight layer, shape (n_features, n_units)."""
    obj = estimator_or_coefs
    if not hasattr(obj, "fit"):
        if isinstance(obj, (list, tuple)) and obj and np.ndim(obj[0]) == 2:
            obj = obj[0]  # a whole coefs_ list
        try:
            W = np.array(obj, dtype=np.float64)
        except (TypeError, ValueError):
            W = None
        if W is None or W.ndim != 2:
            raise TypeError(
                "plot_filters needs a fitted estimator with coefs_ "
                "(MPDBMClassifier, StackedAutoencoderClassifier, MLPClassifier, "
                "AllTransferClassifier) or a 2-D weight array of shape "
                f"(n_features, n_units); got {type(estimator_or_coefs).__name__}"
                + ("" if W is None else f" of shape {W.shape}")
                + "."
            )
        return W
    estimator = unwrap_estimator(obj)
    check_is_fitted(estimator)
    coefs = getattr(estimator, "coefs_", None)
    if coefs is None and hasattr(estimator, "_layer_stack"):
        coefs = estimator._layer_stack().coefs
    if coefs is None:
        raise TypeError(
            f"{type(estimator).__name__} has no coefs_: plot_filters needs a "
            "layered network such as MPDBMClassifier, "
            "StackedAutoencoderClassifier, MLPClassifier or AllTransferClassifier."
        )
    # A copy: drawing must never write to (or keep a view of) the model.
    return np.array(coefs[0], dtype=np.float64, copy=True)


def _input_channels(estimator_or_coefs):
    """Channels of the images a fitted network's first layer reads (1 unless
    its family knows an image shape with more), or 1 for bare weights."""
    if not hasattr(estimator_or_coefs, "fit"):
        return 1
    from skalltransfer._core._stack import LayerStack

    try:
        stack = LayerStack.from_estimator(unwrap_estimator(estimator_or_coefs))
    except (TypeError, ValueError):
        return 1
    shape = stack.family.image_shape(stack)
    return 1 if shape is None else int(shape[2])


def _choose_units(W, n_filters, units):
    n_units = W.shape[1]
    if isinstance(units, str):
        if n_filters is None:
            n_filters = n_units
        if not isinstance(n_filters, numbers.Integral) or n_filters < 1:
            raise ValueError(
                f"n_filters must be a positive integer or None; got {n_filters!r}."
            )
        n = min(int(n_filters), n_units)
        if units == "first":
            return np.arange(n)
        if units == "norm":
            norms = np.linalg.norm(W, axis=0)
            # Stable sort: equal norms keep the unit order.
            return np.argsort(-norms, kind="stable")[:n]
        raise ValueError(
            f"units must be 'first', 'norm' or an array of unit indices; got {units!r}."
        )
    chosen = np.asarray(units)
    if (
        chosen.ndim != 1
        or chosen.size == 0
        or chosen.dtype.kind not in "iu"
        or chosen.min() < 0
        or chosen.max() >= n_units
    ):
        raise ValueError(
            f"units must be a non-empty 1-D array of indices in [0, {n_units - 1}]; "
            f"got {units!r}."
        )
    return chosen.astype(np.intp)


class FilterDisplay:
    """First-layer weights drawn as a grid of grayscale images.

    The paper's Fig. 5: each tile shows the incoming weights of one unit of
    the first hidden layer, reshaped to the input image. Comparing the
    filters of a network trained from scratch (``n_transferred_layers=0``)
    with those of the all-transfer network shows what the transfer kept.

    It is recommended to create a display with :func:`plot_filters` or
    :meth:`from_estimator`. All parameters are stored as attributes.

    Parameters
    ----------
    filters : ndarray of shape (n_filters, height, width)
        The weights of each unit shown, as images.
    units : ndarray of shape (n_filters,), default=None
        The index of each unit in its layer. None means ``0 .. n - 1``.

    Attributes
    ----------
    image_ : matplotlib AxesImage
        The grid of tiles, drawn as one image.
    grid_shape_ : (int, int)
        Number of tile rows and columns.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    plot_filters : Draw the filters of a fitted network.
    RelationDisplay : The relation between target and source classes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skalltransfer import FilterDisplay
    >>> filters = np.random.RandomState(0).normal(size=(6, 8, 8))
    >>> disp = FilterDisplay(filters).plot(n_cols=3)
    >>> disp.grid_shape_
    (2, 3)
    >>> plt.close(disp.figure_)
    """

    def __init__(self, filters, *, units=None):
        self.filters = filters
        self.units = units

    def plot(
        self,
        *,
        ax=None,
        n_cols=None,
        cmap="gray",
        scale="each",
        padding=1,
        figsize=None,
    ):
        """Draw the filters as a grid of images.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure and axes are created.
        n_cols : int, default=None
            Tiles per row. None makes the grid about square.
        cmap : str or matplotlib Colormap, default="gray"
        scale : {"each", "shared"}, default="each"
            ``"each"`` stretches every tile to its own [min, max] (shows the
            pattern of each unit, as in the paper); ``"shared"`` uses one
            symmetric scale for all tiles, zero being mid-gray (compares
            magnitudes between units).
        padding : int, default=1
            Blank pixels between tiles.
        figsize : (float, float), default=None
            Size of a new figure; None scales it with the grid. Ignored when
            ``ax`` is given.

        Returns
        -------
        display : FilterDisplay
        """
        check_matplotlib("FilterDisplay.plot")
        filters = np.asarray(self.filters, dtype=np.float64)
        if filters.ndim != 3 or filters.shape[0] == 0:
            raise ValueError(
                "filters must have shape (n_filters, height, width) with at least "
                f"one filter; got shape {filters.shape}."
            )
        if scale not in ("each", "shared"):
            raise ValueError(f"scale must be 'each' or 'shared'; got {scale!r}.")
        n, height, width = filters.shape
        if n_cols is None:
            n_cols = int(np.ceil(np.sqrt(n)))
        n_cols = max(1, min(int(n_cols), n))
        n_rows = int(np.ceil(n / n_cols))

        if scale == "each":
            lo = filters.min(axis=(1, 2), keepdims=True)
            span = filters.max(axis=(1, 2), keepdims=True) - lo
            # A constant tile has no pattern to stretch: draw it mid-gray.
            tiles = np.where(
                span > 0, (filters - lo) / np.where(span > 0, span, 1), 0.5
            )
        else:
            bound = np.abs(filters).max()
            tiles = 0.5 + 0.5 * filters / bound if bound > 0 else filters * 0 + 0.5

        # One image with NaN gaps is far faster to draw than one axes per tile
        # (hundreds of units), and fits in any axes the user passes.
        mosaic = np.full(
            (
                n_rows * (height + padding) - padding,
                n_cols * (width + padding) - padding,
            ),
            np.nan,
        )
        for k in range(n):
            r, c = divmod(k, n_cols)
            top, left = r * (height + padding), c * (width + padding)
            mosaic[top : top + height, left : left + width] = tiles[k]

        if ax is None:
            if figsize is None:
                figsize = (max(2.0, 0.55 * n_cols), max(2.0, 0.55 * n_rows))
            fig, ax = new_axes(figsize=figsize)
        else:
            fig = ax.figure
        import matplotlib as mpl

        colormap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
        colormap = colormap.with_extremes(bad="white")
        self.image_ = ax.imshow(
            np.ma.masked_invalid(mosaic),
            cmap=colormap,
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        ax.set_axis_off()
        self.grid_shape_ = (n_rows, n_cols)
        self.ax_ = ax
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator_or_coefs,
        *,
        n_filters=64,
        units="first",
        image_shape=None,
        ax=None,
        n_cols=None,
        cmap="gray",
        scale="each",
        padding=1,
        figsize=None,
    ):
        """Draw the first-layer weights of a network as a grid of images.

        The paper's Fig. 5: column ``j`` of ``coefs_[0]`` (the weights from
        every input pixel to hidden unit ``j``) is reshaped to the input image
        and drawn as one grayscale tile. The estimator is not modified.

        Parameters
        ----------
        estimator_or_coefs : estimator or array-like of shape (n_features, n_units)
            A fitted :class:`MPDBMClassifier`,
            :class:`StackedAutoencoderClassifier`, scikit-learn
            ``MLPClassifier`` or :class:`AllTransferClassifier` (its fine-tuned
            weights), or the weights themselves (``coefs_[0]``, or the whole
            ``coefs_`` list).
        n_filters : int or None, default=64
            How many units to draw (at most the layer's size). None draws all.
            Ignored when ``units`` lists the units.
        units : {"first", "norm"} or array-like of int, default="first"
            Which units: the first ``n_filters``, the ``n_filters`` with the
            largest weight norm (in decreasing order), or the given indices.
        image_shape : (int, int) or (int, int, int), default=None
            ``(height, width)`` or ``(height, width, channels)`` of one filter:
            the input image for a fully-connected first layer, the kernel for a
            convolutional one. Several channels (channels last) are drawn as
            their mean. None infers a square shape from the number of input
            features (784 gives 28x28; a conv source's kernels take its number of
            image channels into account) and raises a ValueError if that number
            is not a square.
        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure and axes are created.
        n_cols : int, default=None
            Tiles per row; None makes the grid about square.
        cmap : str or matplotlib Colormap, default="gray"
        scale : {"each", "shared"}, default="each"
            Stretch each tile to its own range, or share one symmetric scale.
        padding : int, default=1
            Blank pixels between tiles.
        figsize : (float, float), default=None
            Size of a new figure (ignored when ``ax`` is given).

        Returns
        -------
        display : FilterDisplay
            Holds ``filters`` (n_filters, height, width), ``units``,
            ``image_``, ``ax_`` and ``figure_``.
        """
        check_matplotlib("FilterDisplay.from_estimator")
        W = _first_layer_weights(estimator_or_coefs)
        channels = _input_channels(estimator_or_coefs)
        height, width, channels = infer_image_shape(
            W.shape[0],
            image_shape,
            channels=channels,
            what="the first layer",
            unit="inputs",
        )
        chosen = _choose_units(W, n_filters, units)
        # Channels last (as the rows of X and of conv kernels): one gray tile
        # per unit, the mean over its input channels.
        filters = W[:, chosen].T.reshape(len(chosen), height, width, channels)
        filters = filters.mean(axis=3)
        disp = cls(filters, units=chosen)
        return disp.plot(
            ax=ax,
            n_cols=n_cols,
            cmap=cmap,
            scale=scale,
            padding=padding,
            figsize=figsize,
        )
