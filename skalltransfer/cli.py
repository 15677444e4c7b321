"""The ``skalltransfer`` command.

Subcommands:

- ``demo``: train both source models on the bundled MNIST subset;
- ``fit``: transfer a source network to your own images (one sub-folder per
  class) and save the fitted model;
- ``predict``: apply a saved model to new images;
- ``rank``: rank source networks by their transferability to your images;
- ``reproduce``: the seed paper's Tables II-V on the bundled data, as a report.

User errors (a missing folder, an unreadable model, ...) are reported as one
line on stderr with exit status 2, without a traceback.

Models are saved as ``.skops`` (loaded without pickle) or ``.joblib``; a
joblib file runs code when it is loaded, so it is loaded only after a notice.
``fit`` shows a progress bar (tqdm, when installed) over the source's
training epochs and then the cross-validation folds when stderr is a
terminal.
"""

import argparse
import csv
import importlib.util
import os
import sys
import tempfile
import textwrap
import time
import warnings
from contextlib import contextmanager

import numpy as np

EXIT_USAGE = 2

_SOURCE_MODELS = ("conv", "mpdbm", "sae")

_SECURITY_NOTE = textwrap.fill(
    "Security: a .skops model or source loads without running code; a .joblib "
    "file is a pickle, which runs code when it is loaded: load only files you "
    "trust (a notice is printed first). The source cache holds plain arrays and "
    "JSON, never pickles.",
    width=78,
)


class CommandError(Exception):
    """A problem with the user's input, reported without a traceback."""


@contextmanager
def _reported(*kinds, context=None):
    """Turn the expected exceptions ``kinds`` into a CommandError."""
    try:
        yield
    except kinds as exc:
        # Library messages may span lines; the command prints one line.
        message = " ".join(str(exc).split()) or type(exc).__name__
        if context:
            message = f"{context}: {message}"
        raise CommandError(message) from exc


_DATA_ERRORS = (OSError, ValueError, ImportError)


# -- argument types -------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _n_layers(text):
    if text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected 'all' or a non-negative integer, got {text!r}"
        )
    return value


def _cv_folds(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or value == 1:
        raise argparse.ArgumentTypeError(
            f"expected 0 (no cross-validation) or at least 2 folds, got {text!r}"
        )
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _image_size(n_features, size, what):
    """``(height, width)`` of the images a network with ``n_features`` inputs
    takes: ``size`` if given (checked), else the square side."""
    if size is not None:
        height, width = size
        if height * width != n_features:
            side = int(round(np.sqrt(n_features)))
            hint = (
                f" ({side}x{side}); pass --size {side} {side} or omit --size"
                if side * side == n_features
                else ""
            )
            raise CommandError(
                f"--size {height} {width} gives {height * width} pixels but {what} "
                f"takes {n_features} inputs{hint}."
            )
        return height, width
    side = int(round(np.sqrt(n_features)))
    if side * side != n_features:
        raise CommandError(
            f"{what} takes {n_features} inputs, which is not a square image; "
            "pass --size HEIGHT WIDTH."
        )
    return side, side


def _one_line_doc(func):
    return func.__doc__.strip().splitlines()[0]


# -- demo -----------------------------------------------------------------------
def _demo(args):
    """Train both source models on the bundled MNIST subset; print accuracy."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from ._autoencoder import StackedAutoencoderClassifier
    from ._mpdbm import MPDBMClassifier
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


def _add_demo_command(subparsers):
    demo = subparsers.add_parser("demo", help=_one_line_doc(_demo))
    demo.add_argument("-v", "--verbose", action="count", default=0)
    demo.set_defaults(func=_demo)


# -- fit ------------------------------------------------------------------------
def _make_source_model(kind, quick, random_state, verbose):
    """An unfitted source network of the chosen kind (``--quick``: a small one
    trained in seconds, for trying the pipeline)."""
    from ._autoencoder import StackedAutoencoderClassifier
    from ._conv_autoencoder import ConvAutoencoderClassifier
    from ._mpdbm import MPDBMClassifier

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


def _architecture(model):
    """A short description of a source network's layers."""
    params = model.get_params()
    sizes = tuple(int(s) for s in np.atleast_1d(params["hidden_layer_sizes"]))
    text = f"{type(model).__name__}{sizes}"
    if "conv_layers" in params:
        maps = tuple(int(m) for m, _ in params["conv_layers"])
        text += f" on conv maps {maps}"
    return text


def _npz_source_arrays(spec, args):
    """``(X, y)`` of a ``.npz`` source file, scaled by ``--scale`` and checked
    with the command line's hints instead of the library's."""
    from ._source import read_npz

    with _reported(ValueError, OSError, context=f"--source {spec}"):
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


def _resolve_cli_source(args):
    """The transfer's source, its source data, the cache and a description.

    Returns ``(source, source_data, cache_dir, n_features, description)``;
    ``source_data`` and ``cache_dir`` are None for an already fitted source.
    """
    from ._cache import get_cache_dir
    from ._source import SourceData
    from ._stack import LayerStack
    from .datasets import load_mnist

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
        with _reported(ValueError, context=f"--source {spec}"):
            if args.quick and len(X) > 1000:
                # 1,000 stratified source images: the quick source is for
                # trying the pipeline in seconds, not for results.
                from sklearn.model_selection import train_test_split

                X, _, y, _ = train_test_split(
                    X, y, train_size=1000, stratify=y, random_state=0
                )
            data = SourceData(X, y)
        with _reported(OSError, context="--cache-dir"):
            cache_dir = get_cache_dir(args.cache_dir)
        model = _make_source_model(kind, args.quick, args.random_state, args.verbose)
        description = (
            f"{_architecture(model)} trained on {data.n_samples} images of {where}"
        )
        return model, data, cache_dir, X.shape[1], description

    if not os.path.isfile(spec):
        raise CommandError(
            f"--source {spec}: no such file. Pass 'mnist', a fitted source model "
            "saved as .skops (or .joblib), or a .npz file with arrays X and y."
        )
    model = _load_model(spec, "--source")
    with _reported(TypeError, ValueError, context=f"--source {spec}"):
        stack = LayerStack.from_estimator(model)
    if args.source_model is not None or args.quick:
        print("note: --source-model and --quick are ignored for a fitted source.")
    description = f"{type(model).__name__} loaded from '{spec}'"
    return model, None, None, stack.layer_sizes[0], description


def _show_progress(args):
    """Progress bars: on a terminal, unless -q or -v (whose lines would mix),
    and only with tqdm installed (without it the plain notices are printed)."""
    if args.quiet or args.verbose or not sys.stderr.isatty():
        return False
    return importlib.util.find_spec("tqdm") is not None


@contextmanager
def _progress_bar(enabled, total, desc, unit):
    """A tqdm bar on stderr, or None when disabled or tqdm is not installed
    (``pip install "skalltransfer[progress]"``)."""
    if not enabled:
        yield None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield None
        return
    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def _epoch_budget(model):
    """The most training epochs a fit of ``model`` runs (the bar's total):
    ``max_iter``, plus ``pretrain_max_iter`` per pretrained layer (the conv
    layers of a convolutional source, the hidden layers of stacked
    autoencoders) if it has it."""
    params = model.get_params()
    if "conv_layers" in params:
        n_pretrained = len(params["conv_layers"])
    else:
        n_pretrained = len(np.atleast_1d(params.get("hidden_layer_sizes", ())))
    pretrain = int(params.get("pretrain_max_iter", 0))
    return int(params.get("max_iter", 0)) + pretrain * n_pretrained


def _epoch_reporter(bar):
    """A ``progress(epoch, loss)`` callback advancing ``bar`` (None: none)."""
    if bar is None:
        return None

    def progress(epoch, loss):
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.update(1)

    return progress


def _fit_cli_source(source, data, cache_dir, show_bar):
    """Fit (or reuse from the cache) the source; return it and its status.

    Warnings of the cache (a damaged entry discarded, ...) are printed as
    one line each on stderr.
    """
    from sklearn.exceptions import ConvergenceWarning

    from ._source import is_cached, resolve_source_with_status
    from ._training import training_progress

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
        _progress_bar(
            show_bar and not cached, _epoch_budget(source), "source", "epoch"
        ) as bar,
        training_progress(_epoch_reporter(bar)),
        _reported(ValueError, TypeError, context="fitting the source"),
    ):
        warnings.simplefilter("always")
        # A fixed number of epochs is the plan, not a failure worth a warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted, status = resolve_source_with_status(source, data, cache_dir)
    for warning in caught:
        print(f"warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
    return fitted, status


def _check_out(path):
    """The absolute ``--out`` path, checked before any training: a known
    format, an existing directory we can write in."""
    from ._persist import model_format

    out = os.path.abspath(path)
    if os.path.isdir(out):
        raise CommandError(f"--out {path} is a directory; pass a file name.")
    directory = os.path.dirname(out)
    if not os.path.isdir(directory):
        raise CommandError(
            f"--out {path}: the directory '{directory}' does not exist; create it "
            "first."
        )
    with _reported(ValueError, context=f"--out {path}"):
        model_format(out)
    try:
        fd, probe = tempfile.mkstemp(prefix=".skalltransfer-", dir=directory)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise CommandError(
            f"--out {path}: cannot write in '{directory}' "
            f"({exc.strerror or exc}); choose a writable place."
        ) from None
    if os.path.exists(out) and not os.access(out, os.W_OK):
        raise CommandError(f"--out {path}: the file exists and is read-only.")
    return out


def _print_table(row_names, col_names, rows, fmt):
    """A plain-text table, first column left-aligned."""
    first = max(len(str(n)) for n in row_names)
    width = max([len(str(n)) for n in col_names] + [len(fmt(v)) for v in rows.flat])
    print("  " + " " * first + "".join(f"  {str(n):>{width}}" for n in col_names))
    for name, row in zip(row_names, rows):
        cells = "".join(f"  {fmt(v):>{width}}" for v in row)
        print(f"  {str(name):<{first}}{cells}")


def _source_unit_names(clf):
    labels = getattr(clf.source_, "classes_", None)
    n_units = clf.relation_.shape[1]
    if labels is not None and len(labels) == n_units:
        return [str(v) for v in labels]
    return [str(v) for v in range(n_units)]


def _save_relation_plot(clf, path):
    """Save the relation plot as PNG; return a note if it cannot be drawn."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return (
            "note: matplotlib is not installed, so the relation plot was not "
            "saved; install it with 'pip install \"skalltransfer[plot]\"'."
        )
    from ._display import RelationDisplay

    # A bare Figure needs no GUI backend, so this works on headless servers.
    fig = Figure(figsize=(max(6.4, 0.6 * clf.relation_.shape[1] + 1), 4.0))
    ax = fig.subplots()
    RelationDisplay.from_estimator(clf, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return None


def _fit(args):
    """Transfer a source network to the images in a folder; save the model."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    from ._alltransfer import AllTransferClassifier
    from ._persist import save_model
    from .datasets import load_image_folder

    out = _check_out(args.out)
    if not os.path.exists(args.target_dir):
        raise CommandError(f"--target-dir {args.target_dir}: no such folder.")

    source, data, cache_dir, n_features, source_text = _resolve_cli_source(args)
    size = _image_size(n_features, args.size, "the source network")
    with _reported(*_DATA_ERRORS, context=f"--target-dir {args.target_dir}"):
        X, y = load_image_folder(args.target_dir, size=size)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise CommandError(
            f"--target-dir {args.target_dir} holds a single class folder "
            f"('{classes[0]}'); a classifier needs at least two, one sub-folder "
            "per class."
        )

    print(
        f"Target: {len(y)} images in {len(classes)} classes from "
        f"'{args.target_dir}', read as {size[0]}x{size[1]} grayscale (resized to "
        "the source network's input where they differ)"
    )
    _print_table(classes, ["images"], counts[:, None], str)

    show_bar = _show_progress(args)
    start = time.perf_counter()
    if data is None:
        print(f"Source: {source_text}")
    else:
        source, status = _fit_cli_source(source, data, cache_dir, show_bar)
        how = {
            "fitted": f"trained, cached in '{cache_dir}'",
            "refitted": f"trained again: the cached copy was damaged and has been "
            f"replaced in '{cache_dir}'",
        }.get(status, f"reused from '{cache_dir}'")
        print(f"Source: {source_text} ({how})", flush=True)

    max_iter = (
        args.max_iter if args.max_iter is not None else (30 if args.quick else 100)
    )
    # The source is fitted now: the transfer (and every fold's clone of it)
    # uses it as it is.
    clf = AllTransferClassifier(
        source,
        n_transferred_layers=args.n_transferred_layers,
        max_iter=max_iter,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    # Fine-tuning runs for a fixed number of epochs (--max-iter); stopping
    # there is the plan, not a failure worth a warning per fold.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with _reported(ValueError, TypeError, context="fit"):
            clf.fit(X, y)
        seconds = time.perf_counter() - start
        L = clf.network_.n_layers
        T = clf.n_transferred_layers_
        print(
            f"Transferred {T} of {L} weight layers"
            f"{' (all-transfer)' if T == L else ''}; fine-tuned for {clf.n_iter_} "
            f"epochs ({seconds:.1f} s in all)"
        )
        print("Relation p_c(v) of each class to the source output units:")
        _print_table(classes, _source_unit_names(clf), clf.relation_, "{:.2f}".format)
        print(
            f"Transferability of the source (LEEP, at most 0, higher is better): "
            f"{clf.transferability_:.3f}"
        )
        if clf.selected_units_ is not None:
            names = _source_unit_names(clf)
            pairs = ", ".join(
                f"{c} -> {names[v]}" for c, v in zip(clf.classes_, clf.selected_units_)
            )
            used = "" if T == L else " (for reference: a new output layer is trained)"
            print(f"Selected source units: {pairs}{used}")
        print(f"Training accuracy: {clf.score(X, y):.1%}")

        n_splits = min(args.cv, int(counts.min()))
        if n_splits >= 2:
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=args.random_state)
            # What cross_val_score(clf, X, y, cv=cv) does, one fold at a time
            # for the progress bar. The clones reuse the fitted source, so
            # only the fine-tuning is repeated per fold.
            scores = []
            with _progress_bar(show_bar, n_splits, "cross-validation", "fold") as bar:
                for train, test in cv.split(X, y):
                    fold = clone(clf).fit(X[train], y[train])
                    scores.append(fold.score(X[test], y[test]))
                    if bar is not None:
                        bar.update(1)
            scores = np.asarray(scores)
            print(
                f"Cross-validated accuracy ({n_splits}-fold, stratified): "
                f"{scores.mean():.1%} +/- {scores.std():.1%}"
            )
        elif args.cv >= 2:
            print(
                "note: no cross-validation: the smallest class has fewer than 2 images."
            )

    # The saved model keeps its fitted source but not the source images or
    # the cache location: it stays small and works on any machine.
    clf.set_params(source=clf.source_, source_data=None, source_memory=None)
    with _reported(OSError, TypeError, ValueError, context=f"--out {args.out}"):
        save_model(clf, out)
    print(f"Saved the model to '{args.out}'")
    png = os.path.splitext(out)[0] + "_relation.png"
    note = _save_relation_plot(clf, png)
    print(note if note else f"Saved the relation plot to '{png}'")
    return 0


def _add_fit_command(subparsers):
    parser = subparsers.add_parser(
        "fit",
        help=_one_line_doc(_fit),
        description=textwrap.fill(
            "Train (or load) a source network, relate your classes to its output "
            "units, fine-tune every layer on your images and save the model. "
            "Prints the relation, the selected units, the training accuracy and "
            "a stratified cross-validated accuracy; saves the relation plot "
            "next to the model.",
            width=78,
        ),
        epilog="example: skalltransfer fit --target-dir patches/ --out lesions.skops"
        + "\n\n"
        + _SECURITY_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target-dir",
        required=True,
        metavar="PATH",
        help="folder holding one sub-folder of images per class",
    )
    parser.add_argument(
        "--source",
        default="mnist",
        metavar="mnist|PATH",
        help="'mnist' (default: the bundled MNIST subset), a fitted source model "
        "saved as .skops (or .joblib: load only files you trust), or a .npz file "
        "with source arrays X and y",
    )
    parser.add_argument(
        "--x-key",
        default="X",
        metavar="NAME",
        help="name of the images array in a .npz --source (default: X)",
    )
    parser.add_argument(
        "--y-key",
        default="y",
        metavar="NAME",
        help="name of the labels array in a .npz --source (default: y)",
    )
    parser.add_argument(
        "--scale",
        type=_positive_float,
        default=None,
        metavar="FACTOR",
        help="divide the images of a .npz --source by FACTOR to bring them into "
        "[0, 1], e.g. 255 for 8-bit images",
    )
    parser.add_argument(
        "--source-model",
        choices=_SOURCE_MODELS,
        default=None,
        help="source network trained on source data: stacked convolutional "
        "autoencoders (conv, the default: the best transfer on the development "
        "benchmark, about 35 s to train), stacked autoencoders (sae, "
        "seconds) or the paper's multi-prediction deep Boltzmann machine "
        "(mpdbm, minutes)",
    )
    parser.add_argument(
        "--n-transferred-layers",
        type=_n_layers,
        default="all",
        metavar="all|INT",
        help="number of weight layers transferred, the paper's T (default: all)",
    )
    parser.add_argument(
        "--size",
        type=_positive_int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="resize images to this size (default: the source's input size, "
        "28 28 for MNIST)",
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="INT",
        help="seed of the source, the fine-tuning and the folds (default: 0)",
    )
    parser.add_argument(
        "--max-iter",
        type=_positive_int,
        default=None,
        metavar="INT",
        help="fine-tuning epochs (default: 100, or 30 with --quick)",
    )
    parser.add_argument(
        "--cv",
        type=_cv_folds,
        default=5,
        metavar="INT",
        help="at most this many cross-validation folds (2 or more), limited by "
        "the smallest class (default: 5; 0 skips cross-validation)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="where trained sources are cached (default: $SKALLTRANSFER_CACHE or "
        "the user cache directory)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small source trained in seconds on 1,000 source images, to try "
        "the pipeline (not for results)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="MODEL.skops",
        help="where to save the model: .skops (loads without pickle) or .joblib; "
        "checked for writability before training",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (there is none either when stderr is not a terminal)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="print one line per training epoch instead of the progress bar",
    )
    parser.set_defaults(func=_fit)


# -- rank -----------------------------------------------------------------------
_SCORE_NAMES = {"leep": "LEEP", "nce": "NCE", "logme": "LogME", "knn": "k-NN"}


def _rank(args):
    """Rank source networks by their transferability to the images in a folder."""
    from ._cache import get_cache_dir
    from ._source import SourceData
    from ._stack import LayerStack
    from ._transferability import rank_sources
    from .datasets import load_image_folder, load_mnist

    if not os.path.exists(args.target_dir):
        raise CommandError(f"--target-dir {args.target_dir}: no such folder.")
    show_bar = _show_progress(args)
    candidates = {}
    if args.source_model:
        X, y = load_mnist()
        if args.quick:
            from sklearn.model_selection import train_test_split

            X, _, y, _ = train_test_split(
                X, y, train_size=1000, stratify=y, random_state=0
            )
        data = SourceData(X, y)
        with _reported(OSError, context="--cache-dir"):
            cache_dir = get_cache_dir(args.cache_dir)
        for kind in args.source_model:
            model = _make_source_model(kind, args.quick, args.random_state, 0)
            fitted, status = _fit_cli_source(model, data, cache_dir, show_bar)
            name = f"{kind}: {_architecture(model)}"
            how = "from the cache" if status in ("memory", "disk") else "trained"
            print(f"Source {name}: {how}")
            candidates[name] = fitted
    for path in args.source:
        if not os.path.isfile(path):
            raise CommandError(f"--source {path}: no such file.")
        candidates[path] = _load_model(path, "--source")
    if not candidates:
        raise CommandError("nothing to rank: name --source-model or --source.")

    # Sources of different input sizes see the images at their own size.
    by_size = {}
    for name, model in candidates.items():
        with _reported(TypeError, ValueError, context=name):
            n_features = LayerStack.from_estimator(model).layer_sizes[0]
        size = _image_size(n_features, None, name)
        by_size.setdefault(size, {})[name] = model
    rows = []
    for size, group in by_size.items():
        with _reported(*_DATA_ERRORS, context=f"--target-dir {args.target_dir}"):
            X, y = load_image_folder(args.target_dir, size=size)
        with _reported(ValueError, context="scoring"):
            ranking = rank_sources(group, X, y, method=args.method)
        rows += list(zip(ranking.source, ranking.score, ranking.seconds))
    rows.sort(key=lambda row: -row[1])
    print(
        f"Transferability ({_SCORE_NAMES[args.method]}, higher is better) of each "
        "source "
        f"to {len(y)} images of '{args.target_dir}':"
    )
    width = max(len(name) for name, _, _ in rows)
    for rank, (name, score, seconds) in enumerate(rows, start=1):
        print(f"  {rank}. {name:<{width}}  {score:9.4f}  ({seconds:.2f} s)")
    return 0


def _add_rank_command(subparsers):
    parser = subparsers.add_parser(
        "rank",
        help=_one_line_doc(_rank),
        description=textwrap.fill(
            "Score how well each source network should transfer to your images "
            "(LEEP, NCE, LogME or k-NN: one forward pass, no fine-tuning) and print "
            "them best first. The default sources are trained on the bundled MNIST "
            "subset, or read from the cache where they were trained before.",
            width=78,
        ),
        epilog="example: skalltransfer rank --target-dir patches/ --method logme"
        + "\n\n"
        + _SECURITY_NOTE,
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
        choices=_SOURCE_MODELS,
        default=list(_SOURCE_MODELS),
        help="default source networks to rank (default: all of them); none with "
        "an empty list",
    )
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH",
        help="a fitted source model saved as .skops (or .joblib: load only files "
        "you trust) to rank too; repeat for several",
    )
    parser.add_argument(
        "--method", choices=("leep", "nce", "logme", "knn"), default="knn",
        help="the transferability score (default: knn, leave-one-out nearest "
        "neighbours on every hidden layer, which ranked sources best on the "
        "development and held-out benchmarks)",
    )  # fmt: skip
    parser.add_argument("--random-state", type=int, default=0, metavar="INT")
    parser.add_argument("--cache-dir", default=None, metavar="DIR")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small default sources trained in seconds (to try the command)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_rank, verbose=0)


# -- predict --------------------------------------------------------------------
def _load_model(path, what):
    """A fitted model from a ``.skops`` file (no code runs) or, after a
    one-line notice on stderr, from a file named as a pickle (``.joblib``,
    ``.pkl``, ``.pickle``); anything else is refused unread."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from ._persist import PICKLE_SUFFIXES, is_skops_file, load_model

    if not os.path.isfile(path):
        raise CommandError(f"{what} {path}: no such file.")
    is_skops = is_skops_file(path)
    if is_skops or os.path.splitext(path)[1].lower() not in PICKLE_SUFFIXES:
        # Only a file named as a pickle is ever unpickled: a pickle renamed
        # .skops (or anything else) is refused without running it.
        if not is_skops:
            raise CommandError(
                f"{what} {path}: not a .skops model (a skops archive), and only "
                f"files named {', '.join(PICKLE_SUFFIXES)} are read as pickles. "
                "Pass a file written by 'skalltransfer fit' (or "
                "skalltransfer.save_model)."
            )
        with _reported(ValueError, OSError, context=f"{what} {path}"):
            model = load_model(path)
    else:
        print(
            f"note: {path} is not a .skops file; loading it as a joblib pickle runs "
            "code stored in it, so load only files you trust.",
            file=sys.stderr,
            flush=True,
        )
        try:
            model = load_model(path, allow_pickle=True)
        # Unpickling a file that is not a model can raise almost anything.
        except Exception as exc:
            raise CommandError(
                f"{what} {path}: cannot read it as a saved model "
                f"({type(exc).__name__}: {' '.join(str(exc).split())}). Pass a file "
                "written by 'skalltransfer fit' (or skalltransfer.save_model)."
            ) from exc
    if not hasattr(model, "predict"):
        raise CommandError(
            f"{what} {path} holds a {type(model).__name__}, not a fitted model."
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise CommandError(
            f"{what} {path} holds an unfitted model; fit it first."
        ) from None
    return model


def _predict(args):
    """Predict the class of images with a model saved by 'skalltransfer fit'."""
    from .datasets import load_images

    model = _load_model(args.model, "model")
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise CommandError(
            f"model {args.model}: the model does not record its input size "
            "(n_features_in_)."
        )
    size = _image_size(n_features, args.size, "the model")
    if args.proba and not hasattr(model, "predict_proba"):
        raise CommandError(
            f"--proba: the {type(model).__name__} in {args.model} has no predict_proba."
        )
    with _reported(*_DATA_ERRORS, context=args.images):
        X, paths = load_images(args.images, size=size)
    with _reported(ValueError, context="predict"):
        labels = model.predict(X)
        proba = model.predict_proba(X) if args.proba else None

    header = ["path", "prediction"]
    if proba is not None:
        header += [f"p({c})" for c in model.classes_]
    rows = []
    for i, (path, label) in enumerate(zip(paths, labels)):
        row = [path, str(label)]
        if proba is not None:
            row += [f"{p:.4f}" for p in proba[i]]
        rows.append(row)
    print("\t".join(header))
    for row in rows:
        print("\t".join(row))
    if args.csv:
        with _reported(OSError, context=f"--csv {args.csv}"):
            with open(args.csv, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows(rows)
        print(f"Saved {len(rows)} predictions to '{args.csv}'", file=sys.stderr)
    return 0


def _add_predict_command(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help=_one_line_doc(_predict),
        description=textwrap.fill(
            "Read an image file, or every image in a folder, resize it to the "
            "model's input size and print 'path<TAB>prediction' per image.",
            width=78,
        ),
        epilog="example: skalltransfer predict lesions.skops new_scans/ --csv out.csv"
        + "\n\n"
        + _SECURITY_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model saved by 'fit': .skops (loads without running code) or .joblib "
        "(a pickle, which runs code when loaded: load only files you trust)",
    )
    parser.add_argument(
        "images", metavar="PATH_OR_DIR", help="an image file or a folder of images"
    )
    parser.add_argument(
        "--csv", metavar="OUT.csv", default=None, help="also write the table as CSV"
    )
    parser.add_argument(
        "--proba", action="store_true", help="add the probability of each class"
    )
    parser.add_argument(
        "--size",
        type=_positive_int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help="image size the model takes, when its input is not square",
    )
    parser.set_defaults(func=_predict)


# -- the command ----------------------------------------------------------------
# Subcommands, in the order `skalltransfer --help` lists them. Each entry is a
# function that registers one subcommand on the subparsers object and sets its
# handler with `set_defaults(func=handler)`; a handler takes the parsed
# arguments and returns an exit status. New subcommands (e.g. `reproduce`,
# defined in its own module) are added by appending their function here.


# -- reproduce ------------------------------------------------------------------
def _reproduce(args):
    """Reproduce the paper's Tables II-V; write report.md, results.json, figures."""
    import dataclasses

    from ._reproduce import PROFILES, run_experiment

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
    with _reported(*_DATA_ERRORS):
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


def _add_reproduce_command(subparsers):
    parser = subparsers.add_parser(
        "reproduce",
        help=_one_line_doc(_reproduce),
        description=(
            "Train (or load from the cache) the MP-DBM, stacked-autoencoder and "
            "convolutional sources on the bundled MNIST subset, transfer them to "
            "Fashion-MNIST tasks and write the analogues of the seed paper's "
            "Tables II-V (and a table for the convolutional source, the paper's "
            "future work), with the paper's numbers alongside, to OUT/report.md "
            "(plus results.json and PNG figures). The quick profile takes about "
            "8 minutes on 2 cores with an empty cache."
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
    parser.add_argument("--n-per-class", nargs="+", type=_positive_int)
    parser.add_argument("--draws", type=_positive_int, help="draws per n (>= 3)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--cache-dir", help="source cache (default: user cache)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=_reproduce)


_COMMANDS = [
    _add_demo_command,
    _add_fit_command,
    _add_rank_command,
    _add_predict_command,
    _add_reproduce_command,
]


def build_parser():
    """The argument parser of the ``skalltransfer`` command."""
    parser = argparse.ArgumentParser(
        prog="skalltransfer",
        description="Whole-layer transfer learning of deep networks on small datasets.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_command in _COMMANDS:
        add_command(subparsers)
    return parser


def main(argv=None):
    """Run the ``skalltransfer`` command; return its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 for a usage or input error (reported on stderr).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits after --help (0) or a usage error it reported (2).
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
