"""Active fine-tuning: choose which target samples to label.

Query strategies follow scikit-activeml's contract
``strategy.query(X, y, clf, batch_size=1, return_utilities=False)``, with
unlabelled samples marked in ``y`` by ``missing_label`` (NaN by default) and
``clf`` a fitted classifier. :class:`ActiveTransferLearner` runs the
label-and-fine-tune loop around any classifier, e.g.
:class:`~skalltransfer.AllTransferClassifier`.
"""

from skalltransfer.active._aift import AIFTSampling, aift_scores, random_shift_augment
from skalltransfer.active._coreset import MMDCoreSetSampling, k_center_greedy
from skalltransfer.active._learner import ActiveTransferLearner
from skalltransfer.active._strategies import (
    EntropySampling,
    QueryStrategy,
    RandomSampling,
    is_unlabeled,
)

__all__ = [
    "AIFTSampling",
    "ActiveTransferLearner",
    "EntropySampling",
    "MMDCoreSetSampling",
    "QueryStrategy",
    "RandomSampling",
    "aift_scores",
    "is_unlabeled",
    "k_center_greedy",
    "random_shift_augment",
]
