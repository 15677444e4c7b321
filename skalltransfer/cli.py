"""The ``skalltransfer`` command."""

import argparse
import sys
import time
import warnings


def _demo(args):
    """Train both source models on the bundled MNIST subset; print accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from . import MPDBMClassifier, StackedAutoencoderClassifier
    from .datasets import load_mnist

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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skalltransfer",
        description="Whole-layer transfer learning of deep networks on small datasets.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help=_demo.__doc__.splitlines()[0])
    demo.add_argument("-v", "--verbose", action="count", default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
