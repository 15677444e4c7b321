"""Model families: one module each, registered by name.

A family is the object that says how a :class:`~skalltransfer.LayerStack`
computes and learns (see :class:`._base.Family`). Importing this package
registers every family below; a new family is one more module and one more
import here.
"""

from skalltransfer._core._families._base import (
    Family,
    FinetuneDefaults,
    get_family,
    register_family,
)
from skalltransfer._core._families._conv import CONV
from skalltransfer._core._families._feedforward import FEEDFORWARD
from skalltransfer._core._families._mpdbm import MPDBM

__all__ = [
    "CONV",
    "FEEDFORWARD",
    "MPDBM",
    "Family",
    "FinetuneDefaults",
    "get_family",
    "register_family",
]
