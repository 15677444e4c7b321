"""
===================================================
A convolutional source, transferred whole
===================================================

Fully-connected sources learnt from 5,000 digits carry little to other
images: on the development tasks their transfer ties a linear SVM on raw
pixels (:ref:`bench-development`). A convolutional source learns local
stroke and edge detectors that do carry over. This example

A. trains :class:`~skalltransfer.ConvAutoencoderClassifier` (stacked
   convolutional denoising autoencoders, Masci et al. 2011, then dense layers
   and a softmax) on the bundled MNIST digits and draws its first-layer
   kernels (the paper's Fig. 5 analogue);
B. transfers every layer, the output layer included, to a two-class
   Fashion-MNIST task with :class:`~skalltransfer.AllTransferClassifier`, and
   shows the relation of the target classes to the digit units;
C. compares it, by cross-validation on the same few dozen images, with the
   same network trained from scratch and with a linear SVM on raw pixels.
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` (set when the documentation is built in CI)
# trains a small network for three epochs on a fifth of the digits, so that
# the example runs in seconds; the numbers printed are then only indicative. The
# full settings are the defaults (under a minute on 2 cores).
import os
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    FilterDisplay,
    RelationDisplay,
)
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_mnist,
    make_target_task,
)

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
# The short training budgets below stop before formal convergence.
warnings.simplefilter("ignore", ConvergenceWarning)

X_source, y_source = load_mnist()
if QUICK:
    source_params = dict(
        conv_layers=((8, 5), (16, 5)),
        hidden_layer_sizes=(64,),
        pretrain_max_iter=1,
        max_iter=3,
    )
    X_source, y_source = X_source[::5], y_source[::5]  # the subset is sorted
    finetune_epochs = 10
else:
    source_params = {}  # the defaults: conv 5x5x32 -> pool -> 5x5x64 -> pool
    finetune_epochs = 100

# %%
# A. The convolutional source
# ---------------------------
# Every image row is read as a 28 x 28 image (``image_shape=None`` infers a
# square). Each conv layer is first pretrained as a denoising autoencoder on
# the pooled maps of the layer below, then the whole network is trained on
# the digit labels with random shifts of up to 2 pixels.
source = ConvAutoencoderClassifier(**source_params, random_state=0)
source.fit(X_source, y_source)
print(f"source training accuracy: {source.score(X_source, y_source):.3f}")
print("weight layers (conv and dense):", [W.shape for W in source.coefs_])

# %%
# The first layer's kernels: each column of ``coefs_[0]`` is one 5 x 5
# kernel, drawn as a tile.
display = FilterDisplay.from_estimator(source, n_filters=None, figsize=(4, 4))
display.ax_.set_title("First-layer 5 x 5 kernels")

# %%
# B. Whole-layer transfer to a small target task
# ----------------------------------------------
# Coat and Shirt, the hardest pair of the development benchmark, with 20
# training images per class.
fashion = load_fashion_mnist_subset(return_X_y=False)
classes = [4, 6]
target_names = [str(fashion.target_names[c]) for c in classes]
X, y = make_target_task(fashion.data, fashion.target, classes, 20, random_state=0)

clf = AllTransferClassifier(source, max_iter=finetune_epochs, random_state=0)
clf.fit(X, y)
for name, unit in zip(target_names, clf.selected_units_):
    print(f"{name!r} is answered by digit unit {source.classes_[unit]}")
print(f"output scale applied before fine-tuning: {clf.output_scale_:.2f}")
print(f"transferability (LEEP) of the source: {clf.transferability_:.3f}")

RelationDisplay.from_estimator(clf, target_names=target_names)

# %%
# C. With and without transfer, on the same images
# ------------------------------------------------
# ``n_transferred_layers=0`` trains the same architecture from random
# weights; the linear SVM sees the raw pixels. The source is fitted once and
# shared by every fold (it is never refitted or modified).
cv = StratifiedKFold(4, shuffle=True, random_state=0)
candidates = {
    "conv source, every layer transferred": clf,
    "same network, no transfer (T=0)": AllTransferClassifier(
        source, n_transferred_layers=0, max_iter=finetune_epochs, random_state=0
    ),
    "linear SVM on raw pixels": LinearSVC(random_state=0),
}
for label, estimator in candidates.items():
    scores = cross_val_score(estimator, X, y, cv=cv)
    print(f"{label:>38}: {scores.mean():.3f} ± {scores.std():.3f}")

# %%
# Cross-validation on 40 images is noisy; the development benchmark
# (``benchmarks/bench_alltransfer.py``, six tasks x 3 draws, the full test
# split) measures the same comparison: see :ref:`bench-conv`.
plt.show()
