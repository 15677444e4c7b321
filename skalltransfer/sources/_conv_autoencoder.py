"""Stacked convolutional denoising autoencoder classifier (Masci et al. 2011)."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._estimator import BaseStackClassifier
from skalltransfer._core._families._conv import CONV
from skalltransfer._core._images import image_shape as infer_image_shape
from skalltransfer._core._stack import LayerStack
from skalltransfer._core._training import (
    make_optimizer,
    run_training,
    shifted_training_rows,
)
from skalltransfer._core._validation import as_integers, check_unit_interval
from skalltransfer._kernels._init import init_weights
from skalltransfer._kernels._masks import masking_noise
from skalltransfer._kernels._rng import new_state
from skalltransfer._kernels.conv._dae import conv_dae_loss_grad
from skalltransfer._kernels.conv._network import conv_layer_shapes, conv_net_predict


def pretrain_conv_layer(
    X,
    kernel,
    n_maps,
    *,
    activation,
    loss,
    corruption,
    learning_rate,
    batch_size,
    max_iter,
    rng,
    verbose,
    name,
):
    """Train one convolutional denoising autoencoder on images ``X``
    (n, H, W, C); return ``W, b, c, curve`` (the tied weights, encoder and
    decoder biases, the loss per epoch)."""
    dtype = X.dtype
    n, H, Wd, C = X.shape
    W = init_weights(kernel * kernel * C, n_maps, rng, dtype, "he")
    b = np.zeros(n_maps, dtype=dtype)
    c = np.zeros(C, dtype=dtype)
    state = new_state(rng)
    flat = X.reshape(n, -1)
    workspace = {}

    def loss_grad(batch, rng):
        clean = np.empty((len(batch), flat.shape[1]), dtype=dtype)
        noisy = np.empty_like(clean)
        masking_noise(flat[batch], corruption, False, state, clean, noisy)
        shape = (len(batch), H, Wd, C)
        value, dW, db, dc = conv_dae_loss_grad(
            W,
            b,
            c,
            clean.reshape(shape),
            noisy.reshape(shape),
            kernel,
            kernel,
            kernel // 2,
            activation=activation,
            loss=loss,
            workspace=workspace,
        )
        return value, [dW, db, dc]

    params = [W, b, c]
    result = run_training(
        params,
        loss_grad,
        n,
        optimizer=make_optimizer(params, "adam", learning_rate),
        max_iter=max_iter,
        batch_size=batch_size,
        rng=rng,
        n_iter_no_change=None,
        verbose=verbose,
        name=name,
    )
    return W, b, c, result["loss_curve"]


def encode_conv_layer(X, W, b, kernel, pool, activation):
    """Pooled, activated maps (n, H', W', n_maps) of one conv layer for
    images ``X`` (n, H, W, C): the input of the next layer's pretraining."""
    n, H, Wd, C = X.shape
    geometry = ((H, Wd, C), ((kernel, kernel, kernel // 2, pool),))
    out_shape = conv_layer_shapes(geometry, [W.shape[1]])[0][0][2]
    codes = conv_net_predict(
        [W], [b], X.reshape(n, -1), geometry, activation, "identity", n_layers=1
    )
    return codes.reshape(n, *out_shape)


class ConvAutoencoderClassifier(BaseStackClassifier):
    """Stacked convolutional denoising autoencoders with dense layers and a
    softmax output: a convolutional source network.

    Each convolutional layer is first trained greedily as a denoising
    autoencoder (Masci et al. 2011) on the pooled maps of the layer below:
    the encoder ``h = act(W * x_tilde + b)`` sees the input with a fraction
    ``corruption_level`` of its values zeroed, the decoder reconstructs the
    clean input with the same (spatially flipped) kernels,
    ``x_hat = out(W~ * h + c)``; the loss is the cross-entropy for the
    pixel layer and the squared error above. A ``pooling`` x ``pooling``
    max-pooling follows every convolutional layer. The encoders are then
    stacked under dense hidden layers and a softmax output, and the whole
    network is trained on the labels (optionally on randomly shifted
    images).

    ``X`` stays 2-D, one flattened image per row (row-major, channels last),
    with values in [0, 1] as for the other sources.

    Parameters
    ----------
    conv_layers : sequence of (int, int), default=((32, 5), (64, 5))
        ``(n_maps, kernel_size)`` of each convolutional layer (square
        kernels, stride 1, "same" zero padding: odd sizes).
    pooling : int, default=2
        Size and stride of the max-pooling after every convolutional layer
        (1: none).
    hidden_layer_sizes : array-like of shape (n_dense_layers,), default=(256,)
        Dense hidden layers between the convolutions and the output layer.
    activation : {"relu", "logistic", "tanh"}, default="relu"
        Activation of every hidden layer, convolutional and dense.
    corruption_level : float, default=0.25
        Fraction of the inputs zeroed (masking noise) in each layer's
        pretraining.
    pretrain_max_iter : int, default=2
        Pretraining epochs per convolutional layer; 0 skips pretraining
        (random He initialisation).
    pretrain_learning_rate : float, default=1e-3
        Adam step of pretraining.
    shift_augmentation : int, default=2
        During supervised training, every image is shifted by random integers
        in ``[-shift_augmentation, shift_augmentation]`` pixels along each
        axis, new draws every epoch; 0 trains on the images as they are.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(height, width, channels)`` of the images;
        None reads rows as square one-channel images.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer of the supervised training (pretraining always uses Adam).
    learning_rate_init : float, default=1e-3
        Step size of the supervised training.
    momentum : float, default=0.9
        SGD momentum (unused by Adam).
    alpha : float, default=0.0
        L2 penalty on the weights.
    batch_size : int, default=64
        Minibatch size (capped at the number of samples) of pretraining and
        supervised training.
    max_iter : int, default=15
        Epochs of supervised training.
    tol : float, default=1e-4
        Smallest improvement of the monitored quantity that counts as
        progress for ``n_iter_no_change``.
    n_iter_no_change : int or None, default=None
        Stop when the training loss (the validation score with
        ``early_stopping``) has not improved by ``tol`` for this many
        epochs. None runs all ``max_iter`` epochs, a fixed budget without a
        convergence warning: the default fit still improves at its last
        epoch, so a stopping rule would only add a warning.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and keep the parameters
        with the best validation score (mean log-likelihood of the held-out
        labels).
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping (at least
        one sample per class, stratified when every class has two or more).
        Only used with ``early_stopping``.
    warm_start : bool, default=False
        Continue training from the previous fit (no new pretraining).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, masking noise, shifts and shuffling.
    verbose : int, default=0
        Print the loss of every pretraining and training epoch (and the
        validation score) when > 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray
        Convolution kernels as GEMM matrices of shape
        ``(kernel_size**2 * C_in, n_maps)`` (rows ordered (dy, dx, c_in)),
        then the dense and output weights.
    intercepts_ : list of ndarray
    n_layers_ : int
        Number of layers, the input and output layers included (as in
        ``MLPClassifier``).
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        Activation of the output layer (``"softmax"``).
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the input images.
    decoder_intercepts_ : list of ndarray
        Reconstruction biases learnt in pretraining, one per conv layer.
    pretrain_loss_curves_ : list of list of float
    n_iter_ : int
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Mean log-likelihood of the held-out labels per epoch with
        ``early_stopping``.
    best_validation_score_ : float or None
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    StackedAutoencoderClassifier : Fully-connected stacked autoencoders.
    MPDBMClassifier : Multi-prediction deep Boltzmann machine source model.
    AllTransferClassifier : Transfer every layer of a fitted source.

    References
    ----------
    .. [1] J. Masci, U. Meier, D. Ciresan and J. Schmidhuber, "Stacked
       convolutional auto-encoders for hierarchical feature extraction",
       ICANN 2011.

    Examples
    --------
    >>> from skalltransfer import ConvAutoencoderClassifier
    >>> from skalltransfer.datasets import load_mnist
    >>> X, y = load_mnist()
    >>> clf = ConvAutoencoderClassifier(
    ...     ((4, 3),), hidden_layer_sizes=(16,), max_iter=1, random_state=0
    ... )
    >>> clf.fit(X[::20], y[::20]).predict(X[:3]).shape
    (3,)
    """

    _architecture_params = (
        "conv_layers",
        "pooling",
        "hidden_layer_sizes",
        "activation",
        "image_shape",
    )

    _fitted_attributes = (
        *BaseStackClassifier._fitted_attributes,
        "image_shape_",
        "decoder_intercepts_",
        "pretrain_loss_curves_",
    )

    _parameter_constraints: dict = {
        **BaseStackClassifier._parameter_constraints,
        "conv_layers": ["array-like"],
        "pooling": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"relu", "logistic", "tanh"})],
        "corruption_level": [Interval(Real, 0, 1, closed="left")],
        "pretrain_max_iter": [Interval(Integral, 0, None, closed="left")],
        "pretrain_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "shift_augmentation": [Interval(Integral, 0, None, closed="left")],
        "image_shape": ["array-like", None],
        "solver": [StrOptions({"sgd", "adam"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        conv_layers=((32, 5), (64, 5)),
        *,
        pooling=2,
        hidden_layer_sizes=(256,),
        activation="relu",
        corruption_level=0.25,
        pretrain_max_iter=2,
        pretrain_learning_rate=1e-3,
        shift_augmentation=2,
        image_shape=None,
        solver="adam",
        learning_rate_init=1e-3,
        momentum=0.9,
        alpha=0.0,
        batch_size=64,
        max_iter=15,
        tol=1e-4,
        n_iter_no_change=None,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.conv_layers = conv_layers
        self.pooling = pooling
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.corruption_level = corruption_level
        self.pretrain_max_iter = pretrain_max_iter
        self.pretrain_learning_rate = pretrain_learning_rate
        self.shift_augmentation = shift_augmentation
        self.image_shape = image_shape
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

    # -- the shared layer stack --------------------------------------------
    def _conv_specs(self):
        """``conv_layers`` as a validated list of ``(n_maps, kernel_size)``."""
        try:
            specs = [
                tuple(as_integers(pair, "conv_layers")) for pair in self.conv_layers
            ]
        except TypeError:
            specs = None
        if specs is not None and any(len(pair) != 2 for pair in specs):
            specs = None
        if not specs or any(m < 1 or k < 1 or k % 2 == 0 for m, k in specs):
            raise ValueError(
                "conv_layers must be a non-empty sequence of (n_maps, kernel_size) "
                "pairs with positive n_maps and odd kernel sizes (stride 1, same "
                f"padding), got {self.conv_layers!r}."
            )
        return specs

    def _config(self, image_shape):
        pool = int(self.pooling)
        return {
            "image_shape": tuple(int(s) for s in image_shape),
            "conv_layers": tuple((k, k, k // 2, pool) for _, k in self._conv_specs()),
        }

    def _layer_stack(self):
        """The fitted parameters as a :class:`LayerStack` (arrays shared)."""
        check_is_fitted(self)
        return LayerStack(
            self.coefs_,
            self.intercepts_,
            family=CONV,
            hidden_activation=self.activation,
            config=self._config(self.image_shape_),
        )

    def _check_params_fit_weights(self, stack):
        n_conv = len(self._conv_specs())
        maps = [W.shape[1] for W in stack.coefs[:n_conv]]
        if [m for m, _ in self._conv_specs()] != maps:
            raise ValueError(
                f"conv_layers={self.conv_layers!r} but the weights have conv "
                f"layers of {tuple(maps)} maps."
            )
        dense = [W.shape[1] for W in stack.coefs[n_conv:-1]]
        if self._hidden_sizes() != dense:
            raise ValueError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} but the weights "
                f"have dense layers of {tuple(dense)} units."
            )
        if self.image_shape is not None:
            given = infer_image_shape(self.n_features_in_, self.image_shape)
            if tuple(given) != tuple(self.image_shape_):
                raise ValueError(
                    f"image_shape={self.image_shape!r} but the model was fitted on "
                    f"images of shape image_shape_={self.image_shape_!r}."
                )

    def _check_fitted_state(self):
        shape = self.image_shape_
        if (
            not isinstance(shape, tuple)
            or len(shape) != 3
            or not all(isinstance(s, int) and s >= 1 for s in shape)
            or math.prod(shape) != self.n_features_in_
        ):
            raise ValueError(
                f"image_shape_={shape!r} is not the (height, width, channels) of "
                f"the model's {self.n_features_in_} input features: the model was "
                "not written by a fit."
            )
        super()._check_fitted_state()

    # -- fit ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Pretrain the convolutional autoencoders on ``X``, then train the
        whole network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images, values in [0, 1].
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : ConvAutoencoderClassifier
        """
        return self._fit(X, y)

    def _start_fit(self, X, codes, classes, rng, warm):
        check_unit_interval(X)
        image_shape = infer_image_shape(X.shape[1], self.image_shape)
        config = self._config(image_shape)
        # Fails early, with the layer named, when the images are too small.
        conv_layer_shapes(
            (image_shape, config["conv_layers"]), [m for m, _ in self._conv_specs()]
        )
        self.image_shape_ = image_shape
        if warm:  # training continues; no new pretraining
            return LayerStack(
                [W.astype(X.dtype) for W in self.coefs_],
                [b.astype(X.dtype) for b in self.intercepts_],
                family=CONV,
                hidden_activation=self.activation,
                config=config,
            )
        coefs, intercepts = self._pretrain(X, image_shape, rng)
        fan_in = conv_layer_shapes(
            (image_shape, config["conv_layers"]), [W.shape[1] for W in coefs]
        )[1][-1]
        for size in [*self._hidden_sizes(), len(classes)]:
            coefs.append(init_weights(fan_in, size, rng, X.dtype, "he"))
            intercepts.append(np.zeros(size, dtype=X.dtype))
            fan_in = size
        return LayerStack(
            coefs,
            intercepts,
            family=CONV,
            hidden_activation=self.activation,
            config=config,
        )

    def _pretrain(self, X, image_shape, rng):
        """Conv layers pretrained greedily (or freshly initialised when
        ``pretrain_max_iter`` is 0): their ``coefs, intercepts``."""
        codes = X.reshape(len(X), *image_shape)
        channels = image_shape[2]
        specs = self._conv_specs()
        coefs, intercepts, decoders, curves = [], [], [], []
        for k, (n_maps, kernel) in enumerate(specs):
            if not self.pretrain_max_iter:
                W = init_weights(kernel * kernel * channels, n_maps, rng, X.dtype, "he")
                b = np.zeros(n_maps, dtype=X.dtype)
                c, curve = np.zeros(channels, dtype=X.dtype), []
            else:
                W, b, c, curve = pretrain_conv_layer(
                    codes,
                    kernel,
                    n_maps,
                    activation=self.activation,
                    loss="cross_entropy" if k == 0 else "squared_error",
                    corruption=float(self.corruption_level),
                    learning_rate=self.pretrain_learning_rate,
                    batch_size=self.batch_size,
                    max_iter=self.pretrain_max_iter,
                    rng=rng,
                    verbose=self.verbose,
                    name=f"pretraining conv layer {k + 1}",
                )
            coefs.append(W)
            intercepts.append(b)
            decoders.append(c)
            curves.append(curve)
            # The codes feed the next layer's pretraining only.
            if self.pretrain_max_iter and k + 1 < len(specs):
                codes = encode_conv_layer(
                    codes, W, b, kernel, int(self.pooling), self.activation
                )
            channels = n_maps
        self.decoder_intercepts_ = decoders
        self.pretrain_loss_curves_ = curves
        return coefs, intercepts

    def _training_rows(self, network, X, rng):
        return shifted_training_rows(X, network, self.shift_augmentation, rng)

    def _set_network(self, network):
        self.coefs_ = network.coefs
        self.intercepts_ = network.intercepts

    def _make_optimizer(self, network, params):
        return make_optimizer(
            params, self.solver, self.learning_rate_init, momentum=self.momentum
        )

    def _end_fit(self, X, codes):
        self._record_fitted_params()
