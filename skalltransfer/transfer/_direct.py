"""DirectTransferClassifier: the source network used as it is, its output
units mapped to the target classes."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._fitted import check_classes, check_n_features
from skalltransfer._core._stack import LayerStack
from skalltransfer._core._validation import (
    batched,
    check_source_input,
    encode_labels,
    validated,
)
from skalltransfer.transfer._relation import proba_of_units
from skalltransfer.transfer._source import (
    SOURCE_PARAMETER_CONSTRAINTS,
    TransferSourceMixin,
)


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
        Source training data, used to fit an unfitted ``source`` (or one
        whose parameters a search changed). Never sliced by
        cross-validation.
    source_memory : None, str, path or joblib.Memory, default=None
        Disk cache of fitted sources (a directory, or a ``joblib.Memory``'s
        location), keyed by the source parameters and the data fingerprint.
        Fitted sources are also cached in memory.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    source_ : estimator
    source_units_ : ndarray of shape (n_classes,)
        Source output unit answering for each class of ``classes_``.
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        **SOURCE_PARAMETER_CONSTRAINTS,
        "label_map": [dict, None],
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
        X, y = validated(self, X, y, dtype=(np.float32, np.float64))
        # As every other classifier here: a single class is refused.
        classes, _ = encode_labels(y)
        source = self._fitted_source()
        stack = LayerStack.from_estimator(source)
        check_source_input(source, stack, X)
        source_classes = np.asarray(getattr(source, "classes_", []))
        # An empty dict is a map with no entries, not "no map".
        mapping = {c: c for c in classes} if self.label_map is None else self.label_map
        missing = [c for c in classes.tolist() if c not in mapping]
        if missing:
            raise ValueError(
                f"label_map has no entry for target class(es) {missing}: give "
                "each target class the source class it is (label_map={target: "
                "source}), or pass label_map=None when they share their labels."
            )
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

    def __sklearn_is_fitted__(self):
        return hasattr(self, "source_units_")

    def _check_fitted_state(self):
        """Raise a ValueError naming the attribute if the fitted state is not
        what a fit makes (a model read from a file)."""
        check_classes(self.classes_)
        stack = LayerStack.from_estimator(self.source_)
        check_n_features(stack, self.n_features_in_, "source_.coefs_")
        units, n_units = self.source_units_, stack.layer_sizes[-1]
        if (
            not isinstance(units, np.ndarray)
            or units.dtype.kind not in "iu"
            or units.shape != self.classes_.shape
            or units.min() < 0
            or units.max() >= n_units
        ):
            raise ValueError(
                f"source_units_ must be one source output unit in [0, {n_units}) "
                f"per class, got {units!r}."
            )

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
        X = validated(self, X, reset=False, dtype=(np.float32, np.float64))
        stack = LayerStack.from_estimator(self.source_)
        check_source_input(self.source_, stack, X)
        return proba_of_units(batched(stack.output_proba, X), self.source_units_)

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
