"""The figures of a reproduction run (relation, filters, learning curves)."""

import os

from skalltransfer.datasets._mnist import FASHION_MNIST_CLASSES
from skalltransfer.reproduce._report import summary


def save_figures(profile, fits, scores, out, log):
    """Relation histograms (Figs. 3, 4, 6), first-layer filters (Fig. 5) and
    accuracy-vs-n curves, as PNG files; skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no figures (pip install matplotlib).")
        return []
    from skalltransfer.plotting._filters import FilterDisplay
    from skalltransfer.plotting._relation import RelationDisplay

    n = max(profile.n_per_class)
    figures = []
    task = profile.tasks[0]
    names = [FASHION_MNIST_CLASSES[c] for c in task]
    for fname, method, caption in [
        ("relation_mpdbm.png", "MP-DBM relation", "Relation, MP-DBM source (Fig. 3)"),
        (
            "relation_mpdbm_narrow.png",
            "MP-DBM narrow",
            "Relation, narrow MP-DBM source (Fig. 4)",
        ),
        ("relation_sae.png", "SAE relation", "Relation, SAE source (Fig. 6)"),
    ]:
        clf = fits.get((n, method))
        if clf is None:
            continue
        display = RelationDisplay.from_estimator(clf, target_names=names)
        display.ax_.set_title(caption)
        display.figure_.savefig(
            os.path.join(out, "figures", fname), dpi=110, bbox_inches="tight"
        )
        plt.close(display.figure_)
        figures.append((fname, caption))
    pair = [fits.get((n, "MP-DBM T=0")), fits.get((n, "MP-DBM relation"))]
    if all(clf is not None for clf in pair):
        fig, axes = plt.subplots(1, 2, figsize=(10, 5))
        for ax, clf, title in zip(axes, pair, ["(A) T=0", "(B) T=all (proposed)"]):
            FilterDisplay.from_estimator(clf, n_filters=36, ax=ax)
            ax.set_title(title)
        fig.savefig(
            os.path.join(out, "figures", "filters.png"), dpi=110, bbox_inches="tight"
        )
        plt.close(fig)
        figures.append(("filters.png", "First-layer weights (Fig. 5)"))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, name in CURVES:
        points = [
            (n, summary(scores, profile.tasks, n, name)) for n in profile.n_per_class
        ]
        points = [(n, s) for n, s in points if s is not None]
        if points:
            ax.errorbar(
                [n for n, _ in points],
                [s[0] for _, s in points],
                yerr=[s[1] for _, s in points],
                marker="o",
                capsize=3,
                label=label,
            )
    ax.set_xscale("log")
    ax.set_xlabel("training images per class")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(
        os.path.join(out, "figures", "accuracy_vs_n.png"), dpi=110, bbox_inches="tight"
    )
    plt.close(fig)
    figures.append(("accuracy_vs_n.png", "Accuracy against training set size"))
    return figures


# Methods drawn in the accuracy-vs-n figure.
CURVES = (
    ("MP-DBM, T=all (proposed)", "MP-DBM relation"),
    ("MP-DBM, random units", "MP-DBM random"),
    ("MP-DBM, T=0", "MP-DBM T=0"),
    ("SAE, T=all", "SAE relation"),
    (
        "AllTransferClassifier defaults (MP-DBM)",
        "AllTransferClassifier defaults (MP-DBM)",
    ),
    ("AllTransferClassifier defaults (SAE)", "AllTransferClassifier defaults (SAE)"),
    (
        "AllTransferClassifier defaults (conv)",
        "AllTransferClassifier defaults (conv)",
    ),
    ("Raw pixels + linear SVM", "Raw pixels + linear SVM"),
)
