"""
==============================================
Relating target classes to source output units
==============================================

The three steps of whole-layer transfer (Sawada & Kozuka) on the bundled
data:

A. train a multi-prediction deep Boltzmann machine (MP-DBM) on MNIST digits;
B. feed two Fashion-MNIST classes through it and measure, for each class,
   which of the ten digit units answers (the relation :math:`p_c(v)`, the
   paper's Fig. 3), then select one unit per class;
C. fine-tune every layer, the output layer included, so that the selected
   units answer for the new classes.

The X-ray CT patches of the paper are not public; two Fashion-MNIST classes
stand in for "lesion" and "non-lesion".
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` (set when the documentation is built in CI)
# trains a small network on a fifth of the digits for one epoch, then a short
# discriminative stage, so that the example runs in seconds; the numbers
# printed are then only indicative.
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import AllTransferClassifier, MPDBMClassifier, RelationDisplay
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_mnist,
    make_target_task,
)

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
# The short training budgets below stop before formal convergence.
warnings.simplefilter("ignore", ConvergenceWarning)

if QUICK:
    source_params = {
        "hidden_layer_sizes": (64, 64),
        "n_mean_field_iter": 5,
        "max_iter": 1,
        "discriminative_max_iter": 30,
    }
    source_rows = slice(None, None, 5)  # 1,000 of the 5,000 digits
    n_per_class, finetune_epochs = 20, 10
else:
    source_params = {"hidden_layer_sizes": (500, 500), "max_iter": 20}
    source_rows = slice(None)
    n_per_class, finetune_epochs = 100, 50

# %%
# A. The source network
# ---------------------
# 5,000 MNIST digits are bundled with the package. The MP-DBM has the
# paper's structure (784, 500, 500, 10) in the full build.
X_source, y_source = load_mnist()
X_source, y_source = X_source[source_rows], y_source[source_rows]
source = MPDBMClassifier(**source_params, random_state=0).fit(X_source, y_source)
print(f"source training accuracy: {source.score(X_source, y_source):.3f}")

# %%
# B. The target task and the relation
# -----------------------------------
# Two Fashion-MNIST classes, a few dozen images each. The test images come
# from the separate test split of the bundled subset.
fashion = load_fashion_mnist_subset(return_X_y=False)
fashion_test = load_fashion_mnist_subset(split="test", return_X_y=False)
classes = [1, 8]  # Trouser, Bag
target_names = [str(fashion.target_names[c]) for c in classes]

X_train, y_train = make_target_task(
    fashion.data, fashion.target, classes, n_per_class, random_state=0
)
X_test, y_test = make_target_task(
    fashion_test.data, fashion_test.target, classes, 200, random_state=0
)
print(f"target task: {target_names}, {len(y_train)} training images")

# %%
# ``fit`` computes the relation, selects the units and fine-tunes. The
# relation is that of the *source* network (before fine-tuning).
clf = AllTransferClassifier(source, max_iter=finetune_epochs, random_state=0)
clf.fit(X_train, y_train)

with np.printoptions(precision=2, suppress=True):
    print("relation p_c(v), one row per target class:")
    print(clf.relation_)
for name, unit in zip(target_names, clf.selected_units_):
    print(f"{name!r} is answered by source unit {unit} (digit {source.classes_[unit]})")
print(f"output scale applied before fine-tuning: {clf.output_scale_:.2f}")

# %%
# The relation as grouped bars, as in the paper's Fig. 3: for every digit
# unit, the fraction of each class's images for which it is the strongest
# output. Hatched bars and triangles mark the selected units. With
# ``relation="mean"`` the bars are instead the mean output of the source
# network over each class (the All-Transfer sepsis paper), and the network
# learns to output these vectors.
clf_mean = AllTransferClassifier(
    source, relation="mean", max_iter=finetune_epochs, random_state=0
).fit(X_train, y_train)

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for estimator, ax, title in zip(
    [clf, clf_mean], axes, ['relation="count" (eqs. 3-5)', 'relation="mean"']
):
    RelationDisplay.from_estimator(estimator, target_names=target_names, ax=ax)
    ax.set_ylim(0, 1.1)
    ax.set_title(title)
fig.tight_layout()

# %%
# C. Fine-tuned classifiers
# -------------------------
# Both classifiers were fine-tuned by ``fit``. The count relation predicts
# through the selected units (their outputs renormalised); the mean relation
# predicts the class with the nearest relation vector. The paper's Table II
# compares units chosen by the relation with arbitrary ones:
# ``selection="random"`` reproduces that control.
clf_random = AllTransferClassifier(
    source, selection="random", max_iter=finetune_epochs, random_state=0
).fit(X_train, y_train)

for label, estimator in [
    ("units from the relation", clf),
    (f"random units {clf_random.selected_units_.tolist()}", clf_random),
    ("mean relation vectors", clf_mean),
]:
    print(f"{label:>32}: test accuracy {estimator.score(X_test, y_test):.3f}")

# %%
# A single draw of a small training set is a noisy estimate; compare
# settings with cross-validation, as in
# :ref:`sphx_glr_auto_examples_plot_cross_val_score.py`.
