"""Whole-layer ("all-transfer") transfer learning of deep networks on small datasets.

Source models (:mod:`skalltransfer.sources`), trained on a large source set
such as MNIST, sharing one :class:`LayerStack` representation:

- :class:`MPDBMClassifier`: multi-prediction deep Boltzmann machine;
- :class:`StackedAutoencoderClassifier`: stacked denoising autoencoders;
- :class:`ConvAutoencoderClassifier`: stacked convolutional denoising
  autoencoders (a convolutional source).

Transfer to a small target set (:mod:`skalltransfer.transfer`; ``fit`` takes
target data only):

- :class:`AllTransferClassifier`: relation, unit selection and fine-tuning of
  every layer (T = all), or of the first T layers under a new head;
- :class:`TruncatedTransferClassifier`: keep the bottom layers, new head;
- :class:`SourceFeatures`, :class:`DirectTransferClassifier`: frozen
  features and direct use of the source;
- :class:`SourceData`: source data for unfitted sources and the MMD penalty.

Before fine-tuning (:mod:`skalltransfer.metrics`): :func:`transferability`,
:func:`rank_sources` and :func:`make_transferability_scorer` say whether
transfer will help, and from which source (LEEP, NCE, LogME, k-NN).

Does transfer help on your images (:mod:`skalltransfer.model_selection`):
:func:`compare_transfer` cross-validates the transfer, the same network
from scratch and a linear model on the same folds.

Plots (:mod:`skalltransfer.plotting`): :class:`RelationDisplay` (the
relation, Fig. 3), :class:`FilterDisplay` (first-layer weights, Fig. 5) and
:class:`TransferComparisonDisplay` (the comparison, fold by fold).
Also :mod:`skalltransfer.datasets` (bundled data and loaders) and
:mod:`skalltransfer.active` (active fine-tuning). Parallel searches:
:func:`prefit_sources` warms the source cache. Persistence: :func:`save_model`
and :func:`load_model` write and read ``.skops`` files, which load without
pickle. :func:`show_versions` prints what a bug report needs.
"""

from skalltransfer._core._images import ImageConventionWarning
from skalltransfer._core._stack import LayerStack
from skalltransfer._deprecated import (
    clear_source_cache,
    limit_threads,
    mk_mmd2,
    plot_filters,
    thread_info,
)
from skalltransfer._persist import load_model, save_model
from skalltransfer._show_versions import show_versions
from skalltransfer._source_cache._data import SourceData
from skalltransfer._source_cache._location import clear_cache, get_cache_dir
from skalltransfer._source_cache._prefit import prefit_sources
from skalltransfer._version import __version__
from skalltransfer.metrics import (
    make_transferability_scorer,
    rank_sources,
    transferability,
)
from skalltransfer.model_selection import compare_transfer
from skalltransfer.plotting import (
    FilterDisplay,
    RelationDisplay,
    TransferComparisonDisplay,
)
from skalltransfer.sources import (
    ConvAutoencoderClassifier,
    MPDBMClassifier,
    StackedAutoencoderClassifier,
)
from skalltransfer.transfer import (
    AllTransferClassifier,
    DirectTransferClassifier,
    SourceFeatures,
    TruncatedTransferClassifier,
)

__all__ = [
    "AllTransferClassifier",
    "ConvAutoencoderClassifier",
    "DirectTransferClassifier",
    "FilterDisplay",
    "ImageConventionWarning",
    "LayerStack",
    "MPDBMClassifier",
    "RelationDisplay",
    "SourceData",
    "SourceFeatures",
    "StackedAutoencoderClassifier",
    "TransferComparisonDisplay",
    "TruncatedTransferClassifier",
    "clear_cache",
    "compare_transfer",
    "get_cache_dir",
    "load_model",
    "make_transferability_scorer",
    "prefit_sources",
    "rank_sources",
    "save_model",
    "show_versions",
    "transferability",
    "__version__",
    # Deprecated, warn when called:
    "clear_source_cache",
    "limit_threads",
    "mk_mmd2",
    "plot_filters",
    "thread_info",
]
