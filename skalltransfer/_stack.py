"""The one representation every model and every transfer method shares.

A :class:`LayerStack` holds weight layers by index: ``coefs[k]`` of shape
(n_k, n_{k+1}) and ``intercepts[k]`` of shape (n_{k+1},), from the input layer
(index 0) to the output layer (index ``n_layers - 1``). It is exactly the
``coefs_`` / ``intercepts_`` layout of scikit-learn's ``MLPClassifier``. A deep
Boltzmann machine adds the bias of its visible layer (``visible_intercept``);
its last layer is the softmax label layer.

Transfer methods only ever touch a model through a stack: copy it, keep the
first ``T`` layers, re-initialise the rest, or append new layers.
"""

import numpy as np

_FAMILIES = ("feedforward", "mpdbm")


def init_weights(fan_in, fan_out, rng, dtype, scheme="glorot", sparse_init=15):
    """Fresh weights of shape (fan_in, fan_out).

    ``"glorot"`` draws U(+-sqrt(6 / (fan_in + fan_out))) scaled by 4 for sigmoid
    units (Glorot & Bengio 2010, as in the Deep Learning Tutorials);
    ``"sparse"`` gives each unit ``sparse_init`` non-zero N(0, 1) incoming
    weights (Martens 2010; pylearn2's ``sparse_init``) at scale 1.
    """
    if scheme == "sparse":
        W = np.zeros((fan_in, fan_out), dtype=dtype)
        k = min(sparse_init, fan_in)
        for j in range(fan_out):
            rows = rng.choice(fan_in, size=k, replace=False)
            W[rows, j] = rng.standard_normal(k)
        return W
    bound = 4.0 * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype)


class LayerStack:
    """Weights and biases of a layered network, by index.

    Parameters
    ----------
    coefs : list of ndarray
        ``coefs[k]`` has shape (n_k, n_{k+1}).
    intercepts : list of ndarray
        ``intercepts[k]`` has shape (n_{k+1},).
    family : {"feedforward", "mpdbm"}
        How the stack computes: a feed-forward net, or a deep Boltzmann machine
        run by mean-field inference.
    hidden_activation : str, default="logistic"
        Feed-forward hidden activation (a DBM's hidden units are logistic).
    output_activation : str, default="softmax"
    visible_intercept : ndarray of shape (n_0,), default=None
        DBM visible bias.
    config : dict, default=None
        Family settings that travel with the weights (mean-field iterations,
        mask probabilities, ...).
    """

    def __init__(
        self,
        coefs,
        intercepts,
        family="feedforward",
        hidden_activation="logistic",
        output_activation="softmax",
        visible_intercept=None,
        config=None,
    ):
        if family not in _FAMILIES:
            raise ValueError(f"family must be one of {_FAMILIES}, got {family!r}.")
        if len(coefs) != len(intercepts) or not coefs:
            raise ValueError(
                "coefs and intercepts must be non-empty and of equal length."
            )
        for k, (W, b) in enumerate(zip(coefs, intercepts)):
            if W.ndim != 2 or b.shape != (W.shape[1],):
                raise ValueError(
                    f"Layer {k}: coef shape {W.shape} and intercept shape "
                    f"{b.shape} do not match."
                )
            if k and W.shape[0] != coefs[k - 1].shape[1]:
                raise ValueError(
                    f"Layer {k} expects {W.shape[0]} inputs but layer {k - 1} "
                    f"has {coefs[k - 1].shape[1]} outputs."
                )
        self.coefs = list(coefs)
        self.intercepts = list(intercepts)
        self.family = family
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation
        self.visible_intercept = visible_intercept
        self.config = dict(config or {})

    @classmethod
    def from_estimator(cls, estimator):
        """The stack of a fitted estimator, sharing its arrays (no copy).

        Works for this package's source models (which define
        ``_layer_stack()``) and for scikit-learn's ``MLPClassifier``.
        """
        if hasattr(estimator, "_layer_stack"):
            return estimator._layer_stack()
        if hasattr(estimator, "coefs_") and hasattr(estimator, "intercepts_"):
            out = getattr(estimator, "out_activation_", "softmax")
            if out == "logistic" and len(getattr(estimator, "classes_", ())) == 2:
                raise ValueError(
                    "A binary MLPClassifier has a single logistic output unit, "
                    "which leaves no output units to select; train the source on "
                    "three or more classes."
                )
            return cls(
                estimator.coefs_,
                estimator.intercepts_,
                family="feedforward",
                hidden_activation=getattr(estimator, "activation", "logistic"),
                output_activation=out,
            )
        raise TypeError(
            f"{type(estimator).__name__} has no layer stack: a source must be a "
            "fitted MPDBMClassifier, StackedAutoencoderClassifier or "
            "MLPClassifier (an object with coefs_ and intercepts_)."
        )

    # -- shape -------------------------------------------------------------
    @property
    def n_layers(self):
        """Number of weight layers L (the output layer included)."""
        return len(self.coefs)

    @property
    def layer_sizes(self):
        """Units per layer, input layer first."""
        return [self.coefs[0].shape[0]] + [W.shape[1] for W in self.coefs]

    @property
    def dtype(self):
        return self.coefs[0].dtype

    @property
    def params(self):
        """Trainable arrays in a fixed order: coefs, intercepts, visible bias."""
        extra = [] if self.visible_intercept is None else [self.visible_intercept]
        return [*self.coefs, *self.intercepts, *extra]

    # -- edits (each returns a new stack owning fresh arrays) ---------------
    def copy(self, dtype=None):
        """A deep copy, optionally cast to ``dtype``."""
        dtype = dtype or self.dtype

        def cp(a):
            return None if a is None else np.array(a, dtype=dtype, copy=True)

        return LayerStack(
            [cp(W) for W in self.coefs],
            [cp(b) for b in self.intercepts],
            family=self.family,
            hidden_activation=self.hidden_activation,
            output_activation=self.output_activation,
            visible_intercept=cp(self.visible_intercept),
            config=self.config,
        )

    def truncate(self, n_layers):
        """A copy keeping only the first ``n_layers`` weight layers."""
        if not 0 <= n_layers <= self.n_layers:
            raise ValueError(f"Cannot keep {n_layers} of {self.n_layers} layers.")
        stack = self.copy()
        stack.coefs = stack.coefs[:n_layers]
        stack.intercepts = stack.intercepts[:n_layers]
        return stack

    def rebuild(self, n_kept, new_sizes, rng, scheme="glorot"):
        """Keep the first ``n_kept`` layers (copied) and append fresh layers
        whose output sizes are ``new_sizes``, the last one being the output.

        This one operation covers T = 0 (nothing kept, same sizes), partial
        transfer (T < L, new head), truncation and "T plus a new hidden layer".
        """
        kept = self.truncate(n_kept)
        coefs, intercepts = kept.coefs, kept.intercepts
        fan_in = self.layer_sizes[n_kept]
        for size in new_sizes:
            coefs.append(init_weights(fan_in, size, rng, self.dtype, scheme=scheme))
            intercepts.append(np.zeros(size, dtype=self.dtype))
            fan_in = size
        if n_kept == 0 and kept.visible_intercept is not None:
            kept.visible_intercept = np.zeros_like(kept.visible_intercept)
        return LayerStack(
            coefs,
            intercepts,
            family=self.family,
            hidden_activation=self.hidden_activation,
            output_activation=self.output_activation,
            visible_intercept=kept.visible_intercept,
            config=self.config,
        )

    def __repr__(self):
        sizes = ", ".join(str(s) for s in self.layer_sizes)
        return f"LayerStack(({sizes}), family={self.family!r})"
