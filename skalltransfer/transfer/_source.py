"""Source handling shared by the estimators with a ``source`` parameter."""

import os

from sklearn.frozen import FrozenEstimator
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import _is_fitted

from skalltransfer._core._params import fitted_params_hash, weights_params_hash
from skalltransfer._source_cache._resolve import resolve_source

# Constraints of the source parameters, the same in every estimator that has
# them. source_data is checked in fit by check_source_data, whose message
# describes what was passed instead of printing it (the arrays may be large).
SOURCE_PARAMETER_CONSTRAINTS = {
    "source": [HasMethods(["fit"])],
    "source_data": "no_validation",
    "source_memory": [None, str, os.PathLike, HasMethods(["cache"])],
}


class TransferSourceMixin:
    """Source handling for estimators with ``source``, ``source_data`` and
    ``source_memory`` parameters: clone keeps a fitted source, fit resolves it.
    """

    def __sklearn_clone__(self):
        # clone() rebuilds `source` from its parameters, which un-fits it. The
        # clone remembers the fitted source and uses it as long as the cloned
        # source keeps the same parameters; a search that changes them can
        # only mutate the clone's unfitted copy, never the user's model.
        new = super().__sklearn_clone__()
        if not isinstance(self.source, FrozenEstimator) and _is_fitted(self.source):
            origin = self.source
        else:
            origin = getattr(self, "_source_origin", None)
        if origin is not None:
            new._source_origin = origin
        return new

    def set_params(self, **params):
        # A new source object (e.g. a search's un-fitted clone of one of its
        # candidate sources) must not stand for the fitted source this clone
        # remembers, however alike their parameters.
        if "source" in params and params["source"] is not self.source:
            self.__dict__.pop("_source_origin", None)
        return super().set_params(**params)

    def _transferred_source(self):
        """The source object this estimator's weights come from: the fitted
        source a clone stands for, else ``source`` itself. Names the source
        in the weights hash of a model that uses this estimator as its own
        source (a clone must hash as the fitted model it was cloned from)."""
        origin = getattr(self, "_source_origin", None)
        if (
            origin is not None
            and not _is_fitted(self.source)
            and fitted_params_hash(origin) == weights_params_hash(self.source)
        ):
            return origin
        return self.source

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Input goes through the source network: it refuses what the source
        # refuses (pixel intensities in [0, 1] for binary visible units).
        try:
            source_tags = get_tags(self.source)
        except (AttributeError, TypeError):  # not a scikit-learn estimator
            return tags
        tags.input_tags.positive_only = source_tags.input_tags.positive_only
        return tags

    def _fitted_source(self):
        """The fitted source model (see :func:`resolve_source`)."""
        fitted, _ = resolve_source(
            self.source,
            getattr(self, "source_data", None),
            getattr(self, "source_memory", None),
            getattr(self, "_source_origin", None),
        )
        return fitted
