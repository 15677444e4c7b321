"""RelationDisplay: how strongly each target class relates to each source
output unit, and the units chosen (Fig. 3 of the seed paper)."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skalltransfer.plotting._style import (
    check_matplotlib,
    default_colors,
    literal_label,
    merge_style,
    new_axes,
    unwrap_estimator,
)


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
        check_matplotlib("RelationDisplay.plot")
        relation, targets, sources, units = self._validated()
        n_classes, n_units = relation.shape
        if ax is None:
            fig, ax = new_axes(
                figsize=(min(12.0, max(6.4, 0.35 * n_units * n_classes)), 4.0)
            )
        else:
            fig = ax.figure
        if colors is None:
            colors = default_colors(n_classes)
        elif len(colors) != n_classes:
            raise ValueError(
                f"colors has {len(colors)} entries but there are {n_classes} "
                "target classes; pass one colour per class."
            )

        # Group the bars of all classes around each unit, as in the paper.
        width = 0.8 / n_classes
        positions = np.arange(n_units)
        selected_style = merge_style(
            {"edgecolor": "black", "linewidth": 1.5, "hatch": "///"}, selected_kw
        )
        self.bars_ = []
        self.markers_ = None if units is None else []
        top = float(relation.max())
        for c in range(n_classes):
            x = positions + (c - (n_classes - 1) / 2) * width
            style = merge_style({"color": colors[c], "label": targets[c]}, bar_kw)
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
        check_matplotlib("RelationDisplay.from_estimator")
        estimator = unwrap_estimator(estimator)
        check_is_fitted(estimator)
        if not hasattr(estimator, "relation_"):
            raise TypeError(
                "RelationDisplay.from_estimator needs a fitted "
                f"AllTransferClassifier (with relation_); got "
                f"{type(estimator).__name__}. To plot a relation matrix you "
                "computed yourself, use RelationDisplay.from_relation."
            )
        relation = estimator.relation_
        # Class labels are data (e.g. folder names): drawn letter for letter,
        # whereas names passed here may be matplotlib formulas.
        if target_names is None:
            target_names = [literal_label(c) for c in estimator.classes_]
        if source_names is None:
            labels = getattr(getattr(estimator, "source_", None), "classes_", None)
            # A source's classes_ name its output units only when they match
            # one to one (a fitted transfer used as source does not).
            if labels is not None and len(labels) == relation.shape[1]:
                source_names = [literal_label(c) for c in labels]
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
        check_matplotlib("RelationDisplay.from_relation")
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
