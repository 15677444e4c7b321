"""``skalltransfer reproduce``: the seed paper's tables."""

import argparse
import os

from skalltransfer.cli._common import (
    DATA_ERRORS,
    MAX_SEED,
    CommandError,
    one_line_doc,
    positive_int,
    reported,
    seed,
)
from skalltransfer.datasets._mnist import FASHION_MNIST_CLASSES

# The report gives the mean and the standard deviation over the draws.
MIN_DRAWS = 3


# -- reproduce ------------------------------------------------------------------
def _check_sizes(profile):
    """Refuse an ``n_per_class`` larger than the chosen target data holds for
    a class of a task, before any source is trained."""
    import warnings

    import numpy as np

    from skalltransfer.datasets._tasks import load_target

    # run_experiment reads the same arrays again and warns then if the full
    # set is missing.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, y_train, _, _ = load_target(profile.target)
    subset = profile.target == "subset" or bool(caught)
    classes = sorted({c for task in profile.tasks for c in task})
    counts = {c: int(np.count_nonzero(y_train == c)) for c in classes}
    smallest = min(classes, key=counts.get)
    largest = max(profile.n_per_class)
    if largest > counts[smallest]:
        if profile.target == "subset":
            hint = (
                " or use the full set (--target full, from Debian's "
                "dataset-fashion-mnist)"
            )
        elif subset:
            hint = (
                " or install the full set (apt-get install dataset-fashion-mnist), "
                "which --target full reads"
            )
        else:
            hint = ""
        where = "the bundled Fashion-MNIST subset" if subset else "Fashion-MNIST"
        raise CommandError(
            f"--n-per-class {largest}: {where} holds {counts[smallest]} training "
            f"images of class {smallest} ({FASHION_MNIST_CLASSES[smallest]}); pass "
            f"at most {counts[smallest]}{hint}."
        )


def _reproduce(args):
    """Reproduce the paper's Tables II-V; write report.md, results.json, figures."""
    import dataclasses

    from skalltransfer._source_cache._location import get_cache_dir
    from skalltransfer.reproduce._profiles import PROFILES
    from skalltransfer.reproduce._run import run_experiment

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CommandError(
            f"--out {args.out} is a file; pass a folder (created if missing)."
        )
    profile = PROFILES[args.profile]
    changes = {}
    if args.n_per_class:
        changes["n_per_class"] = tuple(args.n_per_class)
    if args.draws:
        changes["n_draws"] = args.draws
    if args.tasks:
        changes["tasks"] = tuple(args.tasks)
    if args.target:
        changes["target"] = args.target
    profile = dataclasses.replace(profile, **changes)
    if args.random_state + profile.n_draws - 1 > MAX_SEED:
        # Draw d is seeded with random_state + d.
        raise CommandError(
            f"--random-state {args.random_state}: the draws are seeded with "
            f"--random-state + 0 ... {profile.n_draws - 1}, which must stay at most "
            f"{MAX_SEED}; pass at most {MAX_SEED - profile.n_draws + 1}."
        )
    with reported(*DATA_ERRORS, context="reading the target data"):
        _check_sizes(profile)
    with reported(OSError, ValueError, context="--cache-dir"):
        get_cache_dir(args.cache_dir)
    print(
        f"skalltransfer reproduce --profile {profile.name}: tasks {profile.tasks}, "
        f"n per class {profile.n_per_class}, {profile.n_draws} draws -> {args.out}",
        flush=True,
    )
    with reported(*DATA_ERRORS):
        run_experiment(
            profile,
            args.out,
            random_state=args.random_state,
            cache_dir=args.cache_dir,
            progress=not args.no_progress,
        )
    return 0


def _task(text):
    n_classes = len(FASHION_MNIST_CLASSES)
    usage = (
        f"a task is two or more distinct Fashion-MNIST class numbers (0 to "
        f"{n_classes - 1}) separated by commas, e.g. 1,3"
    )
    try:
        classes = tuple(int(c) for c in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{usage}; got {text!r}") from None
    outside = [c for c in classes if not 0 <= c < n_classes]
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if outside:
        problem = f"{outside[0]} is not a class number"
    elif repeated:
        problem = f"class {repeated[0]} is named twice (a duplicate)"
    elif len(classes) < 2:
        problem = "it names a single class"
    else:
        return classes
    raise argparse.ArgumentTypeError(f"{usage}; in {text!r}, {problem}")


def _draws(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < MIN_DRAWS:
        raise argparse.ArgumentTypeError(
            f"expected an integer of at least {MIN_DRAWS} (the report gives the "
            f"standard deviation over the draws), got {text!r}"
        )
    return value


def add_reproduce_command(subparsers):
    parser = subparsers.add_parser(
        "reproduce",
        help=one_line_doc(_reproduce),
        description=(
            "Train (or load from the cache) the MP-DBM, stacked-autoencoder and "
            "convolutional sources on the bundled MNIST subset, transfer them to "
            "Fashion-MNIST tasks and write the analogues of the seed paper's "
            "Tables II-V (and a table for the convolutional source, the paper's "
            "future work), with the paper's numbers alongside, to OUT/report.md "
            "(plus results.json and PNG figures). The quick profile takes "
            "minutes with an empty cache; the full one, with the paper's "
            "architectures, much longer."
        ),
    )
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    parser.add_argument("--out", default="skalltransfer-report", help="output folder")
    parser.add_argument(
        "--tasks", nargs="+", type=_task, metavar="C1,C2[,...]",
        help="Fashion-MNIST class numbers (0 to 9) of each target task "
        "(default: profile's)",
    )  # fmt: skip
    parser.add_argument(
        "--target", choices=("subset", "full"),
        help="bundled Fashion-MNIST subset, or the full set from Debian's "
        "dataset-fashion-mnist",
    )  # fmt: skip
    parser.add_argument(
        "--n-per-class", nargs="+", type=positive_int, metavar="N",
        help="training images per class of each draw, at most what the target "
        "data hold per class (1,200 in the bundled subset; default: profile's)",
    )  # fmt: skip
    parser.add_argument(
        "--draws", type=_draws, metavar="INT",
        help=f"draws per n (>= {MIN_DRAWS}; default: profile's)",
    )  # fmt: skip
    parser.add_argument("--random-state", type=seed, default=0, metavar="INT")
    parser.add_argument("--cache-dir", help="source cache (default: user cache)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=_reproduce)
