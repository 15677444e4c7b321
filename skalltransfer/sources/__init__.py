"""Source models: deep networks trained on a large source set, each a
scikit-learn classifier built on a :class:`~skalltransfer.LayerStack`."""

from skalltransfer.sources._autoencoder import StackedAutoencoderClassifier
from skalltransfer.sources._conv_autoencoder import ConvAutoencoderClassifier
from skalltransfer.sources._mpdbm import MPDBMClassifier

__all__ = [
    "ConvAutoencoderClassifier",
    "MPDBMClassifier",
    "StackedAutoencoderClassifier",
]
