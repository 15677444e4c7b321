"""What the displays share: the matplotlib import, axes, colours and style
keywords."""

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


def literal_label(value):
    """``value`` as a label matplotlib draws letter for letter: a ``$``
    would start a formula (and a malformed one fails the drawing), and a
    byte of a folder name that is not UTF-8 (a lone surrogate) cannot be
    drawn, so it shows as its escape."""
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("$", r"\$")


def check_matplotlib(caller):
    """Import matplotlib or raise an ImportError naming the fix."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, an optional dependency of "
            f"skalltransfer. {_INSTALL_HINT}"
        ) from exc


def new_axes(figsize=None):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def merge_style(default, user):
    style = dict(default)
    for key, value in (user or {}).items():
        style[_STYLE_ALIASES.get(key, key)] = value
    return style


def default_colors(n):
    """``n`` colours from matplotlib's current colour cycle, repeated if needed."""
    import matplotlib as mpl

    cycle = mpl.rcParams["axes.prop_cycle"].by_key().get("color") or ["C0"]
    return [cycle[i % len(cycle)] for i in range(n)]


def unwrap_estimator(estimator):
    """The transfer estimator inside a fitted search or Pipeline."""
    if hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator
