"""The one representation every model and every transfer method shares.

A :class:`LayerStack` holds weight layers by index: ``coefs[k]`` and
``intercepts[k]``, from the input layer (index 0) to the output layer (index
``n_layers - 1``); for a feed-forward net that is exactly the ``coefs_`` /
``intercepts_`` layout of scikit-learn's ``MLPClassifier``. Its **family**
(:mod:`skalltransfer._core._families`) says how the arrays compute and
learn: a deep Boltzmann machine adds the bias of its visible layer
(``visible_intercept``) and runs mean-field inference; a convolutional
network reads its first weight layers as convolutions (their geometry is in
``config``).

Transfer methods only ever touch a model through a stack: copy it, keep the
first ``T`` layers, re-initialise the rest, or append new layers.
"""

import copy

import numpy as np

from skalltransfer._core._families import FEEDFORWARD, get_family
from skalltransfer._core._fitted import check_layer_arrays
from skalltransfer._kernels._activations import ACTIVATIONS

# What an output layer may compute.
OUTPUT_ACTIVATIONS = ("softmax", "logistic", "identity")


class LayerStack:
    """Weights and biases of a layered network, by index.

    Parameters
    ----------
    coefs : list of ndarray
        ``coefs[k]`` has shape (n_k, n_{k+1}).
    intercepts : list of ndarray
        ``intercepts[k]`` has shape (n_{k+1},).
    family : {"feedforward", "conv", "mpdbm"} or Family, default="feedforward"
        How the stack computes: a feed-forward net, convolutional layers
        under dense ones, or a deep Boltzmann machine run by mean-field
        inference. Stored as the family object (which compares equal to its
        name).
    hidden_activation : str, default="logistic"
        Activation of the hidden layers of a feed-forward or convolutional
        stack (a DBM's hidden units are logistic).
    output_activation : str, default="softmax"
        Activation of the output layer of a feed-forward or convolutional
        stack: ``"softmax"`` (one class per sample), ``"logistic"`` (one
        independent probability per unit) or ``"identity"``. A DBM's label
        layer is a softmax.
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
        family = get_family(family)
        if len(coefs) != len(intercepts) or not coefs:
            raise ValueError(
                "coefs and intercepts must be non-empty and of equal length."
            )
        if hidden_activation not in ACTIVATIONS:
            raise ValueError(
                f"hidden_activation must be one of {sorted(ACTIVATIONS)}, got "
                f"{hidden_activation!r}."
            )
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got "
                f"{output_activation!r}."
            )
        # Arrays are shared, not copied; other sequences become arrays.
        coefs = [W if isinstance(W, np.ndarray) else np.asarray(W) for W in coefs]
        intercepts = [
            b if isinstance(b, np.ndarray) else np.asarray(b) for b in intercepts
        ]
        if visible_intercept is not None and not isinstance(
            visible_intercept, np.ndarray
        ):
            visible_intercept = np.asarray(visible_intercept)
        check_layer_arrays(
            coefs,
            intercepts,
            visible_intercept,
            names=("coefs", "intercepts", "visible_intercept"),
            contiguous=False,
        )
        self.coefs = list(coefs)
        self.intercepts = list(intercepts)
        self.family = family
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation
        self.visible_intercept = visible_intercept
        self.config = dict(config or {})
        family.check_layers(self)

    @classmethod
    def from_estimator(cls, estimator):
        """The stack of a fitted estimator, sharing its arrays (no copy).

        Works for this package's source models and fitted transfer
        estimators (which define ``_layer_stack()``) and for scikit-learn's
        ``MLPClassifier``.
        """
        if hasattr(estimator, "_layer_stack"):
            return estimator._layer_stack()
        if hasattr(estimator, "coefs_") and hasattr(estimator, "intercepts_"):
            out = getattr(estimator, "out_activation_", "softmax")
            if out == "logistic" and estimator.coefs_[-1].shape[1] > 1:
                raise ValueError(
                    "A multi-label MLPClassifier has independent logistic "
                    "output units, not one distribution over classes; train "
                    "the source on one class per image."
                )
            if out == "logistic" and len(getattr(estimator, "classes_", ())) == 2:
                raise ValueError(
                    "A binary MLPClassifier has a single logistic output unit, "
                    "which leaves no output units to select; train the source on "
                    "three or more classes."
                )
            return cls(
                estimator.coefs_,
                estimator.intercepts_,
                family=FEEDFORWARD,
                hidden_activation=getattr(estimator, "activation", "logistic"),
                output_activation=out,
            )
        raise TypeError(
            f"{type(estimator).__name__} has no layer stack: a source must be a "
            "fitted MPDBMClassifier, StackedAutoencoderClassifier, "
            "ConvAutoencoderClassifier or MLPClassifier (an object with coefs_ "
            "and intercepts_)."
        )

    # -- shape -------------------------------------------------------------
    @property
    def n_layers(self):
        """Number of weight layers L (the output layer included)."""
        return len(self.coefs)

    @property
    def layer_sizes(self):
        """Units per layer, input layer first."""
        return self.family.layer_sizes(self)

    @property
    def dtype(self):
        return self.coefs[0].dtype

    @property
    def params(self):
        """Trainable arrays in a fixed order: coefs, intercepts, visible bias."""
        extra = [] if self.visible_intercept is None else [self.visible_intercept]
        return [*self.coefs, *self.intercepts, *extra]

    # -- computing (the family does the work) --------------------------------
    def _own_dtype(self, X):
        """``X`` as a C-contiguous array of the stack's dtype (copied only if
        it is not one already): every network computes in its own dtype,
        whatever real numbers it is given."""
        return np.ascontiguousarray(X, dtype=self.dtype)

    def output_proba(self, X):
        """Output-layer values (probabilities) for the rows of ``X``."""
        return self.family.output_proba(self, self._own_dtype(X))

    def hidden_representation(self, X, layer=None):
        """Activations of hidden layer ``layer`` (1-based; default the top one).

        For a DBM these are the mean-field marginals with the label layer free.
        """
        n_hidden = self.n_layers - 1
        if n_hidden == 0:
            raise ValueError("This stack has no hidden layer.")
        layer = n_hidden if layer is None else layer
        if not 1 <= layer <= n_hidden:
            raise ValueError(f"layer must be in [1, {n_hidden}], got {layer}.")
        return self.family.hidden(self, self._own_dtype(X), layer)

    def hidden_layers(self, X):
        """Activations of every hidden layer, ``[A_1, ..., A_{L-1}]`` (one
        pass where the family allows)."""
        if self.n_layers == 1:
            raise ValueError("This stack has no hidden layer.")
        return self.family.hidden_layers(self, self._own_dtype(X))

    # -- edits (each returns a new stack owning fresh arrays) ---------------
    def _with_layers(self, coefs, intercepts, visible_intercept, config=None):
        return LayerStack(
            coefs,
            intercepts,
            family=self.family,
            hidden_activation=self.hidden_activation,
            output_activation=self.output_activation,
            visible_intercept=visible_intercept,
            config=self.config if config is None else config,
        )

    def _copied_arrays(self, n_layers=None, dtype=None):
        dtype = dtype or self.dtype

        def cp(a):
            return None if a is None else np.array(a, dtype=dtype, copy=True)

        return (
            [cp(W) for W in self.coefs[:n_layers]],
            [cp(b) for b in self.intercepts[:n_layers]],
            cp(self.visible_intercept),
        )

    def copy(self, dtype=None):
        """A deep copy, optionally cast to ``dtype``."""
        return self._with_layers(*self._copied_arrays(dtype=dtype))

    def rebuild(self, n_kept, new_sizes, rng, scheme=None):
        """Keep the first ``n_kept`` layers (copied) and append fresh layers
        whose output sizes are ``new_sizes``, the last one being the output.

        This one operation covers T = 0 (nothing kept, same sizes), partial
        transfer (T < L, new head), truncation and "T plus a new hidden layer".
        Fresh layers are initialised as the family prescribes (``scheme``
        None) or with the named :func:`init_weights` scheme; a fresh layer
        that takes the place and size of one of the stack's own layers is
        re-initialised in its kind (a convolution stays a convolution). With
        nothing kept, the visible bias (if any) restarts at zero.
        """
        if not 0 <= n_kept <= self.n_layers or n_kept + len(new_sizes) == 0:
            raise ValueError(
                f"Cannot keep {n_kept} of {self.n_layers} layers and add "
                f"{len(new_sizes)}: a stack has between 1 and its own number of "
                "layers kept, or fresh layers on top."
            )
        coefs, intercepts, visible = self._copied_arrays(n_kept)
        config = self.family.rebuilt_config(self, n_kept, new_sizes)
        # The original layers under the rebuilt config: what fresh layers
        # are initialised from.
        template = copy.copy(self)
        template.config = config
        fan_in = self.layer_sizes[n_kept]
        for index, size in enumerate(new_sizes, start=n_kept):
            W, b = self.family.new_layer(template, index, fan_in, size, rng, scheme)
            coefs.append(W)
            intercepts.append(b)
            fan_in = size
        if n_kept == 0 and visible is not None:
            visible = np.zeros_like(visible)
        return self._with_layers(coefs, intercepts, visible, config)

    # -- persistence ---------------------------------------------------------
    # The family is stored by its name and restored as the registered
    # instance, by pickle and by skops alike (skops rebuilds an object from
    # this state without calling __init__, so no Family object is ever read
    # from a file).
    def __getstate__(self):
        state = dict(self.__dict__)
        state["family"] = self.family.name
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["family"] = get_family(state["family"])
        self.__dict__.update(state)

    def __repr__(self):
        sizes = ", ".join(str(s) for s in self.layer_sizes)
        return f"LayerStack(({sizes}), family={self.family!r})"
