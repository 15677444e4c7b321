"""The ways to reuse a trained network besides fine-tuning (Kustikova's
lecture, seed 004): direct use of the source model, and its layers as a
frozen feature extractor."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import batched, check_unit_interval, encode_labels
from ._source import TransferSourceMixin
from ._stack import LayerStack


def _check_source_input(source, stack, X):
    if stack.layer_sizes[0] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} feature(s) but the source network expects "
            f"{stack.layer_sizes[0]}; resize the images to the source's input size."
        )
    if getattr(source, "_requires_unit_interval", False):
        check_unit_interval(X)


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
    source_memory : None, str, path or joblib.Memory, default=None

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
    >>> pipe.fit(X[:100], y[:100]).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "source": [HasMethods(["fit"])],
        "layer": [Interval(Integral, 1, None, closed="left"), None],
        "source_data": "no_validation",
        "source_memory": "no_validation",
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
        X = validate_data(self, X, dtype=(np.float32, np.float64))
        source = self._fitted_source()
        stack = LayerStack.from_estimator(source)
        _check_source_input(source, stack, X)
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
        X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
        stack = LayerStack.from_estimator(self.source_)
        _check_source_input(self.source_, stack, X)
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


class DirectTransferClassifier(TransferSourceMixin, ClassifierMixin, BaseEstimator):
    """Use the source model as it is, through a map of target to source labels.

    "Direct use", the first way to reuse a network: when the target classes
    are a subset of the source classes, the source already answers for them.
    Probabilities are the source's, restricted to the mapped classes and
    renormalised. ``fit`` trains nothing; it only checks and records the map.

    Parameters
    ----------
    source : estimator
        A fitted source model (or ``FrozenEstimator``), or an unfitted one
        with ``source_data``.
    label_map : dict or None, default=None
        ``{target_label: source_label}``. None maps every target label to the
        identical source label.
    source_data : SourceData or None, default=None
    source_memory : None, str, path or joblib.Memory, default=None

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    source_ : estimator
    source_units_ : ndarray of shape (n_classes,)
        Source output unit answering for each class of ``classes_``.
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "source": [HasMethods(["fit"])],
        "label_map": [dict, None],
        "source_data": "no_validation",
        "source_memory": "no_validation",
    }

    def __init__(self, source, label_map=None, *, source_data=None, source_memory=None):
        self.source = source
        self.label_map = label_map
        self.source_data = source_data
        self.source_memory = source_memory

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Check that every target class maps to a source class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : DirectTransferClassifier
        """
        X, y = validate_data(self, X, y, dtype=(np.float32, np.float64))
        # As every other classifier here: a single class is refused.
        classes, _ = encode_labels(y)
        source = self._fitted_source()
        stack = LayerStack.from_estimator(source)
        _check_source_input(source, stack, X)
        source_classes = np.asarray(getattr(source, "classes_", []))
        mapping = self.label_map or {c: c for c in classes}
        missing = [c for c in classes if c not in mapping]
        if missing:
            raise ValueError(f"label_map has no entry for target class(es) {missing}.")
        targets = [mapping[c] for c in classes]
        unknown = [t for t in targets if t not in set(source_classes.tolist())]
        if unknown:
            raise ValueError(
                f"Target class(es) {unknown} are not source classes "
                f"{source_classes.tolist()}: direct use needs the target labels to "
                "be a subset of the source labels. Pass label_map={target: "
                "source}, or fine-tune with AllTransferClassifier."
            )
        units = np.array([np.flatnonzero(source_classes == t)[0] for t in targets])
        if len(set(units.tolist())) != len(units):
            raise ValueError("label_map sends two target classes to one source class.")
        self.classes_ = classes
        self.source_ = source
        self.source_units_ = units
        return self

    def predict_proba(self, X):
        """Source probabilities of the mapped classes, renormalised.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
        stack = LayerStack.from_estimator(self.source_)
        _check_source_input(self.source_, stack, X)
        out = batched(stack.output_proba, X)[:, self.source_units_]
        total = out.sum(axis=1, keepdims=True)
        return np.divide(
            out, total, out=np.full_like(out, 1 / out.shape[1]), where=total > 0
        )

    def predict(self, X):
        """Most probable mapped class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        # predict_proba first: it raises NotFittedError before fit.
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # fit learns nothing from the target data: on data unlike the
        # source's the score is whatever the source makes of it.
        tags.classifier_tags.poor_score = True
        return tags
