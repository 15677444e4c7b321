"""The ``skalltransfer`` command line (the ``skalltransfer`` console script).

One module per subcommand; :func:`main` is the entry point.
"""

from skalltransfer.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
