"""
===================================
Transfer to a folder of your images
===================================

The workflow for your own images: one sub-folder per class, loaded with
:func:`~skalltransfer.datasets.load_image_folder`, transferred from a network
trained on digits, evaluated by cross-validation (accuracy and AUROC), saved,
and applied to new images.

Real patient images cannot ship with the documentation, so the example first
writes a folder of synthetic 40 × 40 "patches": a round bright blob on a
dark textured background ("lesion"), or an elongated bright streak, like a
vessel, on the same background ("non-lesion"). As in MNIST, the background is
dark (near 0) and the structures bright; images scaled the other way round
would relate poorly to the digits.
"""

# %%
# Settings
# --------
# ``SKALLTRANSFER_DOCS_QUICK=1`` shrinks the network, its source data, the
# epochs and the images.
import os
import shutil
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate

from skalltransfer import (
    AllTransferClassifier,
    RelationDisplay,
    StackedAutoencoderClassifier,
    load_model,
    save_model,
)
from skalltransfer.datasets import load_image_folder, load_images, load_mnist

QUICK = os.environ.get("SKALLTRANSFER_DOCS_QUICK", "0") not in ("", "0")
warnings.simplefilter("ignore", ConvergenceWarning)

if QUICK:
    source_params = {
        "hidden_layer_sizes": (64, 32),
        "pretrain_max_iter": 1,
        "max_iter": 5,
    }
    n_per_class, epochs = 30, 10
    source_rows = slice(None, None, 5)  # 1,000 of the 5,000 digits
else:
    source_params = {
        "hidden_layer_sizes": (500, 500),
        "pretrain_max_iter": 10,
        "max_iter": 40,
    }
    n_per_class, epochs = 100, 100
    source_rows = slice(None)

# %%
# Writing a folder of images
# --------------------------
# Any image tool that saves PNG, JPEG, TIFF or BMP files produces the same
# layout: ``root/<class name>/<image file>``.
SIZE = 40
yy, xx = np.mgrid[:SIZE, :SIZE]


def background(rng):
    texture = gaussian_filter(rng.standard_normal((SIZE, SIZE)), sigma=3)
    return 0.05 + 0.3 * texture + 0.05 * rng.standard_normal((SIZE, SIZE))


def lesion(rng):
    cy, cx = rng.uniform(12, SIZE - 12, size=2)
    radius = rng.uniform(2.5, 5.0)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    return background(rng) + rng.uniform(0.5, 1.0) * blob


def non_lesion(rng):
    angle = rng.uniform(0, np.pi)
    offset = rng.uniform(-8, 8)
    distance = (xx - SIZE / 2) * np.sin(angle) - (yy - SIZE / 2) * np.cos(angle)
    streak = np.exp(-((distance - offset) ** 2) / (2 * rng.uniform(1.0, 2.0) ** 2))
    return background(rng) + rng.uniform(0.5, 1.0) * streak


def write_images(root, make, n, rng, prefix):
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        pixels = np.clip(make(rng), 0, 1)
        image = Image.fromarray((255 * pixels).astype(np.uint8))
        image.save(os.path.join(root, f"{prefix}{i:03d}.png"))


rng = np.random.RandomState(0)
workdir = tempfile.mkdtemp(prefix="skalltransfer-images-")
patches = os.path.join(workdir, "patches")
write_images(os.path.join(patches, "lesion"), lesion, n_per_class, rng, "L")
write_images(os.path.join(patches, "non-lesion"), non_lesion, n_per_class, rng, "N")
print(sorted(os.listdir(patches)), len(os.listdir(os.path.join(patches, "lesion"))))

# %%
# Loading
# -------
# ``size=(28, 28)`` brings the 40 × 40 images to the source's input size;
# pixels are scaled to [0, 1] and the labels are the folder names.
X, y = load_image_folder(patches, size=(28, 28))
print(X.shape, X.dtype, f"[{X.min():.2f}, {X.max():.2f}]", np.unique(y))

fig, axes = plt.subplots(2, 6, figsize=(8, 3))
for row, label in enumerate(np.unique(y)):
    for ax, image in zip(axes[row], X[y == label][:6]):
        ax.imshow(image.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
    axes[row, 0].set_title(label, loc="left", fontsize=10)
fig.tight_layout()

# %%
# Transfer and cross-validation
# -----------------------------
# A source network trained on the bundled digits; every fold of the
# cross-validation fine-tunes a copy of it. With two classes, the ``roc_auc``
# scorer uses the estimator's ``decision_function``.
X_source, y_source = load_mnist()
X_source, y_source = X_source[source_rows], y_source[source_rows]
source = StackedAutoencoderClassifier(**source_params, random_state=0)
source.fit(X_source, y_source)

clf = AllTransferClassifier(source, max_iter=epochs, random_state=0)
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
scores = cross_validate(clf, X, y, cv=cv, scoring=["accuracy", "roc_auc"])
for metric in ("accuracy", "roc_auc"):
    values = scores[f"test_{metric}"]
    print(f"{metric:>8}: {values.mean():.3f} ± {values.std():.3f} over 5 folds")

# %%
# Which digit does each class resemble?
# -------------------------------------
# Fitted on all images, the relation shows which source unit answers for
# each class (the paper found "0" for lesions and "1" for non-lesions in its
# CT data).
clf.fit(X, y)
RelationDisplay.from_estimator(clf)

# %%
# Saving and applying the model
# -----------------------------
# :func:`~skalltransfer.save_model` writes the fitted classifier (with its
# source) as a ``.skops`` file, which :func:`~skalltransfer.load_model` reads
# back without running any code from it (unlike a pickle).
# :func:`~skalltransfer.datasets.load_images` reads unlabelled images the
# same way as the training images.
model_path = os.path.join(workdir, "model.skops")
save_model(clf, model_path)

new_images = os.path.join(workdir, "new")
write_images(new_images, lesion, 3, rng, "a")
write_images(new_images, non_lesion, 3, rng, "b")
X_new, paths = load_images(new_images, size=(28, 28))

model = load_model(model_path)
for path, label, proba in zip(paths, model.predict(X_new), model.predict_proba(X_new)):
    print(f"{os.path.basename(path)}: {label} (p = {proba.max():.2f})")

shutil.rmtree(workdir)
