"""Measures of a source before fine-tuning: transferability scores and the
discrepancy between source and target codes."""

from skalltransfer.metrics._mmd import multi_kernel_mmd2
from skalltransfer.metrics._transferability import (
    make_transferability_scorer,
    rank_sources,
    transferability,
)

__all__ = [
    "make_transferability_scorer",
    "multi_kernel_mmd2",
    "rank_sources",
    "transferability",
]
