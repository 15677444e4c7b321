"""What every subcommand shares: argument types, errors, tables, progress."""

import argparse
import importlib.util
import os
import sys
import tempfile
import textwrap
from contextlib import contextmanager

import numpy as np

from skalltransfer._core._images import square_image_shape

EXIT_USAGE = 2


SOURCE_MODELS = ("conv", "mpdbm", "sae")


SECURITY_NOTE = textwrap.fill(
    "Security: a .skops model or source loads without running code. A .joblib "
    "(.pkl, .pickle) file is a pickle, which runs code stored in it when it is "
    "loaded: it is read only with --allow-pickle, for files you trust (and a "
    "notice is printed first). The source cache holds plain arrays and JSON, "
    "never pickles.",
    width=78,
)


class CommandError(Exception):
    """A problem with the user's input, reported without a traceback."""


@contextmanager
def reported(*kinds, context=None):
    """Turn the expected exceptions ``kinds`` into a CommandError."""
    try:
        yield
    except kinds as exc:
        # Library messages may span lines; the command prints one line.
        message = " ".join(str(exc).split()) or type(exc).__name__
        if context:
            message = f"{context}: {message}"
        raise CommandError(message) from exc


DATA_ERRORS = (OSError, ValueError, ImportError)


# -- argument types -------------------------------------------------------------
def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# The seeds NumPy's RandomState accepts.
MAX_SEED = 2**32 - 1


def seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {MAX_SEED}, got {text!r}"
        )
    return value


def layer_count(text):
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


def cv_folds(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or value == 1:
        raise argparse.ArgumentTypeError(
            f"expected 0 (no cross-validation) or at least 2 folds, got {text!r}"
        )
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def image_size(n_features, size, what, has_size_option=True, channels=1):
    """``(height, width)`` of the images a network with ``n_features`` inputs
    (``channels`` per pixel) takes: ``size`` if given (checked), else the
    square side.

    ``has_size_option=False`` is for a command without ``--size``, whose
    message for a non-square input must not name it."""
    square = square_image_shape(n_features)
    inputs = n_features * channels
    per_pixel = f" x {channels} channels" if channels > 1 else ""
    if size is not None:
        height, width = size
        if height * width != n_features:
            hint = (
                f" ({square[0]}x{square[1]}{per_pixel}); pass --size {square[0]} "
                f"{square[1]} or omit --size"
                if square
                else ""
            )
            raise CommandError(
                f"--size {height} {width} gives {height * width} pixels{per_pixel} "
                f"but {what} takes {inputs} inputs{hint}."
            )
        return height, width
    if square is None and not has_size_option:
        raise CommandError(
            f"{what} takes {inputs} inputs, which is not a square image; "
            "this command needs sources whose input is a square image (it "
            "reads your images at that size). Score the source in Python "
            "instead: skalltransfer.rank_sources on images loaded with "
            "skalltransfer.datasets.load_image_folder(path, size=(HEIGHT, WIDTH))."
        )
    if square is None:
        raise CommandError(
            f"{what} takes {inputs} inputs, which is not a square image"
            f"{per_pixel and ' of ' + str(channels) + ' channels'}; pass --size "
            "HEIGHT WIDTH."
        )
    return square[:2]


def no_information_leep(y):
    """LEEP (and NCE) of a source whose outputs are the same for every
    image, whatever they are: minus the entropy of the class frequencies of
    the labels ``y``."""
    freq = np.unique(y, return_counts=True)[1] / len(y)
    return float(np.sum(freq * np.log(freq)))


def one_line_doc(func):
    return func.__doc__.strip().splitlines()[0]


def show_progress(args):
    """Progress bars: on a terminal, unless -q or -v (whose lines would mix),
    and only with tqdm installed (without it the plain notices are printed)."""
    if args.quiet or args.verbose or not sys.stderr.isatty():
        return False
    return importlib.util.find_spec("tqdm") is not None


def epoch_budget(model):
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


def epoch_reporter(bar):
    """A ``progress(epoch, loss)`` callback advancing ``bar`` (None: none)."""
    if bar is None:
        return None

    def progress(epoch, loss):
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.update(1)

    return progress


def check_out(path):
    """The absolute ``--out`` path, checked before any training: a known
    format, an existing directory we can write in."""
    from skalltransfer._persist import model_format

    out = os.path.abspath(path)
    if os.path.isdir(out):
        raise CommandError(f"--out {path} is a directory; pass a file name.")
    directory = os.path.dirname(out)
    if not os.path.isdir(directory):
        raise CommandError(
            f"--out {path}: the directory '{directory}' does not exist; create it "
            "first."
        )
    with reported(ValueError, context=f"--out {path}"):
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


# On Windows the backslash separates folders and no file name holds a
# control character: paths print as they are there.
_ESCAPED_BACKSLASH = "\\" if os.sep == "/" else None


def escape(text):
    r"""``text`` on one line, for a printed table.

    A character that does not print (tab, newline, carriage return, other
    control characters, a byte of a file name that is not valid UTF-8)
    becomes its Python escape (``\t``, ``\n``, ``\r``, ``\x1b``,
    ``\udcff``) and, except on Windows, where it separates folders, a
    backslash becomes ``\\``; every other character is kept.
    """
    text = str(text)
    if text.isprintable() and (_ESCAPED_BACKSLASH is None or "\\" not in text):
        return text
    return "".join(
        "\\\\"
        if c == _ESCAPED_BACKSLASH
        else c
        if c.isprintable()
        else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def print_table(row_names, col_names, rows, fmt, corner=""):
    """A plain-text table, first column left-aligned (headed by ``corner``);
    names escaped."""
    row_names = [escape(n) for n in row_names]
    col_names = [escape(n) for n in col_names]
    first = max(len(n) for n in [*row_names, corner])
    width = max([len(n) for n in col_names] + [len(fmt(v)) for v in rows.flat])
    print(f"  {corner:<{first}}" + "".join(f"  {n:>{width}}" for n in col_names))
    for name, row in zip(row_names, rows):
        cells = "".join(f"  {fmt(v):>{width}}" for v in row)
        print(f"  {name:<{first}}{cells}")


def add_allow_pickle_argument(parser, what):
    """The ``--allow-pickle`` flag of a command that reads ``what``."""
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help=f"read {what} saved as a pickle (.joblib, .pkl, .pickle). Loading "
        "a pickle runs code stored in it, so without this flag such a file is "
        "refused unread; pass it only for files you trust.",
    )


def load_user_model(path, what, allow_pickle=False):
    """A fitted model from a ``.skops`` file (no code runs) or, with
    ``allow_pickle`` and after a one-line notice on stderr, from a file named
    as a pickle (``.joblib``, ``.pkl``, ``.pickle``); anything else, and a
    pickle without ``allow_pickle``, is refused unread."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from skalltransfer._persist import PICKLE_SUFFIXES, is_skops_file, load_model

    if not os.path.isfile(path):
        raise CommandError(f"{what} {path}: no such file.")
    is_skops = is_skops_file(path)
    suffix = os.path.splitext(path)[1].lower()
    if is_skops or suffix not in PICKLE_SUFFIXES:
        # Only a file named as a pickle is ever unpickled: a pickle renamed
        # .skops (or anything else) is refused without running it.
        if not is_skops:
            raise CommandError(
                f"{what} {path}: not a .skops model (a skops archive), and only "
                f"files named {', '.join(PICKLE_SUFFIXES)} are read as pickles. "
                "Pass a file written by 'skalltransfer fit' (or "
                "skalltransfer.save_model)."
            )
        with reported(ValueError, OSError, context=f"{what} {path}"):
            model = load_model(path)
    elif not allow_pickle:
        raise CommandError(
            f"{what} {path}: a {suffix} file is a pickle, and loading a pickle "
            "runs code stored in it, so it is not read without --allow-pickle. "
            "Pass --allow-pickle if you trust the file, or save the model as "
            ".skops (skalltransfer.save_model), which loads without running code."
        )
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
