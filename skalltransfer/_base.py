"""Estimator glue shared by the source models and the transfer estimators."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

# Rows per chunk at prediction time: bounds the extra memory of predict,
# predict_proba and transform independently of n_samples.
PREDICT_BATCH_SIZE = 2048


def check_unit_interval(X, what="X"):
    """Raise a ValueError naming the fix if ``X`` has values outside [0, 1]."""
    if X.size == 0:
        return
    lo, hi = float(X.min()), float(X.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{what} must hold values in [0, 1] (binary visible units / "
            f"pixel intensities), but its values range over [{lo:g}, {hi:g}]. "
            "Scale it first, e.g. divide 8-bit images by 255 or put "
            "sklearn.preprocessing.MinMaxScaler(clip=True) before this "
            "estimator in a Pipeline."
        )


def encode_labels(y):
    """``classes_`` and the integer code of each label."""
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"The target y holds only one class ({classes[0]!r}); a classifier "
            "needs samples of at least 2 classes."
        )
    return classes, codes.astype(np.intp)


def validation_split(n_samples, codes, validation_fraction, rng):
    """Stratified train/validation indices for early stopping (stratified
    whenever every class can give one sample to each side)."""
    idx = np.arange(n_samples)
    counts = np.bincount(codes)
    stratify = codes if counts.min() >= 2 else None
    n_val = max(int(round(validation_fraction * n_samples)), len(counts))
    if n_val >= n_samples:
        raise ValueError(
            f"early_stopping with validation_fraction={validation_fraction} "
            f"leaves no training data out of {n_samples} samples; disable "
            "early_stopping or pass more data."
        )
    train, val = train_test_split(
        idx, test_size=n_val, stratify=stratify, random_state=rng
    )
    return np.sort(train), np.sort(val)


def batched(func, X, batch_size=PREDICT_BATCH_SIZE):
    """Apply ``func`` to row chunks of ``X`` into one preallocated output, so
    the extra memory is one chunk, whatever the number of rows."""
    n = X.shape[0]
    if n <= batch_size:
        return func(X)
    first = func(X[:batch_size])
    out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
    out[:batch_size] = first
    for start in range(batch_size, n, batch_size):
        out[start : start + batch_size] = func(X[start : start + batch_size])
    return out


class BaseStackClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Prediction glue for classifiers built on a :class:`LayerStack`.

    Subclasses implement ``_proba(X)`` and ``_hidden(X)`` for one chunk of
    validated rows; this class handles validation, chunking and labels.
    """

    # Binary visible units only make sense for inputs in [0, 1].
    _requires_unit_interval = True

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a validated list of ints."""
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if sizes.ndim != 1 or sizes.size == 0 or np.any(sizes < 1):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive "
                f"integers, got {self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _check_warm_classes(self, classes):
        if not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start=True needs the same classes as the previous fit: "
                f"{self.classes_!r} then {classes!r}."
            )

    def _store_result(self, result, warm):
        """Fitted attributes of a :func:`run_training` result (a warm start
        extends the loss curve)."""
        self.n_iter_ = result["n_iter"]
        previous = self.loss_curve_ if warm else []
        self.loss_curve_ = list(previous) + result["loss_curve"]
        self.validation_scores_ = (
            result["validation_scores"] if self.early_stopping else None
        )
        self.best_validation_score_ = result["best_score"]

    def _record_fitted_params(self):
        """Remember which parameters produced the weights, so a transfer
        estimator can tell when they were changed after fitting."""
        from ._source import weights_params_hash

        self._fitted_params_hash = weights_params_hash(self)

    def __sklearn_is_fitted__(self):
        # n_features_in_ alone is set before fit can fail; the weights are not.
        return hasattr(self, "coefs_")

    def _validate_predict_X(self, X):
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=(np.float32, np.float64), ensure_all_finite=True
        )
        if self._requires_unit_interval:
            check_unit_interval(X)
        return X

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Values in [0, 1] for models with binary visible units.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1.
        """
        X = self._validate_predict_X(X)
        return batched(self._proba, X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (floored at the dtype's tiny)."""
        proba = self.predict_proba(X)
        return np.log(np.maximum(proba, np.finfo(proba.dtype).tiny))

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def transform(self, X):
        """Top hidden representation of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        H : ndarray of shape (n_samples, n_hidden_top)
        """
        X = self._validate_predict_X(X)
        return batched(self._hidden, X)

    def get_feature_names_out(self, input_features=None):
        """Names ``<classname>0 ... <classname>{n-1}`` of the transform output."""
        check_is_fitted(self)
        prefix = type(self).__name__.lower()
        n = (
            self.coefs_[-2].shape[1]
            if len(self.coefs_) > 1
            else self.coefs_[0].shape[0]
        )
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float32", "float64"]
        tags.classifier_tags.multi_class = True
        return tags
