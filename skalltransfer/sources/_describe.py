"""A short text of a source model's layers, for tables and progress lines."""

import numpy as np


def describe_layers(source):
    """The hidden layers of a source model's parameters: ``"(250, 250)"``,
    or ``"conv 5x5x32 5x5x64, dense (256,)"`` for a convolutional one
    (kernel x kernel x maps per convolutional layer)."""
    params = source.get_params()
    dense = tuple(int(s) for s in np.atleast_1d(params["hidden_layer_sizes"]))
    conv = params.get("conv_layers")
    if conv is None:
        return str(dense)
    kernels = " ".join(f"{int(k)}x{int(k)}x{int(m)}" for m, k in conv)
    return f"conv {kernels}, dense {dense}"
