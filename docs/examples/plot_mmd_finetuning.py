"""
=====================================
MMD-regularised fine-tuning (DAN)
=====================================

When the source images are at hand, fine-tuning can also pull the hidden
codes of source and target images together: the loss gets
:math:`\\lambda \\cdot \\mathrm{MK\\text{-}MMD}^2` between the two on the top
hidden layer (Long et al.'s Deep Adaptation Network; see
:ref:`schemes-mmd`). This example

- fine-tunes a stacked-autoencoder source on a small Fashion-MNIST task with
  several values of ``mmd_lambda`` (0 is plain fine-tuning),
- measures, with :func:`~skalltransfer.metrics.multi_kernel_mmd2`, how far
  the source and target codes of the fitted network are apart,
- and scores each setting by cross-validation on the target set, which is
  how :math:`\\lambda` should be chosen.

The source data is passed as a :class:`~skalltransfer.SourceData` handle:
the folds never slice it, and the fitted source is shared by every fold.
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
from sklearn.model_selection import StratifiedKFold, cross_val_score

from skalltransfer import (
    AllTransferClassifier,
    SourceData,
    StackedAutoencoderClassifier,
)
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_mnist,
    make_target_task,
)
from skalltransfer.metrics import multi_kernel_mmd2

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
warnings.simplefilter("ignore", ConvergenceWarning)

if QUICK:
    source_params = {
        "hidden_layer_sizes": (64, 32),
        "pretrain_max_iter": 1,
        "max_iter": 5,
    }
    epochs, n_folds, lambdas = 10, 3, [0.0, 1.0, 10.0]
    source_rows = slice(None, None, 5)  # 1,000 of the 5,000 digits
else:
    source_params = {"hidden_layer_sizes": (500, 500)}
    epochs, n_folds, lambdas = 60, 5, [0.0, 0.3, 1.0, 3.0, 10.0]
    source_rows = slice(None)

# %%
# Source and target
# -----------------
# The source network is fitted once on the bundled MNIST digits. The target
# task is Sneaker against Ankle boot, 30 images of each.
X_source, y_source = load_mnist()
X_source, y_source = X_source[source_rows], y_source[source_rows]
source = StackedAutoencoderClassifier(**source_params, random_state=0)
source.fit(X_source, y_source)
source_data = SourceData(X_source, y_source)

X, y = load_fashion_mnist_subset()
X_target, y_target = make_target_task(X, y, [7, 9], n_per_class=30, random_state=0)

# %%
# Fine-tuning with and without the penalty
# ----------------------------------------
# For each :math:`\lambda`, fit on the whole target set to measure the
# discrepancy of the top hidden codes (``transform``), then score the same
# setting by cross-validation.
rng = np.random.RandomState(0)
source_sample = X_source[rng.choice(len(X_source), 200, replace=False)]
cv = StratifiedKFold(n_folds, shuffle=True, random_state=0)

discrepancy, scores = [], []
for lam in lambdas:
    clf = AllTransferClassifier(
        source,
        source_data=source_data,
        mmd_lambda=lam,
        max_iter=epochs,
        random_state=0,
    )
    clf.fit(X_target, y_target)
    codes_source, codes_target = clf.transform(source_sample), clf.transform(X_target)
    discrepancy.append(multi_kernel_mmd2(codes_source, codes_target))
    scores.append(cross_val_score(clf, X_target, y_target, cv=cv))
    print(
        f"mmd_lambda={lam:<5g} MK-MMD² of the codes {discrepancy[-1]:.3f}   "
        f"accuracy {scores[-1].mean():.3f} ± {scores[-1].std():.3f}"
    )

# %%
# The penalty brings the codes together; whether that helps the target task
# is an empirical question, answered by the cross-validated accuracy (the
# source digits and the target shoes share no labels, so aligning their codes
# can also blur what separates the target classes).
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.5))
positions = np.arange(len(lambdas))
ax0.bar(positions, discrepancy, color="tab:blue")
ax0.set_ylabel("MK-MMD² of the top hidden codes")
ax1.errorbar(
    positions,
    [s.mean() for s in scores],
    yerr=[s.std() for s in scores],
    marker="o",
    capsize=3,
)
ax1.set_ylabel(f"{n_folds}-fold CV accuracy")
for ax in (ax0, ax1):
    ax.set_xticks(positions, [f"{lam:g}" for lam in lambdas])
    ax.set_xlabel("mmd_lambda")
fig.tight_layout()
plt.show()
