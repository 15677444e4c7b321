"""
=========================================
Active fine-tuning: which images to label
=========================================

Labels are the expensive part of a small medical dataset. This example
simulates an annotator with the true labels of a pool of Fashion-MNIST
images and compares, for a transferred network, three ways of choosing the
next images to label (see :ref:`active`):

- at random (the baseline);
- by predictive entropy (the most uncertain images first);
- by AIFT (entropy and disagreement over shifted copies of each image).

Each round labels a batch of images and fine-tunes the previous round's
network on all labels gathered so far.
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` shrinks the network, its source data, the pool
# and the number of rounds and repetitions.
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import AllTransferClassifier, StackedAutoencoderClassifier
from skalltransfer.active import (
    ActiveTransferLearner,
    AIFTSampling,
    EntropySampling,
    RandomSampling,
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
    n_pool_per_class, n_rounds, n_repeats, epochs = 50, 3, 1, 10
    source_rows = slice(None, None, 5)  # 1,000 of the 5,000 digits
else:
    source_params = {
        "hidden_layer_sizes": (500, 500),
        "pretrain_max_iter": 10,
        "max_iter": 40,
    }
    n_pool_per_class, n_rounds, n_repeats, epochs = 300, 8, 3, 50
    source_rows = slice(None)
batch_size = 10

# %%
# Source network, pool and validation set
# ---------------------------------------
# The pool is unlabelled at the start (all labels NaN); the oracle holds the
# labels the annotator would give. The validation images only measure the
# learning curve; they are never used for training or selection.
X_source, y_source = load_mnist()
X_source, y_source = X_source[source_rows], y_source[source_rows]
source = StackedAutoencoderClassifier(**source_params, random_state=0)
source.fit(X_source, y_source)

classes = [0, 6]  # T-shirt/top, Shirt
X, y = load_fashion_mnist_subset()
X_pool, y_true = make_target_task(X, y, classes, n_pool_per_class, random_state=0)
X_test, y_test = load_fashion_mnist_subset(split="test")
X_val, y_val = make_target_task(X_test, y_test, classes, 200, random_state=0)

y_unlabelled = np.full(len(y_true), np.nan)

# %%
# The loop
# --------
# ``fit`` labels ``batch_size`` random images, then runs ``n_rounds`` rounds
# of query, label and fine-tune. ``history_`` records the validation accuracy
# after every fit.
strategies = {
    "random": RandomSampling(),
    "entropy": EntropySampling(),
    "AIFT": AIFTSampling(),
}
curves = {}
for name, strategy in strategies.items():
    runs = []
    for repeat in range(n_repeats):
        learner = ActiveTransferLearner(
            AllTransferClassifier(source, max_iter=epochs, random_state=repeat),
            strategy,
            batch_size=batch_size,
            n_rounds=n_rounds,
            random_state=repeat,
        )
        learner.fit(X_pool, y_unlabelled, oracle=y_true, X_val=X_val, y_val=y_val)
        runs.append(learner.history_["score"])
    curves[name] = (learner.history_["n_labels"], np.array(runs))
    print(
        f"{name:>8}: accuracy after {curves[name][0][-1]} labels "
        f"{curves[name][1][:, -1].mean():.3f}"
    )

# %%
# Learning curves
# ---------------
fig, ax = plt.subplots(figsize=(6, 4))
for name, (n_labels, runs) in curves.items():
    mean = runs.mean(axis=0)
    ax.plot(n_labels, mean, marker="o", label=name)
    if n_repeats > 1:
        std = runs.std(axis=0)
        ax.fill_between(n_labels, mean - std, mean + std, alpha=0.2)
ax.set_xlabel("labelled images")
ax.set_ylabel("validation accuracy")
ax.set_title(f"pool of {len(y_true)} images, {n_repeats} repetition(s)")
ax.legend()
fig.tight_layout()

# %%
# All strategies start from the same random batch of a given repetition. With
# one batch of 10 images per round and a single repetition the curves are
# noisy; rerun with more repetitions, a larger pool and your own data before
# drawing conclusions. Without an ``oracle``, ``fit`` does one step of a
# session with a human annotator: it proposes the next batch in
# ``learner.query_indices_``.
