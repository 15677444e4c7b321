"""SourceFeatures: a frozen source network's hidden codes as features for any
scikit-learn estimator."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._fitted import check_int, check_n_features
from skalltransfer._core._stack import LayerStack
from skalltransfer._core._validation import batched, check_source_input, validated
from skalltransfer.transfer._source import (
    SOURCE_PARAMETER_CONSTRAINTS,
    TransferSourceMixin,
)


class SourceFeatures(TransferSourceMixin, TransformerMixin, BaseEstimator):
    """Frozen representation of one hidden layer of a source network.

    Use it before any scikit-learn classifier in a ``Pipeline``: the source's
    first ``layer`` layers become a fixed feature extractor ("feature
    extraction", the third way to reuse a network). Nothing is trained.

    Parameters
    ----------
    source : estimator
        A fitted source model (or ``FrozenEstimator`` of one), or an unfitted
        one with ``source_data``; as in :class:`AllTransferClassifier`.
    layer : int or None, default=None
        1-based hidden layer whose activations are returned; None is the top
        hidden layer. For an MP-DBM these are the mean-field marginals with
        the label layer left free.
    source_data : SourceData or None, default=None
        Source training data, used to fit an unfitted ``source`` (or one
        whose parameters a search changed). Never sliced by
        cross-validation.
    source_memory : None, str, path or joblib.Memory, default=None
        Disk cache of fitted sources (a directory, or a ``joblib.Memory``'s
        location), keyed by the source parameters and the data fingerprint.
        Fitted sources are also cached in memory.

    Attributes
    ----------
    source_ : estimator
        The fitted source used (shared, never modified).
    layer_ : int
    n_features_in_ : int
    n_features_out_ : int

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skalltransfer import SourceFeatures, StackedAutoencoderClassifier
    >>> from skalltransfer.datasets import load_mnist
    >>> X, y = load_mnist()
    >>> source = StackedAutoencoderClassifier(
    ...     (32,), pretrain_max_iter=1, max_iter=2, random_state=0
    ... ).fit(X, y)
    >>> pipe = make_pipeline(SourceFeatures(source), LogisticRegression())
    >>> pipe.fit(X[::50], y[::50]).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **SOURCE_PARAMETER_CONSTRAINTS,
        "layer": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, source, layer=None, *, source_data=None, source_memory=None):
        self.source = source
        self.layer = layer
        self.source_data = source_data
        self.source_memory = source_memory

    @_fit_context(prefer_skip_nested_validation=False)  # the source may be fitted
    def fit(self, X, y=None):
        """Resolve the source network; nothing is trained on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : SourceFeatures
        """
        X = validated(self, X, dtype=(np.float32, np.float64))
        source = self._fitted_source()
        stack = LayerStack.from_estimator(source)
        check_source_input(source, stack, X)
        n_hidden = stack.n_layers - 1
        layer = n_hidden if self.layer is None else self.layer
        if not 1 <= layer <= n_hidden:
            raise ValueError(
                f"layer={self.layer} is out of range: the source has {n_hidden} "
                "hidden layer(s), numbered from 1."
            )
        self.source_ = source
        self.layer_ = layer
        self.n_features_out_ = stack.layer_sizes[layer]
        return self

    def __sklearn_is_fitted__(self):
        return hasattr(self, "layer_")

    def _check_fitted_state(self):
        """Raise a ValueError naming the attribute if the fitted state is not
        what a fit makes (a model read from a file)."""
        stack = LayerStack.from_estimator(self.source_)
        check_n_features(stack, self.n_features_in_, "source_.coefs_")
        layer = check_int(self.layer_, "layer_", low=1)
        n_hidden = stack.n_layers - 1
        if layer > n_hidden or self.n_features_out_ != stack.layer_sizes[layer]:
            raise ValueError(
                f"layer_={layer} and n_features_out_={self.n_features_out_!r} do not "
                f"name a hidden layer of the source (1 to {n_hidden})."
            )

    def transform(self, X):
        """Activations of hidden layer ``layer_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, `n_features_out_`)
        """
        check_is_fitted(self)
        X = validated(self, X, reset=False, dtype=(np.float32, np.float64))
        stack = LayerStack.from_estimator(self.source_)
        check_source_input(self.source_, stack, X)
        H = batched(lambda c: stack.hidden_representation(c, self.layer_), X)
        # As the tags promise: float32 in, float32 out, whatever the source's
        # own dtype.
        return H.astype(X.dtype, copy=False)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray(
            [f"sourcefeatures{i}" for i in range(self.n_features_out_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = ["float32", "float64"]
        return tags
