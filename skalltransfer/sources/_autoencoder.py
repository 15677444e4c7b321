"""Stacked denoising autoencoder classifier (Vincent et al. 2010)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._estimator import BaseStackClassifier
from skalltransfer._core._families import FEEDFORWARD
from skalltransfer._core._stack import LayerStack
from skalltransfer._core._training import make_optimizer, run_training
from skalltransfer._core._validation import check_unit_interval
from skalltransfer._kernels._autoencoder import dae_loss_grad, encode
from skalltransfer._kernels._init import init_weights
from skalltransfer._kernels._masks import masking_noise
from skalltransfer._kernels._rng import new_state


def pretrain_layer(
    X,
    n_hidden,
    *,
    corruption,
    binarize,
    solver,
    learning_rate,
    batch_size,
    max_iter,
    rng,
    verbose,
    name,
):
    """Train one denoising autoencoder layer on ``X``; return ``W, b, c, curve``."""
    dtype = X.dtype
    n, d = X.shape
    W = init_weights(d, n_hidden, rng, dtype)
    b = np.zeros(n_hidden, dtype=dtype)
    c = np.zeros(d, dtype=dtype)
    state = new_state(rng)

    def loss_grad(batch, rng):
        Xb = np.empty((len(batch), d), dtype=dtype)
        Xc = np.empty_like(Xb)
        masking_noise(X[batch], corruption, binarize, state, Xb, Xc)
        loss, dW, db, dc = dae_loss_grad(W, b, c, Xb, Xc)
        return loss, [dW, db, dc]

    params = [W, b, c]
    optimizer = make_optimizer(params, solver, learning_rate, momentum=0.9)
    result = (
        run_training(
            params,
            loss_grad,
            n,
            optimizer=optimizer,
            max_iter=max_iter,
            batch_size=batch_size,
            rng=rng,
            n_iter_no_change=None,
            verbose=verbose,
            name=name,
        )
        if max_iter
        else {"loss_curve": []}
    )
    return W, b, c, result["loss_curve"]


class StackedAutoencoderClassifier(BaseStackClassifier):
    """Stacked denoising autoencoders with a softmax output layer.

    Each hidden layer is first trained greedily as a denoising autoencoder
    with tied weights on the codes of the layer below (masking noise: each
    input is zeroed with probability ``corruption_level``; loss: the
    cross-entropy between the clean input and the reconstruction). The
    encoders are then stacked under a softmax output layer and the whole
    network is fine-tuned with the cross-entropy of the labels.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_hidden_layers,), default=(500, 500)
        Units per hidden layer, each pretrained as one autoencoder.
    corruption_level : float or sequence of float, default=0.5
        Masking-noise level of each layer's pretraining (one value for all
        layers, or one per layer): the probability that an input is zeroed.
        Vincent et al. found levels from 0.1 to 0.4 about equally good on
        full MNIST; 0.5 suits the small bundled subset better (see
        :ref:`benchmarks`).
    pretrain_max_iter : int, default=15
        Pretraining epochs per layer; 0 skips pretraining (a plain MLP with
        sigmoid units).
    pretrain_learning_rate : float, default=1e-3
        Step size of pretraining.
    pretrain_solver : {"adam", "sgd"}, default="adam"
        Optimizer of the pretraining (SGD with momentum 0.9, or Adam).
    binarize : bool, default=False
        Pretrain on Bernoulli samples of the pixel intensities.
    solver : {"sgd", "adam"}, default="sgd"
        Optimizer of the supervised fine-tuning.
    learning_rate_init : float, default=0.1
        Fine-tuning step size.
    momentum : float, default=0.9
        Momentum of SGD fine-tuning (unused by Adam).
    alpha : float, default=1e-4
        L2 penalty on the weights during fine-tuning.
    batch_size : int, default=32
        Minibatch size (capped at the number of samples) of pretraining and
        fine-tuning.
    max_iter : int, default=100
        Maximum fine-tuning epochs.
    tol : float, default=1e-4
        Smallest improvement of the monitored quantity (the training loss,
        or the validation score with ``early_stopping``) that counts as
        progress for ``n_iter_no_change``.
    n_iter_no_change : int, default=10
        Stop fine-tuning when the monitored quantity has not improved by
        ``tol`` for this many consecutive epochs; with
        ``early_stopping``, a ``ConvergenceWarning`` says when ``max_iter``
        epochs ended first. Pretraining always runs
        ``pretrain_max_iter`` epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data during fine-tuning and
        keep the parameters with the best validation score (mean
        log-likelihood of the held-out labels).
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping (at least
        one sample per class, stratified when every class has two or more).
        Only used with ``early_stopping``.
    warm_start : bool, default=False
        Continue fine-tuning from the previous fit (no new pretraining).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, masking noise, binarization and shuffling.
    verbose : int, default=0
        Print the loss of every pretraining and fine-tuning epoch (and the
        validation score) when > 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray
        Encoder weights of each hidden layer, then the output layer.
    intercepts_ : list of ndarray
    n_layers_ : int
        Number of layers, the input and output layers included (as in
        ``MLPClassifier``).
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        Activation of the output layer (``"softmax"``).
    decoder_intercepts_ : list of ndarray
        Reconstruction biases learnt in pretraining, one per hidden layer.
    pretrain_loss_curves_ : list of list of float
    n_iter_ : int
        Fine-tuning epochs run.
    loss_curve_ : list of float
        Fine-tuning loss per epoch.
    validation_scores_ : list of float or None
        Mean log-likelihood of the held-out labels per fine-tuning epoch with
        ``early_stopping`` (higher is better: the negative log-loss).
    best_validation_score_ : float or None
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    MPDBMClassifier : Multi-prediction deep Boltzmann machine source model.
    ConvAutoencoderClassifier : A convolutional source model.
    AllTransferClassifier : Transfer every layer of a fitted source.

    References
    ----------
    .. [1] P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol,
       "Stacked denoising autoencoders", JMLR 11 (2010).

    Examples
    --------
    >>> from skalltransfer import StackedAutoencoderClassifier
    >>> from skalltransfer.datasets import load_mnist
    >>> X, y = load_mnist()
    >>> clf = StackedAutoencoderClassifier(
    ...     (50,), pretrain_max_iter=1, max_iter=2, random_state=0
    ... )
    >>> clf.fit(X[::10], y[::10]).predict(X[:3]).shape
    (3,)
    """

    _architecture_params = ("hidden_layer_sizes",)

    _fitted_attributes = (
        *BaseStackClassifier._fitted_attributes,
        "decoder_intercepts_",
        "pretrain_loss_curves_",
    )

    _parameter_constraints: dict = {
        **BaseStackClassifier._parameter_constraints,
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "corruption_level": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "pretrain_max_iter": [Interval(Integral, 0, None, closed="left")],
        "pretrain_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "pretrain_solver": [StrOptions({"sgd", "adam"})],
        "binarize": ["boolean"],
        "solver": [StrOptions({"sgd", "adam"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(500, 500),
        *,
        corruption_level=0.5,
        pretrain_max_iter=15,
        pretrain_learning_rate=1e-3,
        pretrain_solver="adam",
        binarize=False,
        solver="sgd",
        learning_rate_init=0.1,
        momentum=0.9,
        alpha=1e-4,
        batch_size=32,
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.corruption_level = corruption_level
        self.pretrain_max_iter = pretrain_max_iter
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_solver = pretrain_solver
        self.binarize = binarize
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def _layer_stack(self):
        """The fitted parameters as a :class:`LayerStack` (arrays shared)."""
        check_is_fitted(self)
        return LayerStack(self.coefs_, self.intercepts_, family=FEEDFORWARD)

    def _corruptions(self, n_hidden):
        levels = np.asarray(self.corruption_level, dtype=float)
        flat = levels.ndim <= 1
        levels = np.atleast_1d(levels).ravel()
        if levels.size == 1:
            levels = np.repeat(levels, n_hidden)
        if (
            not flat
            or levels.size != n_hidden
            or not np.all((levels >= 0) & (levels < 1))
        ):
            raise ValueError(
                f"corruption_level must be one value in [0, 1) or one per hidden "
                f"layer ({n_hidden}), got {self.corruption_level!r}."
            )
        return levels

    def _pretrain(self, X, rng):
        sizes = self._hidden_sizes()
        levels = self._corruptions(len(sizes))
        coefs, intercepts, decoders, curves = [], [], [], []
        codes = X
        for k, (size, level) in enumerate(zip(sizes, levels)):
            W, b, c, curve = pretrain_layer(
                codes,
                size,
                corruption=float(level),
                binarize=self.binarize and k == 0,
                solver=self.pretrain_solver,
                learning_rate=self.pretrain_learning_rate,
                batch_size=self.batch_size,
                max_iter=self.pretrain_max_iter,
                rng=rng,
                verbose=self.verbose,
                name=f"pretraining layer {k + 1}",
            )
            coefs.append(W)
            intercepts.append(b)
            decoders.append(c)
            curves.append(curve)
            if k + 1 < len(sizes):  # the top layer's codes are not needed
                codes = encode(codes, W, b)
        return coefs, intercepts, decoders, curves

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Pretrain the autoencoders on ``X``, then fine-tune on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Values in [0, 1].
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : StackedAutoencoderClassifier
        """
        return self._fit(X, y)

    def _start_fit(self, X, codes, classes, rng, warm):
        check_unit_interval(X)
        if warm:  # fine-tuning continues; no new pretraining
            return LayerStack(
                [W.astype(X.dtype) for W in self.coefs_],
                [b.astype(X.dtype) for b in self.intercepts_],
                family=FEEDFORWARD,
            )
        coefs, intercepts, decoders, curves = self._pretrain(X, rng)
        fan_in = coefs[-1].shape[1]
        coefs.append(init_weights(fan_in, len(classes), rng, X.dtype))
        intercepts.append(np.zeros(len(classes), dtype=X.dtype))
        self.decoder_intercepts_ = decoders
        self.pretrain_loss_curves_ = curves
        return LayerStack(coefs, intercepts, family=FEEDFORWARD)

    def _set_network(self, network):
        self.coefs_ = network.coefs
        self.intercepts_ = network.intercepts

    def _make_optimizer(self, network, params):
        return make_optimizer(
            params, self.solver, self.learning_rate_init, momentum=self.momentum
        )

    def _end_fit(self, X, codes):
        self._record_fitted_params()
