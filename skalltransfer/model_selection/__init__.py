"""Model selection for small targets: does transfer help on these images,
and how much, on the same folds."""

from skalltransfer.model_selection._comparison import (
    TransferComparison,
    compare_transfer,
)

__all__ = ["TransferComparison", "compare_transfer"]
