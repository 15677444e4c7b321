"""Transfer estimators: fine-tune a source network on a small target set,
or reuse it frozen."""

from skalltransfer.transfer._alltransfer import AllTransferClassifier
from skalltransfer.transfer._direct import DirectTransferClassifier
from skalltransfer.transfer._features import SourceFeatures
from skalltransfer.transfer._truncated import TruncatedTransferClassifier

__all__ = [
    "AllTransferClassifier",
    "DirectTransferClassifier",
    "SourceFeatures",
    "TruncatedTransferClassifier",
]
