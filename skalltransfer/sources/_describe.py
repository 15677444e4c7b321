"""A short text of a source model's layers, for tables and progress lines."""

import numpy as np


def describe_layers(source):
    """The hidden layers of a source model: ``"(250, 250)"``, or ``"conv
    5x5x32 5x5x64, dense (256,)"`` for a convolutional one (kernel x kernel x
    maps per convolutional layer); those of its weights once fitted, of its
    parameters before (``"(auto)"`` when they depend on the data)."""
    params = source.get_params()
    if hasattr(source, "n_features_in_") and hasattr(source, "coefs_"):
        hidden = [W.shape[1] for W in source.coefs_[:-1]]
        conv = params.get("conv_layers")
        n_conv = 0 if conv is None else len(conv)
        dense = tuple(hidden[n_conv:])
    elif isinstance(params["hidden_layer_sizes"], str):
        dense = params["hidden_layer_sizes"]  # "auto": known once fitted
    else:
        dense = tuple(int(s) for s in np.atleast_1d(params["hidden_layer_sizes"]))
    conv = params.get("conv_layers")
    if conv is None:
        return str(dense) if not isinstance(dense, str) else f"({dense})"
    kernels = " ".join(f"{int(k)}x{int(k)}x{int(m)}" for m, k in conv)
    return f"conv {kernels}, dense {dense}"
