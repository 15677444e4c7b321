"""Matrix products of the conv kernels, split over rows or images so each
chunk's buffers stay small (BLAS does the arithmetic)."""

import numpy as np

from skalltransfer._kernels._scratch import scratch as _scratch
from skalltransfer._kernels._threads import run_parts, split

# Size of the im2col buffer of one chunk of images: small enough that the
# patches are still in cache when their GEMM reads them (much larger
# buffers are slower; see the benchmarks page (docs/benchmarks.rst)).
# Re-measure: python benchmarks/bench_conv_kernels.py
MAX_BYTES = 4 * 2**20


# A network's forward pass keeps a layer's whole-batch patches for the
# backward pass when they take at most this much (else they are recomputed).
KEEP_BYTES = 16 * 2**20


# A weight gradient ``P.T @ dZ`` with at most this many entries is a single
# block of OpenBLAS's thread partition, so the whole long product runs on
# one thread, and with two BLAS threads it runs slower than with one (the
# first conv layer's 25 x 32 kernel matrix is such a product). Summing one
# product per image keeps it fast (see the benchmarks page
# (docs/benchmarks.rst)).
# Re-measure: python benchmarks/bench_conv_kernels.py
SMALL_WEIGHT_GRAD = 4096


def rows_matmul(a, b, threads):
    """``a @ b`` with the rows of ``a`` split over ``threads`` threads (one
    product for None or 1)."""
    if not threads or threads == 1:
        return np.matmul(a, b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    run_parts(
        split(a.shape[0], threads),
        lambda start, stop, _: np.matmul(a[start:stop], b, out=out[start:stop]),
    )
    return out


def rows_gram(a, b, threads):
    """``a.T @ b``, summed from the products of row parts of ``a`` and
    ``b`` on ``threads`` threads (one product for None or 1)."""
    if not threads or threads == 1:
        return np.matmul(a.T, b)
    parts = run_parts(
        split(a.shape[0], threads),
        lambda start, stop, _: np.matmul(a[start:stop].T, b[start:stop]),
    )
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def part_workspace(workspace, index):
    """Scratch buffers of part ``index`` of a batch split over threads: the
    caller's for the first part, a sub-dict of them for the others."""
    if workspace is None or index == 0:
        return workspace
    return workspace.setdefault(("part", index), {})


def images_per_chunk(
    n_images, rows_per_image, n_cols, itemsize, max_bytes, threads=None
):
    """Images per chunk so that an im2col buffer fits in ``max_bytes`` (and,
    over several ``threads``, each thread gets an equal share of chunks)."""
    per_image = max(1, rows_per_image * n_cols * itemsize)
    step = int(max(1, min(n_images, max_bytes // per_image)))
    if threads and threads > 1:
        step = max(1, min(step, -(-n_images // threads)))
    return step


def weight_grad(P, dZ, n_images, out, workspace=None):
    """``out = P.T @ dZ`` for the patches ``P`` and output gradients ``dZ``
    of ``n_images`` images (rows grouped by image)."""
    K, C_out = out.shape
    if n_images == 1 or K * C_out > SMALL_WEIGHT_GRAD:
        return np.matmul(P.T, dZ, out=out)
    rows = P.shape[0] // n_images
    parts = _scratch(workspace, "dw_parts", (n_images, K, C_out), P.dtype)
    np.matmul(
        P.reshape(n_images, rows, K).transpose(0, 2, 1),
        dZ.reshape(n_images, rows, C_out),
        out=parts,
    )
    return parts.sum(axis=0, out=out)
