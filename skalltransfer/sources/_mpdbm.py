"""Multi-prediction deep Boltzmann machine classifier (Goodfellow et al. 2013)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skalltransfer._core._estimator import BaseStackClassifier
from skalltransfer._core._families._mpdbm import (
    MPDBM,
    col_norm_limits,
    resolve_learning_rate,
    visible_bias_from_marginals,
)
from skalltransfer._core._stack import LayerStack
from skalltransfer._core._training import column_norm_constraint, make_optimizer
from skalltransfer._core._validation import batched, check_unit_interval
from skalltransfer._kernels._init import init_weights

# The discriminative stage (trained as a transfer fine-tunes an MP-DBM): this
# many epochs with discriminative_max_iter="auto", which runs it only when
# multi-prediction training left the training accuracy under
# AUTO_STAGE_BELOW (see ``discriminative_max_iter``).
DISCRIMINATIVE_MAX_ITER = 100
AUTO_STAGE_BELOW = 0.97


class MPDBMClassifier(BaseStackClassifier):
    r"""Multi-prediction deep Boltzmann machine (MP-DBM) classifier.

    A deep Boltzmann machine with binary visible units, sigmoid hidden layers
    and a softmax label layer on top, trained by the multi-prediction
    objective of Goodfellow et al. (2013): in every minibatch a random half of
    the pixels and of the labels are hidden, and the network is trained to
    predict them from the rest through ``n_mean_field_iter`` unrolled
    mean-field iterations. The loss is the cross-entropy of the predicted
    variables; its gradient is computed by hand through the unrolled inference.
    Classification runs mean-field inference with the label unobserved.

    Where that training leaves the model unable to classify its own
    training data (few or small inputs), a discriminative stage follows by
    default: the cross-entropy of the label marginals of one bottom-up
    mean-field pass (pixels clamped) is back-propagated through that pass,
    and the fitted model classifies with it (``discriminative_max_iter``).

    The energy of a visible vector :math:`v`, hidden layers :math:`h_1 \dots
    h_K` and one-hot label :math:`y` is

    .. math::

        E(v, h, y) = -b_v^\top v - \sum_{l=1}^{K+1} h_{l-1}^\top W_l h_l
                     - \sum_{l=1}^{K+1} b_l^\top h_l,
        \quad h_0 = v,\ h_{K+1} = y.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_hidden_layers,) or "auto", \
            default="auto"
        Units per hidden layer. ``"auto"`` is two hidden layers of
        ``min(500, n_features)`` units: the paper's (500, 500) for MNIST's
        784 pixels, and no wider than the input for smaller images, so that
        the cost of the unrolled mean-field training follows the size of the
        data (see :ref:`benchmarks`).
    n_mean_field_iter : int, default=10
        Mean-field iterations unrolled in multi-prediction training, and run
        at prediction when there is no discriminative stage. pylearn2's MNIST
        demo uses 14; 10 costs less for the same accuracy on small data (see
        :ref:`benchmarks`).
    drop_prob : float, default=0.5
        Probability that a pixel is a prediction target in a minibatch.
    label_drop_prob : float, default=0.5
        Probability that an example's label is a prediction target.
    label_weight : float, default=10.0
        Weight of a predicted label relative to one predicted pixel.
        **Deviation**: the original objective is ``label_weight=1``, which
        learns to classify very slowly on small data (see the user guide).
    binarize : bool, default=True
        Sample binary pixels from the intensities in every minibatch (dynamic
        binarization, as the original MNIST experiment does).
    max_col_norm : "auto", float, sequence of float or None, default="auto"
        Maximum L2 norm of each unit's incoming weights, enforced after every
        update. ``"auto"`` uses pylearn2's MNIST values: 1.81 for the first
        layer, 2.67 for the other hidden layers and 5.18 for the label layer.
        A float applies to every layer, a sequence gives one value per weight
        layer; None disables the constraint.
    multi_inference : bool, default=True
        Without a discriminative stage, classify with the multi-inference
        trick (the visible state is the average of the input and the
        network's reconstruction), which classifies more accurately than
        plain mean field (see :ref:`benchmarks`); False is plain mean field
        with the pixels clamped. It can be changed after fitting.
    solver : {"sgd", "adam"}, default="sgd"
        SGD with momentum (the original recipe) or Adam.
    learning_rate_init : "auto" or float, default="auto"
        Step size. The loss is an average over pixels (as in pylearn2), so
        the step each predicted pixel or label sees is the SGD step divided
        by ``n_features``. ``"auto"`` keeps that per-variable step at
        pylearn2's MNIST value whatever the image size: ``15 * n_features /
        784`` for SGD (15 on 28 x 28 images, close to the demo's 15.1; 1.22
        on 8 x 8 ones), 1e-3 for Adam. A fixed step of 15 diverges on small
        images.
    learning_rate_decay : float, default=0.1
        With ``solver="sgd"``, the step size decays linearly over ``max_iter``
        epochs to ``learning_rate_decay * learning_rate_init`` (after
        pylearn2's ``LinearDecayOverEpoch``); 1.0 keeps it constant. The
        decay settles the noisy multi-prediction updates, so the final
        weights do not depend on where the epoch count happens to stop.
    momentum : float, default=0.5
        Momentum during the first epoch; later epochs use ``final_momentum``.
    final_momentum : float, default=0.9
        Momentum from the second epoch on. pylearn2's ``MomentumAdjustor``
        uses 0.73; 0.9 reaches the same accuracy in fewer epochs (see
        :ref:`benchmarks`).
    alpha : float, default=0.0
        L2 penalty on the weights.
    batch_size : int, default=100
        Minibatch size (capped at the number of samples), in both stages.
    max_iter : int, default=100
        Number of epochs of multi-prediction training (at most, with
        ``n_iter_no_change``).
    tol : float, default=1e-4
        Smallest improvement of the monitored quantity (the training loss,
        or the validation score with ``early_stopping``) that counts as
        progress for ``n_iter_no_change``.
    n_iter_no_change : int or None, default=None
        Stop a stage after this many epochs without an improvement by
        ``tol`` of the training loss (of the validation score with
        ``early_stopping``). None runs all ``max_iter`` epochs: the step
        decays linearly over them, and the noisy multi-prediction loss can
        look converged long before the decay ends (see :ref:`benchmarks`).
    discriminative_max_iter : "auto" or int, default="auto"
        Epochs of a discriminative stage after the multi-prediction epochs
        (Adam at 1e-3, minibatches of ``batch_size``, the column-norm limits
        of ``max_col_norm``, ``tol`` and ``n_iter_no_change`` as for the first
        stage). It trains, and the fitted model then classifies with, the
        inference that fine-tuning in :class:`AllTransferClassifier` uses:
        plain mean field with the pixels clamped, one bottom-up pass (weights
        doubled below the top hidden layer). 0 skips it: the original
        MP-DBM. ``"auto"`` runs 100 epochs only if multi-prediction training
        left the training accuracy below 0.97, i.e. where the original model
        has not learnt its own labels (few or low-dimensional inputs), and
        skips the stage where it has, since there the stage lowers the
        accuracy of whole-layer transfer (see :ref:`benchmarks`).
        **Deviation**: the original MP-DBM has no such stage.
        ``finetune_objective="multi_prediction"`` in a transfer needs a
        source without the stage.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and keep the parameters
        with the best validation score (mean log-likelihood of the held-out
        labels).
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping (at least
        one sample per class, stratified when every class has two or more).
        Only used with ``early_stopping``.
    warm_start : bool, default=False
        Continue from the previous fit's weights.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, masks, binarization and shuffling.
    verbose : int, default=0
        Print the loss (and the validation score) of every epoch, and the
        training accuracy that ``discriminative_max_iter="auto"`` judges,
        when > 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray
        ``coefs_[k]`` of shape (n_k, n_{k+1}); the last one connects the top
        hidden layer to the label layer.
    intercepts_ : list of ndarray
        Biases of the hidden layers and of the label layer.
    n_layers_ : int
        Number of layers, the input and output layers included (as in
        ``MLPClassifier``).
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        Activation of the output layer (``"softmax"``).
    visible_intercept_ : ndarray of shape (n_features,)
        Bias of the visible layer.
    n_iter_ : int
        Multi-prediction epochs run (the discriminative stage's are in
        ``discriminative_loss_curve_``).
    loss_curve_ : list of float
        Mean multi-prediction training loss per epoch.
    validation_scores_ : list of float or None
        Mean log-likelihood of the held-out labels per epoch with
        ``early_stopping`` (higher is better: the negative log-loss); the
        epochs of the discriminative stage follow those of the first stage.
    best_validation_score_ : float or None
        With ``early_stopping``, the best validation score of the last stage,
        whose best epoch the model keeps.
    discriminative_loss_curve_ : list of float
        Mean training loss (cross-entropy of the labels) per epoch of the
        discriminative stage; empty without one.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Defined only when X has feature names that are all strings.

    See Also
    --------
    StackedAutoencoderClassifier : Stacked denoising autoencoders, a source
        model trained by back-propagation.
    ConvAutoencoderClassifier : A convolutional source model.
    AllTransferClassifier : Transfer every layer of a fitted source.

    References
    ----------
    .. [1] I. Goodfellow, M. Mirza, A. Courville and Y. Bengio,
       "Multi-prediction deep Boltzmann machines", NIPS 2013.

    Examples
    --------
    >>> from skalltransfer import MPDBMClassifier
    >>> from skalltransfer.datasets import load_mnist
    >>> X, y = load_mnist()
    >>> clf = MPDBMClassifier((50, 50), max_iter=2, random_state=0)
    >>> clf.fit(X[::10], y[::10]).predict(X[:3]).shape
    (3,)
    """

    _architecture_params = ("hidden_layer_sizes",)

    _fitted_attributes = (
        *BaseStackClassifier._fitted_attributes,
        "visible_intercept_",
        "_discriminative",
        "discriminative_loss_curve_",
    )

    _parameter_constraints: dict = {
        **BaseStackClassifier._parameter_constraints,
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "n_mean_field_iter": [Interval(Integral, 2, None, closed="left")],
        "drop_prob": [Interval(Real, 0, 1, closed="neither")],
        "label_drop_prob": [Interval(Real, 0, 1, closed="both")],
        "label_weight": [Interval(Real, 0, None, closed="left")],
        "binarize": ["boolean"],
        "max_col_norm": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
            "array-like",
            None,
        ],
        "multi_inference": ["boolean"],
        "solver": [StrOptions({"sgd", "adam"})],
        "learning_rate_init": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "learning_rate_decay": [Interval(Real, 0, 1, closed="right")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "final_momentum": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "discriminative_max_iter": [
            StrOptions({"auto"}),
            Interval(Integral, 0, None, closed="left"),
        ],
    }

    # How the fitted model is read, not what its weights are: changing it
    # after fit keeps the source usable by a transfer estimator.
    _inference_only_params = ("multi_inference",)

    def __init__(
        self,
        hidden_layer_sizes="auto",
        *,
        n_mean_field_iter=10,
        drop_prob=0.5,
        label_drop_prob=0.5,
        label_weight=10.0,
        binarize=True,
        max_col_norm="auto",
        multi_inference=True,
        solver="sgd",
        learning_rate_init="auto",
        learning_rate_decay=0.1,
        momentum=0.5,
        final_momentum=0.9,
        alpha=0.0,
        batch_size=100,
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=None,
        discriminative_max_iter="auto",
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_mean_field_iter = n_mean_field_iter
        self.drop_prob = drop_prob
        self.label_drop_prob = label_drop_prob
        self.label_weight = label_weight
        self.binarize = binarize
        self.max_col_norm = max_col_norm
        self.multi_inference = multi_inference
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate_decay = learning_rate_decay
        self.momentum = momentum
        self.final_momentum = final_momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.discriminative_max_iter = discriminative_max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # Widest hidden layer of hidden_layer_sizes="auto" (the paper's MNIST size).
    AUTO_MAX_UNITS = 500

    def _hidden_sizes(self, n_features=None):
        """``hidden_layer_sizes`` as a list of ints, ``"auto"`` resolved for
        ``n_features`` inputs (those of the fit, by default)."""
        if isinstance(self.hidden_layer_sizes, str):
            if n_features is None:
                n_features = self.n_features_in_
            return [min(self.AUTO_MAX_UNITS, int(n_features))] * 2
        return super()._hidden_sizes()

    # -- the shared layer stack --------------------------------------------
    def _config(self):
        """The stack config of multi-prediction training."""
        return {
            "n_mean_field_iter": self.n_mean_field_iter,
            "drop_prob": self.drop_prob,
            "label_drop_prob": self.label_drop_prob,
            "label_weight": self.label_weight,
            "binarize": self.binarize,
            "multi_inference": self.multi_inference,
        }

    def _layer_stack(self):
        """The fitted parameters as a :class:`LayerStack` (arrays shared),
        configured for the inference the fit ended with."""
        check_is_fitted(self)
        stack = LayerStack(
            self.coefs_,
            self.intercepts_,
            family=MPDBM,
            visible_intercept=self.visible_intercept_,
            config=self._config(),
        )
        if getattr(self, "_discriminative", False):
            stack.config = MPDBM.finetune_config(stack, "discriminative")
        return stack

    def _init_stack(self, X, n_classes, rng):
        dtype = X.dtype
        sizes = [X.shape[1], *self._hidden_sizes(X.shape[1]), n_classes]
        coefs, intercepts = [], []
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            # pylearn2's MNIST recipe: sparse init for the first and label
            # layers, small uniform weights in between.
            first_or_last = k == 0 or k == len(sizes) - 2
            if first_or_last:
                W = init_weights(
                    fan_in,
                    fan_out,
                    rng,
                    dtype,
                    scheme="sparse",
                    sparse_init=15 if k == 0 else 23,
                )
            else:
                W = rng.uniform(-0.0064, 0.0064, size=(fan_in, fan_out)).astype(dtype)
            coefs.append(W)
            bias = 0.0 if k == len(sizes) - 2 else -0.5
            intercepts.append(np.full(fan_out, bias, dtype=dtype))
        return LayerStack(
            coefs,
            intercepts,
            family=MPDBM,
            visible_intercept=visible_bias_from_marginals(X),
            config=self._config(),
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the MP-DBM on ``X`` (values in [0, 1]) and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : MPDBMClassifier
        """
        return self._fit(X, y)

    def _start_fit(self, X, codes, classes, rng, warm):
        check_unit_interval(X)
        if not warm:
            return self._init_stack(X, len(classes), rng)
        return LayerStack(
            [W.astype(X.dtype) for W in self.coefs_],
            [b.astype(X.dtype) for b in self.intercepts_],
            family=MPDBM,
            visible_intercept=self.visible_intercept_.astype(X.dtype),
            config=self._config(),
        )

    def _set_network(self, network):
        self.coefs_ = network.coefs
        self.intercepts_ = network.intercepts
        self.visible_intercept_ = network.visible_intercept
        self._discriminative = False

    def _fit_stochastic(self, network, X, codes, rng):
        """Multi-prediction epochs, then the discriminative stage that
        ``discriminative_max_iter`` asks for (``"auto"``: judged by the
        training accuracy the first stage reached)."""
        split = self._training_split(X, codes, rng)
        result = self._train(
            network,
            split,
            rng,
            self._make_optimizer,
            self.max_iter,
            self.n_iter_no_change,
        )
        self.discriminative_loss_curve_ = []
        n_epochs = self.discriminative_max_iter
        if n_epochs == "auto":
            X_train, codes_train = split[0], split[1]
            proba = batched(self._proba, X_train)
            accuracy = np.mean(proba.argmax(axis=1) == codes_train)
            n_epochs = DISCRIMINATIVE_MAX_ITER if accuracy < AUTO_STAGE_BELOW else 0
            if self.verbose:
                print(
                    f"Training accuracy after multi-prediction: {accuracy:.1%}; "
                    f"discriminative stage: {n_epochs} epochs"
                )
        if n_epochs > 0:
            network.config = MPDBM.finetune_config(network, "discriminative")
            # From here on the model predicts (and early stopping scores it)
            # with the inference this stage trains.
            self._discriminative = True
            stage = self._train(
                network,
                split,
                rng,
                self._make_discriminative_optimizer,
                n_epochs,
                self.n_iter_no_change,
            )
            self.discriminative_loss_curve_ = stage["loss_curve"]
            # The model ends as this stage left it (its best epoch with
            # early stopping).
            result["validation_scores"] += stage["validation_scores"]
            result["best_score"] = stage["best_score"]
        return result

    def _make_discriminative_optimizer(self, network, params):
        # The solver and step of discriminative fine-tuning in a transfer.
        defaults = MPDBM.finetune_defaults(self.get_params(), network)
        return make_optimizer(params, defaults.solver, defaults.learning_rate_init)

    def _make_optimizer(self, network, params):
        momentum, final = self.momentum, self.final_momentum
        return make_optimizer(
            params,
            self.solver,
            resolve_learning_rate(
                self.learning_rate_init, self.solver, network.layer_sizes[0]
            ),
            momentum_schedule=lambda epoch: momentum if epoch == 0 else final,
            decay_epochs=self.max_iter,
            final_fraction=self.learning_rate_decay,
        )

    def _constraint(self, network):
        limits = col_norm_limits(self.max_col_norm, network.n_layers)
        return column_norm_constraint(network, limits)

    def _end_fit(self, X, codes):
        self._record_fitted_params()
