"""Datasets for transfer learning on small image datasets.

Two small datasets are bundled with the package and always available offline:

- :func:`load_mnist` with no path: 5,000 MNIST digits (500 per class), a
  typical *source* dataset;
- :func:`load_fashion_mnist_subset`: a stratified Fashion-MNIST subset, the
  default *target* dataset.

The other loaders read data you already have; nothing is ever downloaded:
IDX files (:func:`load_idx`, :func:`load_mnist`, :func:`load_fashion_mnist`),
MedMNIST ``.npz`` files (:func:`load_medmnist`) and image files
(:func:`load_image_folder`, :func:`load_images`). All of them return float32
images scaled to [0, 1] and flattened to ``(n_samples, n_pixels)``.
:func:`make_target_task` draws a small class-balanced target task.
"""

from skalltransfer.datasets._idx import load_idx
from skalltransfer.datasets._images import load_image_folder, load_images
from skalltransfer.datasets._medmnist import load_medmnist
from skalltransfer.datasets._mnist import (
    load_fashion_mnist,
    load_fashion_mnist_subset,
    load_mnist,
)
from skalltransfer.datasets._target import make_target_task

__all__ = [
    "load_fashion_mnist",
    "load_fashion_mnist_subset",
    "load_idx",
    "load_image_folder",
    "load_images",
    "load_medmnist",
    "load_mnist",
    "make_target_task",
]
