"""
============================================
Does transfer help? Cross-validated accuracy
============================================

The question every user of a small dataset asks first: does a network
transferred from digits beat one trained on my images alone, and a plain
linear model? This example answers it with ``cross_val_score`` on a small
target task, comparing

- whole-layer transfer (``n_transferred_layers="all"``);
- the same architecture trained from scratch (``n_transferred_layers=0``);
- a linear SVM on the raw pixels (the paper's Table V baseline).

The source network is fitted once, before the cross-validation, and shared
by every fold: it is never refitted nor modified.
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` shrinks the networks, their source data,
# the epochs and the folds.
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC

from skalltransfer import AllTransferClassifier, FilterDisplay, MPDBMClassifier
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_mnist,
    make_target_task,
)

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
warnings.simplefilter("ignore", ConvergenceWarning)

if QUICK:
    source_params = {
        "hidden_layer_sizes": (64, 64),
        "n_mean_field_iter": 5,
        "max_iter": 1,
        "discriminative_max_iter": 30,
    }
    source_rows = slice(None, None, 5)  # 1,000 of the 5,000 digits
    epochs, n_repeats = 10, 1
else:
    source_params = {"hidden_layer_sizes": (500, 500), "max_iter": 20}
    source_rows = slice(None)
    epochs, n_repeats = 40, 2

# %%
# Source and target
# -----------------
# The source is the paper's MP-DBM trained on the bundled MNIST digits; the
# target task is two Fashion-MNIST classes with 30 images each: T-shirt/top
# against Shirt, a hard pair.
X_source, y_source = load_mnist()
X_source, y_source = X_source[source_rows], y_source[source_rows]
source = MPDBMClassifier(**source_params, random_state=0).fit(X_source, y_source)

X, y = load_fashion_mnist_subset()
X_target, y_target = make_target_task(X, y, [0, 6], n_per_class=30, random_state=0)

# %%
# Cross-validation
# ----------------
# Stratified 5-fold cross-validation, repeated with different shuffles in
# the full build. All three models see exactly the same folds.
cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=n_repeats, random_state=0)
source_weights = [W.copy() for W in source.coefs_]
models = {
    "whole-layer transfer\n(T=all)": AllTransferClassifier(
        source, n_transferred_layers="all", max_iter=epochs, random_state=0
    ),
    "no transfer\n(T=0)": AllTransferClassifier(
        source, n_transferred_layers=0, max_iter=epochs, random_state=0
    ),
    "linear SVM\n(raw pixels)": LinearSVC(),
}
scores = {}
for name, model in models.items():
    scores[name] = cross_val_score(model, X_target, y_target, cv=cv)
    label = name.replace("\n", " ")
    print(f"{label:>28}: {scores[name].mean():.3f} ± {scores[name].std():.3f}")

# %%
# The transfer fits of every fold used the same source and left its weights
# untouched:
unchanged = all(np.array_equal(a, b) for a, b in zip(source_weights, source.coefs_))
n_fits = 2 * cv.get_n_splits()
print(f"source weights unchanged after {n_fits} transfer fits: {unchanged}")

fig, ax = plt.subplots(figsize=(6, 4))
names = list(scores)
ax.bar(
    names,
    [scores[n].mean() for n in names],
    yerr=[scores[n].std() for n in names],
    capsize=6,
    color=["C0", "C1", "C7"],
)
ax.set_ylim(0.4, 1.0)
ax.set_ylabel("accuracy (mean ± std over folds)")
ax.set_title(f"{len(y_target)} target images, {cv.get_n_splits()} folds")
fig.tight_layout()

# %%
# What the transfer kept
# ----------------------
# The paper's Fig. 5 compares the first-layer weights of a network trained
# from scratch with those of the all-transfer network (it found the latter
# "more complex"). Here both are fitted on all 60 target images; each tile is
# the incoming weights of one unit of the first hidden layer.
fitted = {
    name: model.fit(X_target, y_target)
    for name, model in models.items()
    if isinstance(model, AllTransferClassifier)
}
fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
for ax, (name, model) in zip(axes, fitted.items()):
    FilterDisplay.from_estimator(model, n_filters=36, ax=ax)
    ax.set_title(name.replace("\n", " "))
fig.tight_layout()
