"""The ``skalltransfer`` command.

Subcommands:

- ``demo``: train the MP-DBM and SAE sources on the bundled MNIST subset;
- ``fit``: transfer a source network to your own images (one sub-folder per
  class), cross-validate it against not transferring, and save the fitted
  model with a report;
- ``predict``: apply a saved model to new images;
- ``evaluate``: score a saved model on a folder of labelled images;
- ``rank``: rank source networks by their transferability to your images;
- ``reproduce``: the seed paper's Tables II-V on the bundled data, as a report.

User errors (a missing folder, an unreadable model, ...) are reported as one
line on stderr with exit status 2, without a traceback.

Models are saved as ``.skops`` (loaded without pickle) or ``.joblib``; a
joblib file runs code when it is loaded, so it is read only with
``--allow-pickle`` (and after a notice).
``fit`` shows a progress bar (tqdm, when installed) over the source's
training epochs and then the cross-validation fits when stderr is a
terminal. A warning that images look unlike the network's own is printed
as one ``warning: ...`` line on stderr.
"""

import argparse
import io
import os
import sys

from skalltransfer.cli._common import EXIT_USAGE, CommandError
from skalltransfer.cli._demo import add_demo_command
from skalltransfer.cli._evaluate import add_evaluate_command
from skalltransfer.cli._fit import add_fit_command
from skalltransfer.cli._images import image_warnings
from skalltransfer.cli._predict import add_predict_command
from skalltransfer.cli._rank import add_rank_command
from skalltransfer.cli._reproduce import add_reproduce_command

_COMMANDS = [
    add_demo_command,
    add_fit_command,
    add_rank_command,
    add_predict_command,
    add_evaluate_command,
    add_reproduce_command,
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
        # Image warnings not handled where they arise: one line each too.
        with image_warnings():
            return args.func(args)
    except BrokenPipeError:
        # The reader of the output left (e.g. '| head'): stop quietly, and
        # keep Python from failing again while flushing at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 1
    except CommandError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
