"""Source models on the bundled MNIST subset: accuracy, throughput, fit time.

The split of issue 2: 4,000 training / 1,000 test images, stratified,
``random_state=0``. MPDBMClassifier, StackedAutoencoderClassifier and
ConvAutoencoderClassifier run with their default parameters; scikit-learn's
MLPClassifier(500, 500) is the peer, with a comparable budget (adam, early
stopping off, at most 200 epochs).

Run: ``python benchmarks/bench_source_models.py [--quick]``
"""

import argparse
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

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


def main(quick=False, only=None):
    X, y = load_mnist()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=4000, test_size=1000, stratify=y, random_state=0
    )
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
    main(**vars(parser.parse_args()))
