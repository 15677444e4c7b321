"""Source models on the bundled MNIST subset: accuracy, throughput, fit time.

The split of issue 2: 4,000 training / 1,000 test images, stratified,
``random_state=0``. MPDBMClassifier, StackedAutoencoderClassifier and
ConvAutoencoderClassifier run with their default parameters; scikit-learn's
MLPClassifier(500, 500) is the peer, with a comparable budget (adam, early
stopping off, at most 200 epochs).

``--data digits`` runs the same models on scikit-learn's 8 x 8 digits
instead (``X / 16`` as float32, a stratified 70 / 30 split,
``random_state=0``: 1,257 training and 540 test images; the conv source,
built for 28 x 28 images, is left out). ``--check-classifiers-train`` runs
scikit-learn's ``check_classifiers_train`` (and its ``readonly_memmap``
variant) on the default ``MPDBMClassifier(random_state=0)`` in a
``MinMaxScaler(clip=True)`` pipeline, and reports pass or fail with the
time it took.

Run: ``python benchmarks/bench_source_models.py [--quick] [--data digits]
[--only NAME ...] [--check-classifiers-train]``
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_classifiers_train

from skalltransfer import (
    ConvAutoencoderClassifier,
    MPDBMClassifier,
    StackedAutoencoderClassifier,
)
from skalltransfer.datasets import load_mnist


def epochs_of(model):
    """Training passes over the data (pretraining epochs included)."""
    if isinstance(model, (StackedAutoencoderClassifier, ConvAutoencoderClassifier)):
        return model.n_iter_ + sum(len(c) for c in model.pretrain_loss_curves_)
    return model.n_iter_


def load_split(data):
    """The benchmark's train/test split of ``data`` ("mnist" or "digits")."""
    if data == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    X, y = load_mnist()
    return train_test_split(
        X, y, train_size=4000, test_size=1000, stratify=y, random_state=0
    )


def run_check_classifiers_train():
    """scikit-learn's check_classifiers_train on the default MP-DBM in a
    MinMaxScaler pipeline (both data variants): pass or fail, and seconds."""
    estimator = make_pipeline(MinMaxScaler(clip=True), MPDBMClassifier(random_state=0))
    for readonly in (False, True):
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                check_classifiers_train("MPDBM", estimator, readonly_memmap=readonly)
            status = "PASS"
        except AssertionError as error:
            status = f"FAIL ({error!r})"
        seconds = time.perf_counter() - start
        print(
            f"check_classifiers_train(readonly_memmap={readonly}): {status}, "
            f"{seconds:.0f} s",
            flush=True,
        )


def main(quick=False, only=None, data="mnist", check_train=False):
    if check_train:
        run_check_classifiers_train()
        return
    X_train, X_test, y_train, y_test = load_split(data)
    models = {
        "MPDBMClassifier()": MPDBMClassifier(random_state=0),
        "StackedAutoencoderClassifier()": StackedAutoencoderClassifier(random_state=0),
        "ConvAutoencoderClassifier()": ConvAutoencoderClassifier(random_state=0),
        "MLPClassifier((500, 500))": MLPClassifier(
            (500, 500), max_iter=200, random_state=0
        ),
    }
    if quick:
        models["MPDBMClassifier()"].set_params(max_iter=3)
        models["StackedAutoencoderClassifier()"].set_params(
            pretrain_max_iter=1, max_iter=3
        )
        models["ConvAutoencoderClassifier()"].set_params(
            pretrain_max_iter=1, max_iter=1
        )
        models["MLPClassifier((500, 500))"].set_params(max_iter=3)
    if data == "digits":
        del models["ConvAutoencoderClassifier()"]
    if only:
        models = {k: v for k, v in models.items() if any(o in k for o in only)}
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = model.score(X_test, y_test)
        throughput = epochs_of(model) * len(X_train) / seconds
        rows.append((name, accuracy, throughput, seconds, epochs_of(model)))
        print(f"done: {name}", flush=True)

    print()
    print("| model | test accuracy | training samples/s | fit time (s) | epochs |")
    print("|---|---|---|---|---|")
    for name, accuracy, throughput, seconds, epochs in rows:
        cells = [name, f"{accuracy:.2%}", f"{throughput:,.0f}", f"{seconds:.1f}"]
        print("| " + " | ".join([*cells, str(epochs)]) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs only")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        help="models whose name contains one of these",
    )
    parser.add_argument(
        "--data",
        choices=["mnist", "digits"],
        default="mnist",
        help="the 4,000 / 1,000 MNIST split (default) or the 8 x 8 digits split",
    )
    parser.add_argument(
        "--check-classifiers-train",
        dest="check_train",
        action="store_true",
        help="run scikit-learn's check_classifiers_train on the default MP-DBM "
        "in a MinMaxScaler pipeline instead",
    )
    main(**vars(parser.parse_args()))
