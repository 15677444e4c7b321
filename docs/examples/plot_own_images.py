"""
=====================================================
Your own images: 16-bit files and a grey background
=====================================================

Two things that go silently wrong with real image folders, and the loader
options that fix them:

A. **16-bit files with 12-bit content**, as many scanners write them.
   Divided by the 16-bit maximum (65,535), their values land in [0, 0.06]
   and look nothing like the images the source was trained on.
   :func:`~skalltransfer.datasets.load_image_folder` divides by the bit
   depth the images actually use (``intensity="auto"``, the default).
B. **A mid-grey background**, against the dark background and bright
   content of the MNIST digits the bundled sources learnt from. Fitting a
   transfer on such images raises
   :class:`~skalltransfer.ImageConventionWarning`; loading them with
   ``intensity="per-image"`` (each image stretched to [0, 1]) fixes it, as
   ``invert="auto"`` fixes a bright background.

The folders are written from the bundled Fashion-MNIST images (sandals,
sneakers and ankle boots) to a temporary directory.
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` shrinks the source network, its data, the
# epochs and the number of images; the accuracies printed are then only
# indicative (the measured ones are on the benchmarks page,
# :ref:`bench-own-images`).
import os
import shutil
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score

from skalltransfer import (
    AllTransferClassifier,
    ImageConventionWarning,
    StackedAutoencoderClassifier,
)
from skalltransfer.datasets import (
    load_fashion_mnist_subset,
    load_image_folder,
    load_mnist,
    make_target_task,
)

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
warnings.simplefilter("ignore", ConvergenceWarning)

if QUICK:
    source_params = {"hidden_layer_sizes": (64,), "pretrain_max_iter": 0}
    source_params["max_iter"] = 5
    n_per_class, epochs, source_rows = 10, 10, slice(None, None, 5)
else:
    source_params = {"hidden_layer_sizes": (500, 500)}
    n_per_class, epochs, source_rows = 40, 100, slice(None)

# %%
# Writing the folders
# -------------------
# One sub-folder per class; the same images three ways: 8-bit PNGs, 16-bit
# PNGs holding 12-bit values (0 to 4095), and 8-bit PNGs on a mid-grey
# background (``0.5 + 0.5 x``).
CLASSES = {5: "sandal", 7: "sneaker", 9: "ankle_boot"}
X_task, y_task = make_target_task(
    *load_fashion_mnist_subset(),
    classes=list(CLASSES),
    n_per_class=n_per_class,
    random_state=0,
    relabel=False,
)
values = np.rint(X_task * 255).reshape(-1, 28, 28)  # 8-bit values
copies = {
    "8-bit": values.astype(np.uint8),
    "16-bit": np.rint(values * (4095 / 255)).astype(np.uint16),
    "grey": np.rint(127.5 + 0.5 * values).astype(np.uint8),
}
workdir = tempfile.mkdtemp(prefix="skalltransfer-own-images-")
folders = {}
for name, images in copies.items():
    folders[name] = os.path.join(workdir, name)
    for i, (image, label) in enumerate(zip(images, y_task)):
        class_dir = os.path.join(folders[name], CLASSES[label])
        os.makedirs(class_dir, exist_ok=True)
        Image.fromarray(image).save(os.path.join(class_dir, f"{i:03d}.png"))
print(sorted(os.listdir(folders["16-bit"])))

# %%
# A. The 16-bit folder
# --------------------
# ``return_info=True`` also returns what was done to the images. By default
# the loader finds that the 16-bit files use 12 bits and divides by 4095:
# the result matches the 8-bit copy to within 1/255.
X, y = load_image_folder(folders["8-bit"])
X16, y16, info = load_image_folder(folders["16-bit"], return_info=True)
print(info)
print(f"largest difference to the 8-bit copy: {np.abs(X16 - X).max():.5f}")

# %%
# Dividing by the 16-bit maximum instead, as ``intensity="dtype"`` does,
# leaves the images nearly black.
X16_dtype, _, info_dtype = load_image_folder(
    folders["16-bit"], intensity="dtype", return_info=True
)
print(info_dtype["intensity"], f"-> largest value {X16_dtype.max():.3f}")

# %%
# B. The grey-background folder
# -----------------------------
# A source network trained on the bundled digits records what its training
# images look like; a transfer to images with another background warns,
# naming the fix.
X_source, y_source = load_mnist()
source = StackedAutoencoderClassifier(**source_params, random_state=0)
source.fit(X_source[source_rows], y_source[source_rows])
clf = AllTransferClassifier(source, max_iter=epochs, random_state=0)

X_grey, _ = load_image_folder(folders["grey"])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ImageConventionWarning)
    clf.fit(X_grey, y)
for warning in caught:
    if warning.category is ImageConventionWarning:
        print(warning.message)

# %%
# Loaded with ``intensity="per-image"``, each image is stretched from its
# own minimum to its own maximum: the grey background becomes 0 again, and
# the same fit raises no warning.
X_fixed, _, info_fixed = load_image_folder(
    folders["grey"], intensity="per-image", return_info=True
)
print(info_fixed)
with warnings.catch_warnings():
    warnings.simplefilter("error", ImageConventionWarning)
    clf.fit(X_fixed, y)
print("no warning")

# %%
# The same cross-validation (the same folds) on the original, on the grey
# copy as loaded by default, and on the grey copy loaded per image:
cv = StratifiedKFold(n_splits=3 if QUICK else 5, shuffle=True, random_state=0)
loadings = {
    "8-bit original": X,
    "grey, defaults": X_grey,
    'grey, intensity="per-image"': X_fixed,
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImageConventionWarning)
    for name, data in loadings.items():
        scores = cross_val_score(clf, data, y, cv=cv)
        print(f"{name:>28}: {scores.mean():.2f} ± {scores.std():.2f}")

# %%
# What each loading gives
# -----------------------
# The first image of each class, drawn on the same [0, 1] scale.
shown = {
    "8-bit": X,
    '16-bit, "dtype"': X16_dtype,
    '16-bit, "auto"': X16,
    "grey, defaults": X_grey,
    'grey, "per-image"': X_fixed,
}
first = [np.flatnonzero(y == label)[0] for label in np.unique(y)]
fig, axes = plt.subplots(len(first), len(shown), figsize=(8, 5))
for col, (title, data) in enumerate(shown.items()):
    axes[0, col].set_title(title, fontsize=9)
    for row, index in enumerate(first):
        axes[row, col].imshow(data[index].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        axes[row, col].set_axis_off()
fig.tight_layout()

shutil.rmtree(workdir)
