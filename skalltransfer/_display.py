"""Plots of a transfer: the relation between target classes and source output
units (Sawada & Kozuka, Figs. 3, 4 and 6) and first-layer filters (Fig. 5).

matplotlib is an optional dependency (``pip install "skalltransfer[plot]"``),
imported only when something is drawn.
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

_INSTALL_HINT = (
    "Install it with 'pip install matplotlib' or 'pip install \"skalltransfer[plot]\"'."
)

# Matplotlib rejects an alias and its full name together ("ec" and
# "edgecolor"), so user styles are normalised before being merged.
_STYLE_ALIASES = {
    "c": "color",
    "ec": "edgecolor",
    "fc": "facecolor",
    "lw": "linewidth",
    "ls": "linestyle",
    "ms": "markersize",
    "mec": "markeredgecolor",
    "mfc": "markerfacecolor",
    "mew": "markeredgewidth",
}


def _check_matplotlib(caller):
    """Import matplotlib or raise an ImportError naming the fix."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, an optional dependency of "
            f"skalltransfer. {_INSTALL_HINT}"
        ) from exc


def _new_axes(figsize=None):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _merge_style(default, user):
    style = dict(default)
    for key, value in (user or {}).items():
        style[_STYLE_ALIASES.get(key, key)] = value
    return style


def _default_colors(n):
    """``n`` colours from matplotlib's current colour cycle, repeated if needed."""
    import matplotlib as mpl

    cycle = mpl.rcParams["axes.prop_cycle"].by_key().get("color") or ["C0"]
    return [cycle[i % len(cycle)] for i in range(n)]


def _unwrap_estimator(estimator):
    """The transfer estimator inside a fitted search or Pipeline."""
    if hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator


# -- relation plot ------------------------------------------------------------------
class RelationDisplay:
    """Relation between target classes and source output units (bar chart).

    The plot of the paper's Fig. 3: for each source output unit ``v`` (x axis)
    one bar per target class ``c``, of height ``p_c(v)``, the fraction of
    the class's samples for which ``v`` is the source network's strongest
    output (or, with ``relation="mean"``, the class's mean output). The unit
    selected for each class is hatched and marked with a triangle.

    It is recommended to create a display with :meth:`from_estimator` or
    :meth:`from_relation`. All parameters are stored as attributes.

    Parameters
    ----------
    relation : array-like of shape (n_target_classes, n_source_units)
        The relation ``p_c(v)``, e.g. ``AllTransferClassifier.relation_``.
    target_names : array-like of shape (n_target_classes,), default=None
        Names of the target classes (legend). None uses ``0 .. n - 1``.
    source_names : array-like of shape (n_source_units,), default=None
        Names of the source output units (x tick labels), e.g. the source's
        ``classes_``. None uses the unit indices.
    selected_units : array-like of shape (n_target_classes,), default=None
        The source unit selected for each target class, marked on the plot.
        None marks nothing.

    Attributes
    ----------
    bars_ : list of matplotlib BarContainer
        One container per target class, in the order of the relation's rows;
        ``bars_[c][v]`` is the bar of class ``c`` at unit ``v``.
    markers_ : list of matplotlib Line2D or None
        The triangle marking each class's selected unit; None if
        ``selected_units`` is None.
    legend_ : matplotlib Legend or None
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    AllTransferClassifier : Computes the relation and selects the units.
    FilterDisplay : First-layer weights as images (the paper's Fig. 5).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skalltransfer import RelationDisplay
    >>> relation = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    >>> disp = RelationDisplay(
    ...     relation,
    ...     target_names=["lesion", "non-lesion"],
    ...     selected_units=[0, 2],
    ... ).plot()
    >>> [len(bars) for bars in disp.bars_]
    [3, 3]
    >>> plt.close(disp.figure_)
    """

    def __init__(
        self, relation, *, target_names=None, source_names=None, selected_units=None
    ):
        self.relation = relation
        self.target_names = target_names
        self.source_names = source_names
        self.selected_units = selected_units

    def _validated(self):
        """Relation, names and selected units, checked against each other."""
        relation = np.asarray(self.relation, dtype=np.float64)
        if relation.ndim != 2 or 0 in relation.shape:
            raise ValueError(
                "relation must be a non-empty 2-D array of shape "
                f"(n_target_classes, n_source_units); got shape {relation.shape}."
            )
        if not np.all(np.isfinite(relation)):
            raise ValueError("relation holds NaN or infinite values.")
        n_classes, n_units = relation.shape

        def names(values, n, what, axis):
            if values is None:
                return [str(i) for i in range(n)]
            values = [str(v) for v in np.asarray(values, dtype=object).ravel()]
            if len(values) != n:
                raise ValueError(
                    f"{what} has {len(values)} entries but the relation has {n} "
                    f"{axis}; pass one name per {axis[:-1]}."
                )
            return values

        targets = names(self.target_names, n_classes, "target_names", "rows")
        sources = names(self.source_names, n_units, "source_names", "columns")
        units = self.selected_units
        if units is not None:
            units = np.asarray(units)
            if (
                units.shape != (n_classes,)
                or units.dtype.kind not in "iu"
                or units.min() < 0
                or units.max() >= n_units
            ):
                raise ValueError(
                    "selected_units must hold one source unit index in "
                    f"[0, {n_units - 1}] per target class ({n_classes} in all); "
                    f"got {self.selected_units!r}."
                )
        return relation, targets, sources, units

    def plot(
        self,
        *,
        ax=None,
        colors=None,
        bar_kw=None,
        selected_kw=None,
        legend=True,
        xticks_rotation="horizontal",
    ):
        """Plot the relation.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. If None, a new figure and axes are created.
        colors : list of matplotlib colours, default=None
            One colour per target class. None uses matplotlib's colour cycle.
        bar_kw : dict, default=None
            Keyword arguments of ``ax.bar`` for every bar.
        selected_kw : dict, default=None
            Keyword arguments overriding the style of the selected bars
            (default: black edge, hatched).
        legend : bool, default=True
            Whether to draw a legend of the target classes.
        xticks_rotation : {"vertical", "horizontal"} or float, \
                default="horizontal"
            Rotation of the source unit names.

        Returns
        -------
        display : RelationDisplay
            The display, with ``bars_``, ``markers_``, ``ax_`` and ``figure_``.
        """
        _check_matplotlib("RelationDisplay.plot")
        relation, targets, sources, units = self._validated()
        n_classes, n_units = relation.shape
        if ax is None:
            fig, ax = _new_axes(
                figsize=(min(12.0, max(6.4, 0.35 * n_units * n_classes)), 4.0)
            )
        else:
            fig = ax.figure
        if colors is None:
            colors = _default_colors(n_classes)
        elif len(colors) != n_classes:
            raise ValueError(
                f"colors has {len(colors)} entries but there are {n_classes} "
                "target classes; pass one colour per class."
            )

        # Group the bars of all classes around each unit, as in the paper.
        width = 0.8 / n_classes
        positions = np.arange(n_units)
        selected_style = _merge_style(
            {"edgecolor": "black", "linewidth": 1.5, "hatch": "///"}, selected_kw
        )
        self.bars_ = []
        self.markers_ = None if units is None else []
        top = float(relation.max())
        for c in range(n_classes):
            x = positions + (c - (n_classes - 1) / 2) * width
            style = _merge_style({"color": colors[c], "label": targets[c]}, bar_kw)
            bars = ax.bar(x, relation[c], width, **style)
            self.bars_.append(bars)
            if units is None:
                continue
            v = units[c]
            selected = bars[v]
            for key, value in selected_style.items():
                getattr(selected, f"set_{key}")(value)
            # A marker above the bar keeps the choice visible when p_c(v) ~ 0.
            (marker,) = ax.plot(
                [x[v]],
                [relation[c, v] + 0.04 * max(top, 1e-12)],
                marker="v",
                linestyle="none",
                color=colors[c],
                markeredgecolor="black",
                markersize=8,
            )
            self.markers_.append(marker)

        ax.set_xticks(positions)
        ax.set_xticklabels(sources, rotation=xticks_rotation)
        ax.set_xlim(-0.6, n_units - 0.4)
        ax.set_ylim(0.0, max(top, 1e-12) * 1.12)
        ax.set_xlabel("source output unit")
        ax.set_ylabel("relation $p_c(v)$")
        self.legend_ = None
        if legend:
            from matplotlib.patches import Patch

            # Plain proxies: a BarContainer's legend entry would copy the
            # style of its first bar, which may be a hatched selected one.
            handles = [
                Patch(facecolor=bars.patches[0].get_facecolor(), label=name)
                for bars, name in zip(self.bars_, targets)
            ]
            if units is not None:
                handles.append(
                    Patch(
                        facecolor="white",
                        label="selected unit",
                        **{k: v for k, v in selected_style.items() if k != "label"},
                    )
                )
            self.legend_ = ax.legend(handles=handles, title="target class")
        self.ax_ = ax
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        target_names=None,
        source_names=None,
        ax=None,
        colors=None,
        bar_kw=None,
        selected_kw=None,
        legend=True,
        xticks_rotation="horizontal",
    ):
        """Plot the relation of a fitted :class:`AllTransferClassifier`.

        Reads ``relation_``, ``classes_`` (legend), ``selected_units_`` and
        the source's ``classes_`` (names of the source output units). The
        estimator is not modified.

        Parameters
        ----------
        estimator : AllTransferClassifier
            Fitted transfer estimator; a fitted ``Pipeline`` ending in one,
            or a fitted search whose best estimator is one, also works.
        target_names : array-like of shape (n_classes,), default=None
            Overrides ``estimator.classes_`` in the legend.
        source_names : array-like of shape (n_source_units,), default=None
            Overrides the source's ``classes_`` on the x axis. The unit
            indices are used when the source has no ``classes_`` matching its
            output units.
        ax : matplotlib Axes, default=None
        colors : list of matplotlib colours, default=None
        bar_kw : dict, default=None
        selected_kw : dict, default=None
        legend : bool, default=True
        xticks_rotation : {"vertical", "horizontal"} or float, \
                default="horizontal"
            See :meth:`plot`.

        Returns
        -------
        display : RelationDisplay
        """
        _check_matplotlib("RelationDisplay.from_estimator")
        estimator = _unwrap_estimator(estimator)
        check_is_fitted(estimator)
        if not hasattr(estimator, "relation_"):
            raise TypeError(
                "RelationDisplay.from_estimator needs a fitted "
                f"AllTransferClassifier (with relation_); got "
                f"{type(estimator).__name__}. To plot a relation matrix you "
                "computed yourself, use RelationDisplay.from_relation."
            )
        relation = estimator.relation_
        if target_names is None:
            target_names = estimator.classes_
        if source_names is None:
            labels = getattr(getattr(estimator, "source_", None), "classes_", None)
            # A source's classes_ name its output units only when they match
            # one to one (a fitted transfer used as source does not).
            if labels is not None and len(labels) == relation.shape[1]:
                source_names = labels
        disp = cls(
            relation,
            target_names=target_names,
            source_names=source_names,
            selected_units=getattr(estimator, "selected_units_", None),
        )
        return disp.plot(
            ax=ax,
            colors=colors,
            bar_kw=bar_kw,
            selected_kw=selected_kw,
            legend=legend,
            xticks_rotation=xticks_rotation,
        )

    @classmethod
    def from_relation(
        cls,
        relation,
        *,
        target_names=None,
        source_names=None,
        selected_units=None,
        ax=None,
        colors=None,
        bar_kw=None,
        selected_kw=None,
        legend=True,
        xticks_rotation="horizontal",
    ):
        """Plot a relation matrix.

        Parameters
        ----------
        relation : array-like of shape (n_target_classes, n_source_units)
        target_names : array-like of shape (n_target_classes,), default=None
        source_names : array-like of shape (n_source_units,), default=None
        selected_units : array-like of shape (n_target_classes,), default=None
            See :class:`RelationDisplay`.
        ax : matplotlib Axes, default=None
        colors : list of matplotlib colours, default=None
        bar_kw : dict, default=None
        selected_kw : dict, default=None
        legend : bool, default=True
        xticks_rotation : {"vertical", "horizontal"} or float, \
                default="horizontal"
            See :meth:`plot`.

        Returns
        -------
        display : RelationDisplay
        """
        _check_matplotlib("RelationDisplay.from_relation")
        disp = cls(
            relation,
            target_names=target_names,
            source_names=source_names,
            selected_units=selected_units,
        )
        return disp.plot(
            ax=ax,
            colors=colors,
            bar_kw=bar_kw,
            selected_kw=selected_kw,
            legend=legend,
            xticks_rotation=xticks_rotation,
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
    estimator = _unwrap_estimator(obj)
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
    from ._stack import LayerStack

    try:
        stack = LayerStack.from_estimator(_unwrap_estimator(estimator_or_coefs))
    except (TypeError, ValueError):
        return 1
    shape = stack.family.image_shape(stack)
    return 1 if shape is None else int(shape[2])


def _image_shape(n_features, image_shape, channels=1):
    """``(height, width, channels)`` of one first-layer filter."""
    if image_shape is None:
        side = int(round(np.sqrt(n_features / channels)))
        if side * side * channels != n_features:
            raise ValueError(
                f"The first layer has {n_features} inputs, which is not a square "
                "number, so the image shape cannot be inferred; pass "
                "image_shape=(height, width) or (height, width, channels)."
            )
        return side, side, channels
    try:
        height, width, *rest = (int(s) for s in image_shape)
        if len(rest) > 1:
            raise ValueError
        channels = rest[0] if rest else 1
    except (TypeError, ValueError):
        raise ValueError(
            "image_shape must be a (height, width) or (height, width, channels) "
            f"tuple; got {image_shape!r}."
        ) from None
    if min(height, width, channels) < 1 or height * width * channels != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)} holds {height * width * channels} "
            f"values but the first layer has {n_features} inputs; pass a shape "
            "whose height * width (* channels) equals the number of input "
            "features."
        )
    return height, width, channels


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
        _check_matplotlib("FilterDisplay.plot")
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
            fig, ax = _new_axes(figsize=figsize)
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
        """Draw the first-layer filters of a fitted network.

        See :func:`plot_filters` for the parameters.

        Returns
        -------
        display : FilterDisplay
        """
        _check_matplotlib("FilterDisplay.from_estimator")
        W = _first_layer_weights(estimator_or_coefs)
        channels = _input_channels(estimator_or_coefs)
        height, width, channels = _image_shape(W.shape[0], image_shape, channels)
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


def plot_filters(
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

    The paper's Fig. 5: column ``j`` of ``coefs_[0]`` (the weights from every
    input pixel to hidden unit ``j``) is reshaped to the input image and
    drawn as one grayscale tile. The estimator is not modified.

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
        Holds ``filters`` (n_filters, height, width), ``units``, ``image_``,
        ``ax_`` and ``figure_``.

    See Also
    --------
    FilterDisplay : The display object returned.
    RelationDisplay : The relation between target and source classes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from skalltransfer import plot_filters
    >>> X, y = load_digits(return_X_y=True)
    >>> mlp = MLPClassifier((16,), max_iter=1000, random_state=0).fit(X / 16, y)
    >>> disp = plot_filters(mlp, n_filters=16)
    >>> disp.filters.shape
    (16, 8, 8)
    >>> plt.close(disp.figure_)
    """
    return FilterDisplay.from_estimator(
        estimator_or_coefs,
        n_filters=n_filters,
        units=units,
        image_shape=image_shape,
        ax=ax,
        n_cols=n_cols,
        cmap=cmap,
        scale=scale,
        padding=padding,
        figsize=figsize,
    )
