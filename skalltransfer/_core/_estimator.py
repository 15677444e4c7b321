"""The one fit skeleton of every estimator that trains a layer stack:
:class:`BaseStackClassifier`."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._fitted import (
    check_classes,
    check_int,
    check_layer_arrays,
    check_n_features,
    check_numbers,
    check_statistics,
    checked_layers,
)
from skalltransfer._core._images import (
    ImageConventionWarning,
    convention_differences,
)
from skalltransfer._core._params import weights_params_hash
from skalltransfer._core._training import TargetRows, run_training
from skalltransfer._core._validation import (
    as_integers,
    batched,
    check_unit_interval,
    encode_labels,
    validated,
)
from skalltransfer._kernels._image_stats import image_statistics


def validation_split(n_samples, codes, validation_fraction, rng):
    """Stratified train/validation indices for early stopping (stratified
    whenever every class can give one sample to each side)."""
    idx = np.arange(n_samples)
    counts = np.bincount(codes)
    stratify = codes if counts.min() >= 2 else None
    n_val = max(int(round(validation_fraction * n_samples)), len(counts))
    if n_samples - n_val < len(counts):
        raise ValueError(
            f"early_stopping with validation_fraction={validation_fraction} "
            f"leaves {n_samples - n_val} of {n_samples} samples to train on, fewer "
            f"than the {len(counts)} classes; lower validation_fraction, disable "
            "early_stopping or pass more data."
        )
    train, val = train_test_split(
        idx, test_size=n_val, stratify=stratify, random_state=rng
    )
    return np.sort(train), np.sort(val)


def mean_log_likelihood(proba, codes):
    """Mean log-probability of the true classes (the negative log-loss; the
    early-stopping score of every estimator here)."""
    picked = proba[np.arange(len(codes)), codes]
    return float(np.mean(np.log(np.maximum(picked, 1e-12))))


def _plain(value):
    """``value`` with sequences and NumPy scalars as plain lists and numbers,
    so that ``(8,)``, ``[8]`` and ``np.array([8])`` compare equal."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class BaseStackClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Classifiers built on a :class:`LayerStack`: the one fit skeleton, and
    prediction through the stack's family.

    ``_fit`` validates the data, builds the network to train (fresh,
    warm-started or transferred), trains it with the family's objective in
    minibatch epochs (early stopping on held-out data if asked) and stores
    the result, as scikit-learn's ``BaseMultilayerPerceptron._fit`` does.
    Subclasses implement:

    - ``_layer_stack()``: the fitted network as a :class:`LayerStack`;
    - ``_start_fit(X, codes, classes, rng, warm)``: check the input and
      return the network to train;
    - ``_set_network(network)``: make ``network`` the prediction state;
    - ``_make_optimizer(network, params)``;

    and may override ``_target_table``, ``_sample_weight``,
    ``_training_rows``, ``_objective_options``, ``_constraint`` and
    ``_end_fit``.
    """

    # Parameters of the fit skeleton, shared by every subclass.
    _parameter_constraints: dict = {
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # Binary visible units only make sense for inputs in [0, 1].
    _requires_unit_interval = True

    # Parameters that shape the network: warm_start refuses a change of them.
    _architecture_params = ()

    # The attributes a fit sets (subclasses add theirs): the source cache
    # restores these and nothing else.
    _fitted_attributes = (
        "n_features_in_",
        "feature_names_in_",
        "classes_",
        "coefs_",
        "intercepts_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_iter_",
        "loss_curve_",
        "validation_scores_",
        "best_validation_score_",
        "_fitted_params_hash",
        "_fitted_architecture",
        "input_statistics_",
    )

    # -- the fit skeleton -------------------------------------------------------
    def _fit(self, X, y):
        X, y = validated(self, X, y, dtype=(np.float32, np.float64))
        classes, codes = encode_labels(y)
        rng = check_random_state(self.random_state)
        warm = self.warm_start and self.__sklearn_is_fitted__()
        if warm:
            self._check_warm_start(X, classes)
        network = self._start_fit(X, codes, classes, rng, warm)
        # Prediction state first: early stopping predicts during training.
        self.classes_ = classes
        self._set_network(network)
        # The shape of the fitted network, as MLPClassifier reports it.
        self.n_layers_ = network.n_layers + 1
        self.n_outputs_ = network.layer_sizes[-1]
        self.out_activation_ = network.output_activation
        result = self._fit_stochastic(network, X, codes, rng)
        self._store_result(result, warm)
        self._fitted_architecture = self._architecture()
        # What the training images looked like: predict warns about images
        # that look otherwise, a transfer about targets that do.
        self.input_statistics_ = image_statistics(
            X, network.family.image_shape(network)
        )
        self._end_fit(X, codes)
        return self

    def _fit_stochastic(self, network, X, codes, rng):
        """Train ``network`` in place on ``(X, codes)``; the
        :func:`run_training` result."""
        split = self._training_split(X, codes, rng)
        max_iter, n_iter_no_change = self._training_budget(network, len(split[0]))
        return self._train(
            network, split, rng, self._make_optimizer, max_iter, n_iter_no_change
        )

    def _training_budget(self, network, n_train):
        """``(max_iter, n_iter_no_change)`` of a fit on ``n_train`` rows: the
        parameters as given (the transfer estimators resolve "auto")."""
        return self.max_iter, self.n_iter_no_change

    def _training_split(self, X, codes, rng):
        """``(X_train, codes_train, weights_train, validation_score)``: with
        ``early_stopping``, a held-out part scores the model after every
        epoch; otherwise everything trains and ``validation_score`` is None."""
        weights = self._sample_weight(codes, X.dtype)
        if not self.early_stopping:
            return X, codes, weights, None
        train, val = validation_split(len(X), codes, self.validation_fraction, rng)
        X_val, codes_val = X[val], codes[val]

        def validation_score():
            return mean_log_likelihood(self._proba(X_val), codes_val)

        w_train = None if weights is None else weights[train]
        return X[train], codes[train], w_train, validation_score

    def _train(self, network, split, rng, make_optimizer, max_iter, n_iter_no_change):
        """Run the family's objective of ``network`` on a
        :meth:`_training_split` for at most ``max_iter`` epochs (stopping
        after ``n_iter_no_change`` epochs without progress; None: never),
        with the optimizer ``make_optimizer(network, params)`` returns."""
        X_train, codes_train, w_train, validation_score = split
        table = self._target_table(len(self.classes_), X_train.dtype)
        params, loss_grad = network.family.objective(
            network,
            self._training_rows(network, X_train, rng),
            TargetRows(table, codes_train),
            rng=rng,
            sample_weight=w_train,
            **self._objective_options(network),
        )
        n_batches = max(1, len(X_train) // min(self.batch_size, len(X_train)))
        return run_training(
            params,
            loss_grad,
            len(X_train),
            optimizer=make_optimizer(network, params),
            max_iter=max_iter,
            batch_size=self.batch_size,
            rng=rng,
            tol=self.tol,
            n_iter_no_change=n_iter_no_change,
            validation_score=validation_score,
            after_update=self._constraint(network),
            verbose=self.verbose,
            name=type(self).__name__,
            loss_window=network.family.loss_window(n_batches),
        )

    def _target_table(self, n_classes, dtype):
        """Output-layer training target of each class code, one row each."""
        return np.eye(n_classes, dtype=dtype)

    def _sample_weight(self, codes, dtype):
        """Per-sample weights of the training loss, or None."""
        return None

    def _training_rows(self, network, X, rng):
        """What the objective reads ``X[batch]`` from: ``X``, or a view that
        augments the rows it returns."""
        return X

    def _objective_options(self, network):
        """Keyword arguments of the family's objective besides the data."""
        return {"l2": self.alpha}

    def _constraint(self, network):
        """A callable applied after every update (weight-norm limits), or None."""
        return None

    def _end_fit(self, X, codes):
        """Record what the fit leaves besides the network and its curves."""

    def _hidden_sizes(self):
        """``hidden_layer_sizes`` as a validated list of ints."""
        if np.ndim(self.hidden_layer_sizes) > 1:
            sizes = None
        else:
            sizes = as_integers(self.hidden_layer_sizes, "hidden_layer_sizes")
        if not sizes or min(sizes) < 1:
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive "
                f"integers, got {self.hidden_layer_sizes!r}."
            )
        return sizes

    def _architecture(self):
        """The parameters that shape the network (``_architecture_params``),
        as comparable text."""
        params = self.get_params(deep=False)
        return {name: repr(_plain(params[name])) for name in self._architecture_params}

    def _check_warm_start(self, X, classes):
        """Refuse to continue the previous fit on other classes, another
        input width or a network whose shaping parameters have changed."""
        if not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start=True needs the same classes as the previous fit: "
                f"{self.classes_!r} then {classes!r}."
            )
        before = getattr(self, "_fitted_architecture", None) or {}
        now = self._architecture()
        changed = [name for name in now if name in before and before[name] != now[name]]
        if changed:
            details = ", ".join(
                f"{name} {before[name]} -> {now[name]}" for name in changed
            )
            raise ValueError(
                f"warm_start=True continues the previous network, but {details} "
                "changed since it was fitted, so its weights no longer fit; set "
                "warm_start=False to fit a new network, or restore "
                f"{' and '.join(changed)}."
            )
        n_inputs = self._layer_stack().layer_sizes[0]
        if X.shape[1] != n_inputs:
            raise ValueError(
                f"warm_start=True continues a network of {n_inputs} inputs, but X "
                f"has {X.shape[1]} features; set warm_start=False to fit a new "
                "network."
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
        self._fitted_params_hash = weights_params_hash(self)

    def __sklearn_is_fitted__(self):
        # n_features_in_ alone is set before fit can fail; the weights are not.
        return hasattr(self, "coefs_")

    def _check_params_fit_weights(self, stack):
        """The hidden layer sizes the parameters ask for are those of the
        weights (a file can pair any parameters with any weights)."""
        sizes = [W.shape[1] for W in stack.coefs[:-1]]
        if self._hidden_sizes() != sizes:
            raise ValueError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} but the weights "
                f"have hidden layers of {tuple(sizes)} units."
            )

    def _check_fitted_state(self):
        """Raise a ValueError naming the attribute if the fitted state is not
        what a fit makes (a model read from a file or the source cache)."""
        check_classes(self.classes_)
        check_layer_arrays(
            self.coefs_, self.intercepts_, getattr(self, "visible_intercept_", None)
        )
        stack = checked_layers(self._layer_stack)
        self._check_params_fit_weights(stack)
        check_classes(self.classes_, stack.layer_sizes[-1])
        check_n_features(stack, self.n_features_in_, "coefs_")
        check_int(self.n_iter_, "n_iter_")
        check_numbers(self.loss_curve_, "loss_curve_")
        check_statistics(getattr(self, "input_statistics_", None))

    def _validate_predict_X(self, X):
        check_is_fitted(self)
        X = validated(
            self, X, reset=False, dtype=(np.float32, np.float64), ensure_all_finite=True
        )
        if self._requires_unit_interval:
            check_unit_interval(X)
        stack = self._layer_stack()
        self._warn_if_unlike_training(X, stack)
        # Converted once to the fitted network's dtype, whatever real numbers
        # were given (the network computes in its own dtype).
        return np.ascontiguousarray(X, dtype=stack.dtype)

    def _warn_if_unlike_training(self, X, stack):
        """Warn when the images to predict look unlike the training images
        (another intensity scaling, background or polarity)."""
        reference = getattr(self, "input_statistics_", None)
        differences = convention_differences(
            reference, image_statistics(X, stack.family.image_shape(stack))
        )
        if differences:
            warnings.warn(
                f"The {len(X)} image(s) given to {type(self).__name__} look unlike "
                f"its training images: {'; '.join(differences)}. Predictions on "
                "them are unreliable: load them the way the training images were "
                "loaded (the same intensity scaling, inversion and size).",
                ImageConventionWarning,
                stacklevel=4,
            )

    def _proba(self, X):
        """Class probabilities of validated rows (one chunk)."""
        return self._layer_stack().output_proba(X)

    def _hidden(self, X):
        """Top hidden representation of validated rows (one chunk)."""
        return self._layer_stack().hidden_representation(X)

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
        n = self._layer_stack().layer_sizes[-2]
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        # Binary visible units refuse negative input (and values above 1).
        tags.input_tags.positive_only = bool(self._requires_unit_interval)
        tags.transformer_tags.preserves_dtype = ["float32", "float64"]
        tags.classifier_tags.multi_class = True
        return tags
