"""
=====================================================
Searching over source architecture and transfer depth
=====================================================

``GridSearchCV`` over the source network's architecture and the number of
transferred layers :math:`T`, the two choices of the paper's Tables III and
IV. The source is given **unfitted**, with the source data in a
:class:`~skalltransfer.SourceData` handle and a disk cache in
``source_memory``: each architecture is trained once, however many folds and
values of :math:`T` use it.
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` shrinks the networks, their source data and
# the epochs.
import os
import shutil
import tempfile
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skalltransfer import (
    AllTransferClassifier,
    SourceData,
    StackedAutoencoderClassifier,
    clear_cache,
)
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_mnist,
    make_target_task,
)

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
warnings.simplefilter("ignore", ConvergenceWarning)

if QUICK:
    architectures = [(32,), (64, 32)]
    source_params = {"pretrain_max_iter": 1, "max_iter": 5}
    source_rows = slice(None, None, 5)  # 1,000 of the 5,000 digits
    epochs = 10
else:
    architectures = [(500,), (500, 50), (500, 500)]
    source_params = {"pretrain_max_iter": 10, "max_iter": 40}
    source_rows = slice(None)
    epochs = 100

# %%
# The estimator and the grid
# --------------------------
# The source's ``random_state`` must be an integer: only then is a fitted
# source reproducible, hence cacheable. ``n_transferred_layers`` must not
# exceed the number of weight layers of the smallest architecture, here 2
# for a single hidden layer; ``"all"`` adapts to each.
X_source, y_source = load_mnist()
X_source, y_source = X_source[source_rows], y_source[source_rows]
X, y = load_fashion_mnist_subset()
X_target, y_target = make_target_task(X, y, [5, 7], n_per_class=30, random_state=0)

cache_dir = tempfile.mkdtemp(prefix="skalltransfer-sources-")
clear_cache(cache_dir)  # start from empty caches, for the count

clf = AllTransferClassifier(
    StackedAutoencoderClassifier(**source_params, random_state=0),
    source_data=SourceData(X_source, y_source),
    source_memory=cache_dir,
    max_iter=epochs,
    random_state=0,
)
param_grid = {
    "source__hidden_layer_sizes": architectures,
    "n_transferred_layers": [0, 1, "all"],
}
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
search = GridSearchCV(clf, param_grid, cv=cv, n_jobs=1)

start = time.perf_counter()
search.fit(X_target, y_target)
print(f"search took {time.perf_counter() - start:.1f} s")

# %%
# How many sources were trained?
# ------------------------------
# The disk cache holds one entry per source fit: a directory with the
# source's arrays (``arrays.npz``) and an ``entry.json`` file.
n_source_fits = sum("entry.json" in files for _, _, files in os.walk(cache_dir))
n_transfer_fits = len(search.cv_results_["params"]) * cv.get_n_splits() + 1
print(f"{n_transfer_fits} transfer fits (candidates x folds + refit)")
print(f"{n_source_fits} source fits, one per architecture")
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# A second search, or a later session, pointing ``source_memory`` at the same
# directory loads the sources instead of training them. With ``n_jobs > 1``
# the workers share them through that directory as well.
#
# The results as a table
# ----------------------
results = search.cv_results_
T_values = param_grid["n_transferred_layers"]
table = np.full((len(architectures), len(T_values)), np.nan)
for params, score in zip(results["params"], results["mean_test_score"]):
    i = architectures.index(params["source__hidden_layer_sizes"])
    j = T_values.index(params["n_transferred_layers"])
    table[i, j] = score

fig, ax = plt.subplots(figsize=(6, 1.2 + 0.8 * len(architectures)))
image = ax.imshow(table, cmap="viridis", vmin=np.nanmin(table), vmax=1.0)
for (i, j), score in np.ndenumerate(table):
    ax.text(j, i, f"{score:.3f}", ha="center", va="center", color="w")
ax.set_xticks(range(len(T_values)), [f"T={t}" for t in T_values])
ax.set_yticks(
    range(len(architectures)),
    [f"784-{'-'.join(map(str, a))}-10" for a in architectures],
)
ax.set_xlabel("n_transferred_layers")
ax.set_ylabel("source architecture")
ax.set_title("mean cross-validated accuracy")
fig.colorbar(image, ax=ax)
fig.tight_layout()

# %%
# The cache directory of this example was temporary; remove it.
shutil.rmtree(cache_dir)
