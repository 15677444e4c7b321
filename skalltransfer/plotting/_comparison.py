"""TransferComparisonDisplay: cross-validated scores of a transfer and of the
models it is compared with, fold by fold."""

import numpy as np

from skalltransfer.plotting._style import check_matplotlib, default_colors, new_axes


class TransferComparisonDisplay:
    """Scores of several candidates on the same cross-validation folds.

    One column per candidate: a dot per fold, a grey line joining each fold's
    scores across the candidates (the folds are shared, so a difference is
    read fold by fold), and the mean with one standard deviation. Create it
    with :meth:`skalltransfer.model_selection.TransferComparison.plot`, or
    from scores directly.

    Parameters
    ----------
    scores : dict of {str: array-like of shape (n_folds,)}
        Per-fold scores of each candidate, all on the same folds, in the
        order to draw them.
    score_name : str, default="accuracy"
        Name of the score, for the axis label.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skalltransfer.plotting import TransferComparisonDisplay
    >>> disp = TransferComparisonDisplay(
    ...     {"transfer": [0.9, 0.8, 0.95], "no transfer": [0.85, 0.8, 0.9]}
    ... ).plot()
    >>> plt.close(disp.figure_)
    """

    def __init__(self, scores, *, score_name="accuracy"):
        self.scores = scores
        self.score_name = score_name

    def plot(self, ax=None, *, figsize=None):
        """Draw the per-fold scores.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        figsize : (float, float), default=None
            Size of a new figure (ignored when ``ax`` is given).

        Returns
        -------
        display : TransferComparisonDisplay
        """
        check_matplotlib("TransferComparisonDisplay.plot")
        names = list(self.scores)
        values = [np.asarray(self.scores[name], dtype=float) for name in names]
        n_folds = {len(v) for v in values}
        if len(names) < 1 or len(n_folds) != 1:
            raise ValueError(
                "scores must map each candidate to its scores on the same folds "
                f"(the same number of folds), got {dict(zip(names, map(len, values)))}."
            )
        if ax is None:
            fig, ax = new_axes(figsize or (1.6 + 1.6 * len(names), 3.6))
        else:
            fig = ax.figure
        table = np.column_stack(values)  # (n_folds, n_candidates)
        positions = np.arange(len(names))
        for fold in table:
            ax.plot(positions, fold, color="0.8", linewidth=1, zorder=1)
        for i, color in enumerate(default_colors(len(names))):
            ax.scatter(np.full(len(table), i), table[:, i], color=color, zorder=2)
            ax.errorbar(
                i + 0.18,
                table[:, i].mean(),
                yerr=table[:, i].std(),
                fmt="s",
                color=color,
                capsize=4,
                zorder=3,
            )
        ax.set_xticks(positions)
        ax.set_xticklabels(names, rotation=15, ha="right")
        ax.set_xlim(-0.5, len(names) - 0.3)
        ax.set_ylabel(f"{self.score_name} per fold")
        ax.set_title("Cross-validated, on the same folds")
        self.ax_, self.figure_ = ax, fig
        return self
