"""How the commands read image files: the loaders' options (``--intensity``,
``--invert``, ``--color``), the image shape a network takes, a one-line
account of what was done to the images, and image warnings as one line."""

import argparse
import json
import os
import re
import sys
import warnings
from contextlib import contextmanager

from skalltransfer._core._images import ImageConventionWarning, square_image_shape
from skalltransfer.cli._common import CommandError, image_size, positive_int
from skalltransfer.datasets._intensity import (
    COLORS,
    INTENSITIES,
    MAX_BITS,
    check_intensity,
)

CHANNELS = {"gray": 1, "rgb": 3}
DEFAULT_INTENSITY = "auto"
DEFAULT_INVERT = False


# -- argument types ---------------------------------------------------------------
def intensity(text):
    if text in INTENSITIES:
        return text
    head, _, bits = text.partition(":")
    if head == "bits" and bits.isdigit() and 1 <= int(bits) <= MAX_BITS:
        return f"bits:{int(bits)}"
    if head == "range":
        try:
            check_intensity(text)
        except ValueError:
            pass
        else:
            return text
    raise argparse.ArgumentTypeError(
        f"expected auto, dtype, bits:N (N from 1 to {MAX_BITS}), minmax, "
        f"range:LOW:HIGH (finite, LOW < HIGH) or per-image, got {text!r}"
    )


_INVERT = {"auto": "auto", "yes": True, "no": False}


def invert(text):
    if text not in _INVERT:
        raise argparse.ArgumentTypeError(f"expected auto, yes or no, got {text!r}")
    return _INVERT[text]


def add_size_argument(parser, help):
    """``--size HEIGHT WIDTH``; None means "not given"."""
    parser.add_argument(
        "--size",
        type=positive_int,
        nargs=2,
        default=None,
        metavar=("HEIGHT", "WIDTH"),
        help=help,
    )


def add_image_arguments(parser, color_default):
    """``--intensity``, ``--invert`` and ``--color``; None means "not
    given" (the command fills in its default)."""
    parser.add_argument(
        "--intensity",
        type=intensity,
        default=None,
        metavar="MODE",
        help="how pixel values are brought into [0, 1]: auto (the default: "
        "8-bit images divided by 255, 16-bit ones by the bit depth their values "
        "use, e.g. 4095 for 12-bit scans), dtype (by the file's type: 255 or "
        "65535), bits:N (by 2^N - 1), minmax (the smallest and largest value "
        "of all the images to 0 and 1), range:LOW:HIGH (LOW and HIGH to 0 and "
        "1) or per-image (each image stretched to its own range: for a grey "
        "background or a low contrast)",
    )
    parser.add_argument(
        "--invert",
        type=invert,
        nargs="?",
        const=True,
        default=None,
        metavar="auto|yes|no",
        help="invert the intensities (bright background to dark, as in the "
        "source's images): yes (also --invert alone), no (the default) or auto "
        "(invert when the images' border is brighter than the images on "
        "average)",
    )
    parser.add_argument(
        "--color",
        choices=COLORS,
        default=None,
        help=f"read the images as gray or rgb (default: {color_default})",
    )


def loader_options(args, color):
    """The keyword arguments of the loaders for ``args``."""
    return {
        "intensity": DEFAULT_INTENSITY if args.intensity is None else args.intensity,
        "invert": DEFAULT_INVERT if args.invert is None else args.invert,
        "color": color,
    }


def option_text(options):
    """``options`` as the command-line flags that give them."""
    names = {True: "yes", False: "no", "auto": "auto"}
    return (
        f"--intensity {options['intensity']} --invert {names[options['invert']]} "
        f"--color {options['color']}"
    )


# -- the images a network takes ---------------------------------------------------
def declared_image_shape(model):
    """``(height, width, channels)`` of the images the fitted ``model``
    takes, or None when it does not say (a model that is not a network, a
    network whose input is not a square image)."""
    stack = _stack_of(model)
    return None if stack is None else stack.family.image_shape(stack)


def reads_image_layout(model):
    """Whether the fitted ``model`` reads its inputs in the layout of its
    declared image shape (a convolutional network), so that images of
    another shape with as many pixels would be read wrongly."""
    stack = _stack_of(model)
    return stack is not None and stack.family.reads_image_layout


def _stack_of(model):
    from skalltransfer._core._stack import LayerStack

    try:
        return LayerStack.from_estimator(model)
    except (TypeError, ValueError, AttributeError):
        return None


def input_images(
    n_features, shape, size, color, what, has_size_option=True, fixed_layout=False
):
    """``((height, width), color)`` of the images to read for a network of
    ``n_features`` inputs declaring the image ``shape`` (or None).

    ``color`` (``--color``, or None: follow the network) must agree with
    the network's channels; ``size`` (``--size``, or None) with its
    inputs, and with ``shape`` itself when the network reads that layout
    (``fixed_layout``).
    """
    if shape is not None:
        channels = shape[2]
        if channels not in CHANNELS.values():
            raise CommandError(
                f"{what} takes {channels}-channel images; the command line reads "
                "gray (1 channel) or RGB (3 channels) images. Load the images in "
                "Python instead."
            )
        follows = "rgb" if channels == 3 else "gray"
        if color is not None and color != follows:
            raise CommandError(
                f"--color {color}: {what} takes {follows} images ({channels} "
                f"channel{'s' if channels > 1 else ''}); drop --color or pass "
                f"--color {follows}."
            )
        color = follows
        if size is None:
            return tuple(shape[:2]), color
        if fixed_layout and tuple(size) != tuple(shape[:2]):
            # Same pixel count, other shape: a convolutional network would read
            # the rows folded into its own.
            raise CommandError(
                f"--size {size[0]} {size[1]}: {what} takes {shape[0]}x{shape[1]} "
                f"images; pass --size {shape[0]} {shape[1]} or omit --size."
            )
    rgb = square_image_shape(n_features, 3)
    if color is None and size is None and not square_image_shape(n_features) and rgb:
        raise CommandError(
            f"{what} takes {n_features} inputs, which is not a square grey image "
            f"but is {rgb[0]}x{rgb[1]} RGB: pass --color rgb."
        )
    color = color or "gray"
    channels = CHANNELS[color]
    if n_features % channels:
        raise CommandError(
            f"--color {color}: {what} takes {n_features} inputs, which are not "
            f"{channels}-channel images; drop --color {color}."
        )
    hw = image_size(
        n_features // channels, size, what, has_size_option, channels=channels
    )
    return hw, color


def describe_images(info):
    """What was done to the images, from the loaders' ``info``: size,
    channels, intensity scaling, inversion."""
    height, width = info["size"]
    channels = int(info["channels"])
    kind = "grayscale" if channels == 1 else "RGB" if channels == 3 else "colour"
    inverted = "inverted" if info["inverted"] else "not inverted"
    return f"{height}x{width} {kind}, {inverted}; intensities: {info['intensity']}"


def json_info(info):
    """The loaders' ``info`` as plain JSON values."""
    out = {}
    for key, value in info.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


# -- the loading recorded at fit time ---------------------------------------------
def report_path(model_path):
    """The report ``fit`` writes beside the model ``model_path``."""
    return os.path.splitext(model_path)[0] + "_report.json"


def _depth_in_phrase(phrase):
    """The bit depth in an ``info["intensity"]`` phrase ("12-bit values in
    16-bit files, divided by 4095"), for reports written before the loaders
    returned ``info["bit_depth"]``; None unless exactly one depth is named."""
    divisors = set(re.findall(r"divided by (\d+)", phrase))
    if len(divisors) != 1:
        return None
    top = int(divisors.pop())
    bits = (top + 1).bit_length() - 1
    return bits if top == 2**bits - 1 else None


def _wide_depth(info):
    """The bit depth an ``--intensity auto`` found for integer images wider
    than 8 bits, None for anything else (8-bit images, a mix of depths)."""
    if "bit_depth" in info:
        depth = info["bit_depth"]
    else:
        depth = _depth_in_phrase(str(info["intensity"]))
    if depth is not None and (type(depth) is not int or not 1 <= depth <= MAX_BITS):
        raise ValueError(f"bit_depth {depth!r} is not a bit depth")
    return depth if depth is not None and depth > 8 else None


def _range_option(value_range):
    """``"range:LOW:HIGH"`` of a recorded ``[low, high]``; a ValueError or
    TypeError for anything else."""
    low, high = value_range
    if type(low) not in (int, float) or type(high) not in (int, float):
        raise TypeError("range of the wrong kind")
    if low == high:
        return "minmax"  # a constant training set: nothing to fix
    text = f"range:{low!r}:{high!r}"
    check_intensity(text)
    return text


def _checked_options(report, model_path):
    """The image options of a report (see :func:`training_options`); a
    ValueError or TypeError for a report of another model or a value of the
    wrong kind."""
    if not isinstance(report, dict):
        raise TypeError(f"a JSON {type(report).__name__}, not an object")
    model = report.get("model")
    if isinstance(model, str) and (
        os.path.splitext(model)[1] != os.path.splitext(model_path)[1]
    ):
        raise ValueError(f"the report of '{model}'")
    images = report["images"]
    options = {key: images["options"][key] for key in ("intensity", "invert", "color")}
    info = images["info"]
    kinds = {
        "intensity": isinstance(options["intensity"], str),
        "invert": type(options["invert"]) is bool or options["invert"] == "auto",
        "color": options["color"] is None or isinstance(options["color"], str),
        "inverted": type(info["inverted"]) is bool,
        "size": isinstance(info["size"], list)
        and len(info["size"]) == 2
        and all(type(side) is int and side >= 1 for side in info["size"]),
    }
    wrong = [key for key, right in kinds.items() if not right]
    if wrong:
        raise TypeError(f"{', '.join(wrong)} of the wrong kind")
    if options["invert"] == "auto":
        options["invert"] = info["inverted"]
    depth = _wide_depth(info)
    if options["intensity"] == "auto" and depth is not None:
        options["intensity"] = f"bits:{depth}"
    if options["intensity"] == "minmax" and info.get("range") is not None:
        # The training set's range, not each new batch's own.
        options["intensity"] = _range_option(info["range"])
    options["size"] = tuple(info["size"])
    return options


def training_options(model_path):
    """How ``fit`` loaded the training images of the model at
    ``model_path`` (``{"intensity", "invert", "color", "size"}``), from the
    report beside it; None without a readable report of that model.

    What ``fit`` decided over its whole folder is fixed, so that new images,
    however few, are treated the same way: ``--invert auto`` becomes what it
    decided, ``--intensity auto`` the bit depth it found for images wider
    than 8 bits, and the size is the one the images were read at."""
    path = report_path(model_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        options = _checked_options(report, model_path)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        detail = str(exc) if isinstance(exc, (ValueError, TypeError)) else ""
        reason = type(exc).__name__ if not detail or "\n" in detail else detail
        print(
            f"note: cannot read how the training images were loaded from '{path}' "
            f"({reason[:200]}); loading the images with the defaults.",
            file=sys.stderr,
        )
        return None
    return options


def apply_training_options(args, model_path):
    """Fill the image options not given on the command line with those
    ``fit`` used (see :func:`training_options`); say so on stderr when that
    changes anything."""
    recorded = training_options(model_path)
    if recorded is None:
        return
    taken = {}
    for key, default in (
        ("intensity", DEFAULT_INTENSITY),
        ("invert", DEFAULT_INVERT),
        ("color", None),
    ):
        if getattr(args, key) is None:
            setattr(args, key, recorded[key])
            if recorded[key] != default and key != "color":
                taken[key] = recorded[key]
    if getattr(args, "size", None) is None:
        args.size = recorded["size"]
        if recorded["size"][0] != recorded["size"][1]:
            taken["size"] = " ".join(map(str, recorded["size"]))
    if taken:
        names = {True: "yes", False: "no"}
        flags = " ".join(f"--{k} {names.get(v, v)}" for k, v in taken.items())
        print(
            f"note: reading the images as the training images were read ({flags}, "
            f"recorded in '{report_path(model_path)}'); pass the options to "
            "override.",
            file=sys.stderr,
        )


# -- warnings ---------------------------------------------------------------------
@contextmanager
def image_warnings(hint=None):
    """Print each :class:`ImageConventionWarning` raised inside as one
    ``warning: ...`` line on stderr, once per message, ``hint`` appended;
    other warnings are shown (or raised, or recorded) as they would be."""
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", ImageConventionWarning)
        shown_before = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, ImageConventionWarning):
                return shown_before(message, category, filename, lineno, file, line)
            text = " ".join(str(message).split())
            if text not in seen:
                seen.add(text)
                suffix = f" {hint}" if hint else ""
                print(f"warning: {text}{suffix}", file=sys.stderr, flush=True)
            return None

        warnings.showwarning = show
        yield
