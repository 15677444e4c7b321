"""``skalltransfer rank``: score sources on a target folder without fine-tuning."""

import argparse
import os
import textwrap

import numpy as np

from skalltransfer.cli._common import (
    DATA_ERRORS,
    SECURITY_NOTE,
    SOURCE_MODELS,
    CommandError,
    add_allow_pickle_argument,
    escape,
    load_user_model,
    no_information_leep,
    one_line_doc,
    reported,
    seed,
    show_progress,
)
from skalltransfer.cli._images import (
    add_image_arguments,
    declared_image_shape,
    describe_images,
    image_warnings,
    input_images,
    loader_options,
)
from skalltransfer.cli._sources import (
    fit_cli_source,
    make_source_model,
    quick_subsample,
)
from skalltransfer.sources._describe import describe_layers

# -- rank -----------------------------------------------------------------------
_SCORE_NAMES = {"leep": "LEEP", "nce": "NCE", "logme": "LogME", "knn": "k-NN"}


def _input_images(name, model, color):
    """``((height, width), color)`` of the images the source ``model``
    takes."""
    from skalltransfer._core._stack import LayerStack

    with reported(TypeError, ValueError, context=name):
        n_features = LayerStack.from_estimator(model).layer_sizes[0]
    return input_images(
        n_features, declared_image_shape(model), None, color, name, False
    )


def _reference(method, X, codes, n_classes):
    """``(label, value)`` a score of ``method`` is read against: for LEEP
    and NCE, the score of a source whose outputs are the same for every
    image (minus the entropy of the class frequencies); for k-NN and LogME,
    the same score on the raw pixels."""
    from skalltransfer.metrics._transferability import (
        knn_from_features,
        logme_from_features,
    )

    if method in ("leep", "nce"):
        return "no information", no_information_leep(codes)
    score = {"knn": knn_from_features, "logme": logme_from_features}[method]
    return "raw pixels (no source)", score(X, codes, n_classes)


_HOW_TO_READ = {
    "leep": "LEEP is at most 0; {ref} is what a source whose outputs say nothing "
    "about your classes scores (minus the entropy of the class frequencies): "
    "the further above it, the more the source's outputs tell your classes "
    "apart.",
    "nce": "NCE is at most 0; {ref} is what a source whose outputs say nothing "
    "about your classes scores (minus the entropy of the class frequencies): "
    "the further above it, the more the source's outputs tell your classes "
    "apart.",
    "knn": "k-NN is the leave-one-out nearest-neighbour balanced accuracy of "
    "your labels on a source's features (chance: {chance}); a source above "
    "the raw-pixel line ({ref}) separates your classes better than the pixels "
    "do.",
    "logme": "LogME is the evidence of a linear model of your labels on a "
    "source's features; a source above the raw-pixel line ({ref}) describes "
    "your classes better than the pixels do.",
}


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
    images = {
        name: _input_images(name, model, args.color) for name, model in given.items()
    }
    show_bar = show_progress(args)
    candidates = {}
    if args.source_model:
        X, y = load_mnist()
        if args.quick:
            X, y = quick_subsample(X, y)
        data = SourceData(X, y)
        with reported(OSError, ValueError, context="--cache-dir"):
            cache_dir = get_cache_dir(args.cache_dir)
        for kind in args.source_model:
            model = make_source_model(kind, args.quick, args.random_state, 0)
            fitted, status = fit_cli_source(model, data, cache_dir, show_bar)
            name = f"{kind}: {type(model).__name__} {describe_layers(model)}"
            how = "from the cache" if status in ("memory", "disk") else "trained"
            print(f"Source {name}: {how}")
            candidates[name] = fitted
            images[name] = _input_images(name, fitted, args.color)
    candidates.update(given)
    if not candidates:
        raise CommandError("nothing to rank: name --source-model or --source.")

    # Sources of different input sizes or colours see the images as they
    # take them.
    by_images = {}
    for name, model in candidates.items():
        by_images.setdefault(images[name], {})[name] = model
    rows, references = [], []
    for (size, color), group in by_images.items():
        options = loader_options(args, color)
        with (
            reported(*DATA_ERRORS, context=f"--target-dir {args.target_dir}"),
            image_warnings(),
        ):
            X, y, info = load_image_folder(
                args.target_dir, size=size, return_info=True, **options
            )
        print(f"Target images read as {describe_images(info)}")
        with reported(ValueError, context="scoring"):
            ranking = rank_sources(group, X, y, method=args.method)
            classes, codes = np.unique(y, return_inverse=True)
            label, value = _reference(args.method, X, codes, len(classes))
        rows += list(zip(ranking.source, ranking.score, ranking.seconds))
        if args.method in ("knn", "logme") and len(by_images) > 1:
            label = f"{label}, {size[0]}x{size[1]} {color}"
        if (label, value) not in references:
            references.append((label, value))
    print(
        f"Transferability ({_SCORE_NAMES[args.method]}, higher is better) of each "
        f"source to {len(y)} images of '{args.target_dir}':"
    )
    # The reference lines sort among the sources, unnumbered: a source
    # below one is no better than it.
    lines = [(score, escape(name), seconds) for name, score, seconds in rows]
    lines += [(value, label, None) for label, value in references]
    lines.sort(key=lambda line: -line[0])
    width = max(len(name) for _, name, _ in lines)
    rank = 0
    for score, name, seconds in lines:
        if seconds is None:
            print(f"   - {name:<{width}}  {score:9.4f}")
            continue
        rank += 1
        print(f"  {rank}. {name:<{width}}  {score:9.4f}  ({seconds:.2f} s)")
    chance = f"{1 / len(np.unique(y)):.2f}"
    print(
        _HOW_TO_READ[args.method].format(
            ref=", ".join(f"{value:.4f}" for _, value in references), chance=chance
        )
    )
    return 0


def add_rank_command(subparsers):
    parser = subparsers.add_parser(
        "rank",
        help=one_line_doc(_rank),
        description=textwrap.fill(
            "Score how well each source network should transfer to your images "
            "(LEEP, NCE, LogME or k-NN: one forward pass, no fine-tuning) and print "
            "them best first, with a reference line to read them against: for "
            "LEEP and NCE the score of a source that carries no information "
            "about your classes, for k-NN and LogME the same score on the raw "
            "pixels. The default sources are trained on the bundled MNIST "
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
    add_image_arguments(
        parser,
        "what each source takes: rgb for a source fitted on colour images, else gray",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_rank, verbose=0)
