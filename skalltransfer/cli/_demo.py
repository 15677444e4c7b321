"""``skalltransfer demo``."""

import time
import warnings

from skalltransfer.cli._common import one_line_doc


# -- demo -----------------------------------------------------------------------
def _demo(args):
    """Train the SAE and MP-DBM sources on the bundled MNIST subset; print accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from skalltransfer.datasets import load_mnist
    from skalltransfer.sources._autoencoder import StackedAutoencoderClassifier
    from skalltransfer.sources._mpdbm import MPDBMClassifier

    X, y = load_mnist()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=4000, test_size=1000, stratify=y, random_state=0
    )
    print(f"MNIST subset: {len(X_train)} training and {len(X_test)} test images")
    models = [
        StackedAutoencoderClassifier(random_state=0, verbose=args.verbose),
        MPDBMClassifier(random_state=0, verbose=args.verbose),
    ]
    for model in models:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        print(
            f"{type(model).__name__}: test accuracy {model.score(X_test, y_test):.2%} "
            f"({seconds:.0f} s)",
            flush=True,
        )
    return 0


def add_demo_command(subparsers):
    demo = subparsers.add_parser("demo", help=one_line_doc(_demo))
    demo.add_argument("-v", "--verbose", action="count", default=0)
    demo.set_defaults(func=_demo)
