"""``skalltransfer reproduce``: the seed paper's tables."""

import argparse

from skalltransfer.cli._common import (
    DATA_ERRORS,
    one_line_doc,
    positive_int,
    reported,
)


# -- reproduce ------------------------------------------------------------------
def _reproduce(args):
    """Reproduce the paper's Tables II-V; write report.md, results.json, figures."""
    import dataclasses

    from skalltransfer.reproduce._profiles import PROFILES
    from skalltransfer.reproduce._run import run_experiment

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
    try:
        classes = tuple(int(c) for c in text.split(","))
    except ValueError:
        classes = ()
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise argparse.ArgumentTypeError(
            f"a task is two or more distinct Fashion-MNIST class numbers "
            f"separated by commas, e.g. 1,3; got {text!r}"
        )
    return classes


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
        help="Fashion-MNIST class numbers of each target task (default: profile's)",
    )  # fmt: skip
    parser.add_argument(
        "--target", choices=("subset", "full"),
        help="bundled Fashion-MNIST subset, or the full set from Debian's "
        "dataset-fashion-mnist",
    )  # fmt: skip
    parser.add_argument("--n-per-class", nargs="+", type=positive_int)
    parser.add_argument("--draws", type=positive_int, help="draws per n (>= 3)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--cache-dir", help="source cache (default: user cache)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=_reproduce)
