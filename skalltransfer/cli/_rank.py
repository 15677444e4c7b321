"""``skalltransfer rank``: score sources on a target folder without fine-tuning."""

import argparse
import os
import textwrap

from skalltransfer.cli._common import (
    DATA_ERRORS,
    SECURITY_NOTE,
    SOURCE_MODELS,
    CommandError,
    add_allow_pickle_argument,
    escape,
    image_size,
    load_user_model,
    one_line_doc,
    reported,
    seed,
    show_progress,
)
from skalltransfer.cli._sources import (
    fit_cli_source,
    make_source_model,
    quick_subsample,
)
from skalltransfer.sources._describe import describe_layers

# -- rank -----------------------------------------------------------------------
_SCORE_NAMES = {"leep": "LEEP", "nce": "NCE", "logme": "LogME", "knn": "k-NN"}


def _input_size(name, model):
    """``(height, width)`` of the square images the source ``model`` takes."""
    from skalltransfer._core._stack import LayerStack

    with reported(TypeError, ValueError, context=name):
        n_features = LayerStack.from_estimator(model).layer_sizes[0]
    return image_size(n_features, None, name, has_size_option=False)


def _rank(args):
    """Rank source networks by their transferability to the images in a folder."""
    from skalltransfer._source_cache._data import SourceData
    from skalltransfer._source_cache._location import get_cache_dir
    from skalltransfer.datasets import load_image_folder, load_mnist
    from skalltransfer.metrics._transferability import rank_sources

    if not os.path.exists(args.target_dir):
        raise CommandError(f"--target-dir {args.target_dir}: no such folder.")
    # The given sources are read and checked first: a bad one is reported
    # before the default sources are trained.
    given = {}
    for path in args.source:
        if not os.path.isfile(path):
            raise CommandError(f"--source {path}: no such file.")
        given[path] = load_user_model(path, "--source", args.allow_pickle)
    sizes = {name: _input_size(name, model) for name, model in given.items()}
    show_bar = show_progress(args)
    candidates = {}
    if args.source_model:
        X, y = load_mnist()
        if args.quick:
            X, y = quick_subsample(X, y)
        data = SourceData(X, y)
        with reported(OSError, context="--cache-dir"):
            cache_dir = get_cache_dir(args.cache_dir)
        for kind in args.source_model:
            model = make_source_model(kind, args.quick, args.random_state, 0)
            fitted, status = fit_cli_source(model, data, cache_dir, show_bar)
            name = f"{kind}: {type(model).__name__} {describe_layers(model)}"
            how = "from the cache" if status in ("memory", "disk") else "trained"
            print(f"Source {name}: {how}")
            candidates[name] = fitted
            sizes[name] = _input_size(name, fitted)
    candidates.update(given)
    if not candidates:
        raise CommandError("nothing to rank: name --source-model or --source.")

    # Sources of different input sizes see the images at their own size.
    by_size = {}
    for name, model in candidates.items():
        by_size.setdefault(sizes[name], {})[name] = model
    rows = []
    for size, group in by_size.items():
        with reported(*DATA_ERRORS, context=f"--target-dir {args.target_dir}"):
            X, y = load_image_folder(args.target_dir, size=size)
        with reported(ValueError, context="scoring"):
            ranking = rank_sources(group, X, y, method=args.method)
        rows += list(zip(ranking.source, ranking.score, ranking.seconds))
    rows.sort(key=lambda row: -row[1])
    print(
        f"Transferability ({_SCORE_NAMES[args.method]}, higher is better) of each "
        "source "
        f"to {len(y)} images of '{args.target_dir}':"
    )
    rows = [(escape(name), score, seconds) for name, score, seconds in rows]
    width = max(len(name) for name, _, _ in rows)
    for rank, (name, score, seconds) in enumerate(rows, start=1):
        print(f"  {rank}. {name:<{width}}  {score:9.4f}  ({seconds:.2f} s)")
    return 0


def add_rank_command(subparsers):
    parser = subparsers.add_parser(
        "rank",
        help=one_line_doc(_rank),
        description=textwrap.fill(
            "Score how well each source network should transfer to your images "
            "(LEEP, NCE, LogME or k-NN: one forward pass, no fine-tuning) and print "
            "them best first. The default sources are trained on the bundled MNIST "
            "subset, or read from the cache where they were trained before.",
            width=78,
        ),
        epilog="example: skalltransfer rank --target-dir patches/ --method logme"
        + "\n\n"
        + SECURITY_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target-dir",
        required=True,
        metavar="PATH",
        help="folder holding one sub-folder of images per class",
    )
    parser.add_argument(
        "--source-model",
        nargs="*",
        choices=SOURCE_MODELS,
        default=list(SOURCE_MODELS),
        help="default source networks to rank (default: all of them); none with "
        "an empty list",
    )
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH",
        help="a fitted source model saved as .skops (or as .joblib with "
        "--allow-pickle: load only files you trust) to rank too; its input must "
        "be a square image; repeat for several",
    )
    add_allow_pickle_argument(parser, "--source models")
    parser.add_argument(
        "--method", choices=("leep", "nce", "logme", "knn"), default="knn",
        help="the transferability score (default: knn, leave-one-out nearest "
        "neighbours on every hidden layer, which ranks sources best on the "
        "benchmarks, see docs/benchmarks.rst)",
    )  # fmt: skip
    parser.add_argument(
        "--random-state",
        type=seed,
        default=0,
        metavar="INT",
        help="seed of the default sources (default: 0)",
    )
    parser.add_argument("--cache-dir", default=None, metavar="DIR")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small default sources trained in seconds (to try the command)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_rank, verbose=0)
