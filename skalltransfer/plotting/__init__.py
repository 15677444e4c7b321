"""Displays of a transfer, scikit-learn style (``Display.from_estimator``).

matplotlib is an optional dependency (``pip install "skalltransfer[plot]"``),
imported only when something is drawn.
"""

from skalltransfer.plotting._comparison import TransferComparisonDisplay
from skalltransfer.plotting._filters import FilterDisplay
from skalltransfer.plotting._relation import RelationDisplay

__all__ = ["FilterDisplay", "RelationDisplay", "TransferComparisonDisplay"]
