"""The source network a subcommand transfers from: built, fitted or read
from the cache."""

import os
import sys
import warnings

import numpy as np

from skalltransfer._core._progress import progress_bar
from skalltransfer.cli._common import (
    CommandError,
    epoch_budget,
    epoch_reporter,
    load_user_model,
    reported,
)
from skalltransfer.sources._describe import describe_layers

# -- fit ------------------------------------------------------------------------
# Source images of a --quick run: for trying the pipeline in seconds, not for
# results.
QUICK_SOURCE_SIZE = 1000


def quick_subsample(X, y):
    """``QUICK_SOURCE_SIZE`` stratified source images (all if fewer)."""
    if len(X) <= QUICK_SOURCE_SIZE:
        return X, y
    from sklearn.model_selection import train_test_split

    X, _, y, _ = train_test_split(
        X, y, train_size=QUICK_SOURCE_SIZE, stratify=y, random_state=0
    )
    return X, y


def make_source_model(kind, quick, random_state, verbose):
    """An unfitted source network of the chosen kind (``--quick``: a small one
    trained in seconds, for trying the pipeline)."""
    from skalltransfer.sources._autoencoder import StackedAutoencoderClassifier
    from skalltransfer.sources._conv_autoencoder import ConvAutoencoderClassifier
    from skalltransfer.sources._mpdbm import MPDBMClassifier

    kw = dict(random_state=random_state, verbose=verbose)
    if kind == "sae":
        if quick:
            return StackedAutoencoderClassifier(
                (100, 100), pretrain_max_iter=3, max_iter=20, **kw
            )
        return StackedAutoencoderClassifier(**kw)
    if kind == "conv":
        if quick:
            return ConvAutoencoderClassifier(
                ((8, 5), (16, 5)),
                hidden_layer_sizes=(64,),
                pretrain_max_iter=1,
                max_iter=3,
                **kw,
            )
        return ConvAutoencoderClassifier(**kw)
    if quick:
        return MPDBMClassifier((100, 100), max_iter=5, **kw)
    return MPDBMClassifier(**kw)


def _npz_source_arrays(spec, args):
    """``(X, y)`` of a ``.npz`` source file, scaled by ``--scale`` and checked
    with the command line's hints instead of the library's."""
    from skalltransfer._source_cache._data import read_npz

    with reported(ValueError, OSError, context=f"--source {spec}"):
        X, y = read_npz(
            spec,
            args.x_key,
            args.y_key,
            key_hint="Pass --x-key NAME and --y-key NAME.",
        )
    if X.dtype.kind not in "biuf":
        raise CommandError(
            f"--source {spec}: the array '{args.x_key}' holds {X.dtype} values, "
            "not pixel intensities."
        )
    X = np.asarray(X, dtype=np.float32)  # read from the file: ours to scale
    if args.scale is not None:
        X /= np.float32(args.scale)
    lo, hi = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
    if lo < 0:
        raise CommandError(
            f"--source {spec}: the images hold negative values (down to {lo:g}); "
            "the source network takes pixel intensities in [0, 1]."
        )
    if hi > 1:
        if args.scale is None:
            hint = f"pass --scale {255 if hi <= 255 else hi:g}"
        else:
            larger = args.scale * hi
            hint = f"--scale {args.scale:g} is too small, try --scale {larger:g}"
        raise CommandError(
            f"--source {spec}: the images range up to {hi:g}, but the source "
            f"network takes pixel intensities in [0, 1]; {hint}."
        )
    return X, y


def resolve_cli_source(args):
    """The transfer's source, its source data, the cache and a description.

    Returns ``(source, source_data, cache_dir, n_features, description)``;
    ``source_data`` and ``cache_dir`` are None for an already fitted source.
    """
    from skalltransfer._core._stack import LayerStack
    from skalltransfer._source_cache._data import SourceData
    from skalltransfer._source_cache._location import get_cache_dir
    from skalltransfer.datasets import load_mnist

    spec = args.source
    kind = args.source_model or "conv"
    is_npz = spec.lower().endswith(".npz")
    if not is_npz:
        ignored = [
            option
            for option, value in (
                ("--x-key", args.x_key != "X"),
                ("--y-key", args.y_key != "y"),
                ("--scale", args.scale is not None),
            )
            if value
        ]
        if ignored:
            print(f"note: {' and '.join(ignored)} only apply to a .npz --source.")
    if spec == "mnist" or is_npz:
        if spec == "mnist":
            X, y = load_mnist()
            where = "the bundled MNIST subset"
        else:
            if not os.path.isfile(spec):
                raise CommandError(f"--source {spec}: no such file.")
            X, y = _npz_source_arrays(spec, args)
            where = f"'{spec}'"
        with reported(ValueError, context=f"--source {spec}"):
            if args.quick:
                X, y = quick_subsample(X, y)
            data = SourceData(X, y)
        with reported(OSError, ValueError, context="--cache-dir"):
            cache_dir = get_cache_dir(args.cache_dir)
        model = make_source_model(kind, args.quick, args.random_state, args.verbose)
        name = f"{type(model).__name__} {describe_layers(model)}"
        description = f"{name} trained on {data.n_samples} images of {where}"
        return model, data, cache_dir, X.shape[1], description

    if not os.path.isfile(spec):
        raise CommandError(
            f"--source {spec}: no such file. Pass 'mnist', a fitted source model "
            "saved as .skops (or .joblib), or a .npz file with arrays X and y."
        )
    model = load_user_model(spec, "--source", args.allow_pickle)
    with reported(TypeError, ValueError, context=f"--source {spec}"):
        stack = LayerStack.from_estimator(model)
    if args.source_model is not None or args.quick:
        print("note: --source-model and --quick are ignored for a fitted source.")
    description = f"{type(model).__name__} loaded from '{spec}'"
    return model, None, None, stack.layer_sizes[0], description


def fit_cli_source(source, data, cache_dir, show_bar):
    """Fit (or reuse from the cache) the source; return it and its status.

    Warnings of the cache (a damaged entry discarded, ...) are printed as
    one line each on stderr.
    """
    from sklearn.exceptions import ConvergenceWarning

    from skalltransfer._core._training import training_progress
    from skalltransfer._source_cache._cached_fit import is_cached
    from skalltransfer._source_cache._resolve import resolve_source

    cached = is_cached(source, data, cache_dir)
    if not cached and not show_bar:
        # Training a full source takes minutes; say so before the wait.
        print(
            "Training the source network (it is not in the cache yet; this can "
            "take minutes)...",
            flush=True,
        )
    with (
        warnings.catch_warnings(record=True) as caught,
        progress_bar(
            show_bar and not cached, epoch_budget(source), "source", "epoch"
        ) as bar,
        training_progress(epoch_reporter(bar)),
        reported(ValueError, TypeError, context="fitting the source"),
    ):
        warnings.simplefilter("always")
        # A fixed number of epochs is the plan, not a failure worth a warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted, status = resolve_source(source, data, cache_dir)
    for warning in caught:
        print(f"warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
    return fitted, status
