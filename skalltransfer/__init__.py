"""Whole-layer ("all-transfer") transfer learning of deep networks on small datasets."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
