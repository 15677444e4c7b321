"""What the convolution kernels share: reused scratch buffers, and the index
type of their flat-view loops."""

import numpy as np

# The kernels index flat views with unsigned integers: Numba then drops the
# negative-index wraparound test, and LLVM vectorises the contiguous runs
# (much faster than 4-D signed indexing). Every term of
# an index must be one: a signed and an unsigned integer make a float64 in
# Numba, and LLVM then vectorises nothing.
UINT = np.uint64


def scratch(workspace, name, shape, dtype):
    """An uninitialised C-contiguous array, reused across calls through the
    dict ``workspace`` (fresh large buffers cost page faults on every call);
    a fresh array when ``workspace`` is None."""
    size = int(np.prod(shape))
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    key = (name, np.dtype(dtype).str)
    buf = workspace.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        workspace[key] = buf
    return buf[:size].reshape(shape)
