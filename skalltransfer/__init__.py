"""Whole-layer ("all-transfer") transfer learning of deep networks on small datasets.

Source models, trained on a large source set such as MNIST, sharing one
:class:`LayerStack` representation:

- :class:`MPDBMClassifier`: multi-prediction deep Boltzmann machine;
- :class:`StackedAutoencoderClassifier`: stacked denoising autoencoders;
- :class:`ConvAutoencoderClassifier`: stacked convolutional denoising
  autoencoders (a convolutional source).

Transfer to a small target set (``fit`` takes target data only):

- :class:`AllTransferClassifier`: relation, unit selection and fine-tuning of
  every layer (T = all), or of the first T layers under a new head;
- :class:`TruncatedTransferClassifier`: keep the bottom layers, new head;
- :class:`SourceFeatures`, :class:`DirectTransferClassifier`: frozen
  features and direct use of the source;
- :class:`SourceData`: source data for unfitted sources and the MMD penalty;
  :func:`mk_mmd2` measures the discrepancy that penalty reduces;
- :func:`transferability`, :func:`rank_sources` and
  :func:`make_transferability_scorer`: will transfer help, and from which
  source (LEEP, NCE, LogME, k-NN), without fine-tuning.

Plots: :class:`RelationDisplay` (the relation, Fig. 3) and
:func:`plot_filters` (first-layer weights, Fig. 5). Subpackages:
:mod:`skalltransfer.datasets` (bundled data and loaders) and
:mod:`skalltransfer.active` (active fine-tuning). Parallel searches:
:func:`prefit_sources` warms the source cache, :func:`limit_threads` caps
BLAS threads. Persistence: :func:`save_model` and :func:`load_model` write and
read ``.skops`` files, which load without pickle.
"""

from ._alltransfer import AllTransferClassifier
from ._autoencoder import StackedAutoencoderClassifier
from ._cache import clear_cache, get_cache_dir
from ._conv_autoencoder import ConvAutoencoderClassifier
from ._display import FilterDisplay, RelationDisplay, plot_filters
from ._kernels._mmd import mk_mmd2
from ._mpdbm import MPDBMClassifier
from ._parallel import limit_threads, prefit_sources, thread_info
from ._persist import load_model, save_model
from ._schemes import DirectTransferClassifier, SourceFeatures
from ._source import SourceData, clear_source_cache
from ._stack import LayerStack
from ._transferability import (
    make_transferability_scorer,
    rank_sources,
    transferability,
)
from ._truncated import TruncatedTransferClassifier
from ._version import __version__

__all__ = [
    "AllTransferClassifier",
    "ConvAutoencoderClassifier",
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
    "limit_threads",
    "load_model",
    "make_transferability_scorer",
    "mk_mmd2",
    "plot_filters",
    "prefit_sources",
    "rank_sources",
    "save_model",
    "thread_info",
    "transferability",
    "__version__",
]
