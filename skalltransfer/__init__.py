"""Whole-layer ("all-transfer") transfer learning of deep networks on small datasets.

Source models (trained on a large source set such as MNIST):

- :class:`MPDBMClassifier`: multi-prediction deep Boltzmann machine;
- :class:`StackedAutoencoderClassifier`: stacked denoising autoencoders.

Both expose their parameters as one shared :class:`LayerStack`.
"""

from ._alltransfer import AllTransferClassifier
from ._autoencoder import StackedAutoencoderClassifier
from ._cache import clear_cache, get_cache_dir
from ._display import FilterDisplay, RelationDisplay, plot_filters
from ._mpdbm import MPDBMClassifier
from ._schemes import DirectTransferClassifier, SourceFeatures
from ._source import SourceData, clear_source_cache
from ._stack import LayerStack
from ._truncated import TruncatedTransferClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "AllTransferClassifier",
    "DirectTransferClassifier",
    "FilterDisplay",
    "LayerStack",
    "MPDBMClassifier",
    "RelationDisplay",
    "SourceData",
    "SourceFeatures",
    "StackedAutoencoderClassifier",
    "TruncatedTransferClassifier",
    "clear_cache",
    "clear_source_cache",
    "get_cache_dir",
    "plot_filters",
    "__version__",
]
