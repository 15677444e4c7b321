"""
====================================
Four ways to reuse a trained network
====================================

Direct use, structure reuse, feature extraction and fine-tuning (see
:ref:`schemes`), side by side on two small target tasks drawn from the
bundled data:

- a **similar** task: two MNIST digits the source network never saw (its
  classes are source classes, so even direct use applies);
- a **different** task: two Fashion-MNIST classes (direct use does not
  apply).

Each scheme is trained on a few images per class and scored on held-out
images, over several random draws of the training set.
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` shrinks the networks, their source data,
# the epochs and the draws.
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skalltransfer import (
    AllTransferClassifier,
    DirectTransferClassifier,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
)
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_mnist,
    make_target_task,
)

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
warnings.simplefilter("ignore", ConvergenceWarning)

if QUICK:
    source_params = {
        "hidden_layer_sizes": (64, 32),
        "pretrain_max_iter": 1,
        "max_iter": 5,
    }
    n_per_class, n_draws, epochs = 10, 2, 10
    source_rows = slice(None, None, 4)  # 1,000 of the 4,000 source digits
else:
    source_params = {
        "hidden_layer_sizes": (500, 500),
        "pretrain_max_iter": 10,
        "max_iter": 40,
    }
    n_per_class, n_draws, epochs = 10, 5, 100
    source_rows = slice(None)

# %%
# The source network
# ------------------
# A stacked denoising autoencoder trained on 4,000 of the bundled MNIST
# digits; the other 1,000 are kept for the "similar" target task.
X, y = load_mnist()
X_source, X_digits, y_source, y_digits = train_test_split(
    X, y, train_size=4000, stratify=y, random_state=0
)
source = StackedAutoencoderClassifier(**source_params, random_state=0)
source.fit(X_source[source_rows], y_source[source_rows])
n_layers = len(source.coefs_)  # L, the number of weight layers

# %%
# The two target tasks
# --------------------
# The held-out digits are split into a pool to draw training images from and
# a test set. For the digits, the labels stay the digits themselves
# (``relabel=False``) so that direct use can map them to the source's
# classes; the Fashion-MNIST labels become 0 and 1.
X_digits_pool, X_digits_test, y_digits_pool, y_digits_test = train_test_split(
    X_digits, y_digits, test_size=0.5, stratify=y_digits, random_state=0
)
X_fashion, y_fashion = load_fashion_mnist_subset()
X_fashion_test, y_fashion_test = load_fashion_mnist_subset(split="test")

# name: (training pool, test set, classes, relabel)
tasks = {
    "similar: digits 3 vs 8": (
        (X_digits_pool, y_digits_pool),
        (X_digits_test, y_digits_test),
        [3, 8],
        False,
    ),
    "different: Pullover vs Coat": (
        (X_fashion, y_fashion),
        (X_fashion_test, y_fashion_test),
        [2, 4],
        True,
    ),
}

# %%
# The schemes
# -----------
# One factory per scheme; ``None`` marks a scheme that does not apply.
finetune = {"max_iter": epochs, "random_state": 0}


def make_schemes(task_is_similar):
    return {
        "direct use": DirectTransferClassifier(source) if task_is_similar else None,
        "structure reuse\n(T=0)": AllTransferClassifier(
            source, n_transferred_layers=0, **finetune
        ),
        "feature extraction\n(top hidden layer)": make_pipeline(
            SourceFeatures(source), LogisticRegression(max_iter=1000)
        ),
        f"fine-tuning,\nnew output layer\n(T={n_layers - 1})": AllTransferClassifier(
            source, n_transferred_layers=n_layers - 1, **finetune
        ),
        "fine-tuning,\ntruncated\n(k chosen by CV)": TruncatedTransferClassifier(
            source, cv=3, **finetune
        ),
        "whole-layer\n(T=all)": AllTransferClassifier(
            source, n_transferred_layers="all", **finetune
        ),
    }


# %%
# Scoring
# -------
# Each draw takes ``n_per_class`` training images per class from the pool;
# every scheme is scored on all test images of the two classes.
results = {}
for task, ((X_pool, y_pool), (X_test, y_test), classes, relabel) in tasks.items():
    in_task = np.isin(y_test, classes)
    X_test, y_test = X_test[in_task], y_test[in_task]
    if relabel:
        y_test = np.searchsorted(classes, y_test)
    scores = {}
    for draw in range(n_draws):
        X_train, y_train = make_target_task(
            X_pool, y_pool, classes, n_per_class, random_state=draw, relabel=relabel
        )
        for name, estimator in make_schemes(task.startswith("similar")).items():
            if estimator is None:
                continue
            estimator.fit(X_train, y_train)
            scores.setdefault(name, []).append(estimator.score(X_test, y_test))
    results[task] = scores
    print(task)
    for name, values in scores.items():
        label = name.replace("\n", " ")
        print(f"  {label:>45}: {np.mean(values):.3f} ± {np.std(values):.3f}")

# %%
# Side by side
# ------------
names = list(make_schemes(True))
width = 0.38
fig, ax = plt.subplots(figsize=(11, 4.5))
for i, task in enumerate(results):
    means = [np.mean(results[task].get(name, np.nan)) for name in names]
    stds = [np.std(results[task].get(name, np.nan)) for name in names]
    positions = np.arange(len(names)) + (i - 0.5) * width
    ax.bar(positions, means, width, yerr=stds, capsize=3, label=task)
    for x, mean in zip(positions, means):
        if np.isnan(mean):
            ax.text(x, 0.42, "n/a", ha="center", fontsize=9)
ax.set_xticks(np.arange(len(names)), names, fontsize=8)
ax.set_ylim(0.4, 1.0)
ax.set_ylabel("test accuracy (mean ± std over draws)")
ax.set_title(f"{n_per_class} training images per class")
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# Direct use needs no training at all, but only applies when the target
# classes are source classes. On the different task the schemes that keep
# more of the source network constrain the fit more; which one wins depends
# on the data and on the number of images. Repeat the comparison on your own
# data (with cross-validation) before choosing, and see the benchmark for
# how the ranking changes with the training-set size.
