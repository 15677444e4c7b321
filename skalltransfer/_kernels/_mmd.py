"""Multi-kernel maximum mean discrepancy (MK-MMD, Long et al. 2015).

The kernel is a convex combination of Gaussian kernels,
``k(a, b) = sum_u beta_u * exp(-||a - b||^2 / gamma_u)``, whose bandwidths
come from the data: a base bandwidth (the mean or median squared distance
between distinct rows of the pooled sample) times ``kernel_mul ** (u -
n_kernels // 2)``. The defaults, 5 kernels spaced by a factor 2 with equal
weights, are those of the official DAN Caffe layer.

Gradients treat the bandwidths (and ``beta``) as constants, as DAN does: they
are the derivative of the statistic *for fixed* ``gammas``. With a bandwidth
recomputed from every minibatch this is a stop-gradient through the
bandwidth, not the exact derivative of the per-batch value.

Every function takes arrays and scalars; float32 inputs give float32 outputs.
"""

import numpy as np
from scipy.spatial.distance import pdist

_BANDWIDTHS = ("mean", "median")


# -- kernel family ---------------------------------------------------------------------
def base_bandwidth(Z, bandwidth="mean"):
    """Base bandwidth of the pooled sample ``Z`` of shape (n, d), as a float.

    ``"mean"``: mean squared distance between distinct rows (DAN's Caffe
    layer), computed in O(n d); ``"median"``: their median (the median
    heuristic of the DAN paper), O(n^2 d). A positive number is returned
    unchanged. A degenerate sample (fewer than 2 rows, or all rows equal)
    gets 1.0: every kernel value is then 1 whatever the bandwidth.
    """
    if not isinstance(bandwidth, str):
        value = float(bandwidth)
        if not value > 0:
            raise ValueError(f"A fixed bandwidth must be positive, got {bandwidth}.")
        return value
    if bandwidth not in _BANDWIDTHS:
        raise ValueError(
            f"bandwidth must be 'mean', 'median' or a positive float, "
            f"got {bandwidth!r}."
        )
    n = Z.shape[0]
    if n < 2:
        return 1.0
    Z = np.asarray(Z, dtype=np.float64)
    if bandwidth == "mean":
        # sum_{i != j} ||z_i - z_j||^2 = 2 n sum_i ||z_i - mean||^2; centring
        # first avoids the cancellation of the raw-moment formula.
        centred = Z - Z.mean(axis=0)
        value = 2.0 * float(np.sum(centred * centred)) / (n - 1)
    else:
        value = float(np.median(pdist(Z, "sqeuclidean")))
    return value if np.isfinite(value) and value > 0 else 1.0


def kernel_bandwidths(base, n_kernels=5, kernel_mul=2.0):
    """``gamma_u = base * kernel_mul ** (u - n_kernels // 2)``, u = 0..n_kernels-1."""
    if n_kernels < 1:
        raise ValueError(f"n_kernels must be at least 1, got {n_kernels}.")
    if not kernel_mul > 0:
        raise ValueError(f"kernel_mul must be positive, got {kernel_mul}.")
    powers = np.arange(n_kernels, dtype=np.float64) - n_kernels // 2
    return float(base) * float(kernel_mul) ** powers


def mk_bandwidths(Hs, Ht, n_kernels=5, kernel_mul=2.0, bandwidth="mean"):
    """Bandwidths ``gammas`` of shape (n_kernels,) from the pooled batch."""
    if isinstance(bandwidth, str):
        base = base_bandwidth(np.concatenate([Hs, Ht], axis=0), bandwidth)
    else:
        base = base_bandwidth(None, bandwidth)
    return kernel_bandwidths(base, n_kernels, kernel_mul)


def _check_weights(gammas, beta):
    gammas = np.atleast_1d(np.asarray(gammas, dtype=np.float64))
    if beta is None:
        beta = np.full(gammas.shape, 1.0 / gammas.size)
    beta = np.atleast_1d(np.asarray(beta, dtype=np.float64))
    if beta.shape != gammas.shape:
        raise ValueError(
            f"beta has {beta.size} weights but there are {gammas.size} kernels."
        )
    if np.any(gammas <= 0):
        raise ValueError(f"Kernel bandwidths must be positive, got {gammas}.")
    return gammas, beta


def squared_distances(A, B):
    """Squared Euclidean distances of shape (len(A), len(B)), clipped at 0."""
    D = np.einsum("ij,ij->i", A, A)[:, None] + np.einsum("ij,ij->i", B, B)[None, :]
    D -= 2.0 * (A @ B.T)
    np.maximum(D, 0, out=D)
    return D


def mk_kernel(D, gammas, beta=None, slope=False):
    """Multi-kernel values ``K = sum_u beta_u exp(-D / gamma_u)`` of squared
    distances ``D`` and, with ``slope=True``, ``dK/dD`` as a second array."""
    gammas, beta = _check_weights(gammas, beta)
    K = np.zeros_like(D)
    dK = np.zeros_like(D) if slope else None
    buf = np.empty_like(D)
    for g, b in zip(gammas, beta):
        # Python floats keep float32 arrays float32 (NEP 50).
        np.multiply(D, -1.0 / float(g), out=buf)
        np.exp(buf, out=buf)
        K += float(b) * buf
        if slope:
            dK -= float(b / g) * buf
    return (K, dK) if slope else K


def _as_pair(Hs, Ht):
    Hs, Ht = np.asarray(Hs), np.asarray(Ht)
    if Hs.ndim != 2 or Ht.ndim != 2 or Hs.shape[1] != Ht.shape[1]:
        raise ValueError(
            "Hs and Ht must be 2-D with the same number of columns, got shapes "
            f"{Hs.shape} and {Ht.shape}."
        )
    dtype = np.result_type(Hs.dtype, Ht.dtype, np.float32)
    return Hs.astype(dtype, copy=False), Ht.astype(dtype, copy=False)


# -- quadratic-time unbiased estimator -------------------------------------------------


def mmd2_quadratic_grad(Hs, Ht, gammas, beta=None, grad=True):
    """:func:`mmd2_quadratic` and its gradients w.r.t. ``Hs`` and ``Ht``.

    Returns ``(value, grad_s, grad_t)`` with gradients shaped like the
    samples (None with ``grad=False``); bandwidths are held constant.
    """
    Hs, Ht = _as_pair(Hs, Ht)
    m, n = Hs.shape[0], Ht.shape[0]
    if m < 2 or n < 2:
        raise ValueError(
            f"The unbiased MMD needs at least 2 samples per side, got {m} and {n}."
        )
    a, b, c = 1.0 / (m * (m - 1)), 1.0 / (n * (n - 1)), 2.0 / (m * n)
    Kss, Wss = mk_kernel(squared_distances(Hs, Hs), gammas, beta, slope=True)
    Ktt, Wtt = mk_kernel(squared_distances(Ht, Ht), gammas, beta, slope=True)
    Kst, Wst = mk_kernel(squared_distances(Hs, Ht), gammas, beta, slope=True)
    # The U-statistic leaves out the i == j terms.
    np.fill_diagonal(Kss, 0)
    np.fill_diagonal(Ktt, 0)
    value = a * Kss.sum(dtype=np.float64) + b * Ktt.sum(dtype=np.float64)
    value -= c * Kst.sum(dtype=np.float64)
    value = Hs.dtype.type(value)
    if not grad:
        return value, None, None
    np.fill_diagonal(Wss, 0)
    np.fill_diagonal(Wtt, 0)
    # d||x - y||^2 / dx = 2 (x - y); each within-sample pair appears twice.
    grad_s = (4.0 * a) * (Wss.sum(axis=1)[:, None] * Hs - Wss @ Hs)
    grad_s -= (2.0 * c) * (Wst.sum(axis=1)[:, None] * Hs - Wst @ Ht)
    grad_t = (4.0 * b) * (Wtt.sum(axis=1)[:, None] * Ht - Wtt @ Ht)
    grad_t -= (2.0 * c) * (Wst.sum(axis=0)[:, None] * Ht - Wst.T @ Hs)
    return value, grad_s, grad_t


# -- linear-time unbiased estimator ----------------------------------------------------
def _row_sq_dist(A, B):
    diff = A - B
    return np.einsum("ij,ij->i", diff, diff), diff


def mmd2_linear_grad(Hs, Ht, gammas, beta=None, grad=True):
    """:func:`mmd2_linear` and its gradients w.r.t. ``Hs`` and ``Ht``.

    Returns ``(value, grad_s, grad_t)``; unused rows get a zero gradient and
    bandwidths are held constant.
    """
    Hs, Ht = _as_pair(Hs, Ht)
    P = min(Hs.shape[0], Ht.shape[0]) // 2
    if P < 1:
        raise ValueError(
            "The linear MMD needs at least 2 samples per side, got "
            f"{Hs.shape[0]} and {Ht.shape[0]}."
        )
    s1, s2 = Hs[0 : 2 * P : 2], Hs[1 : 2 * P : 2]
    t1, t2 = Ht[0 : 2 * P : 2], Ht[1 : 2 * P : 2]
    pairs = [(s1, s2), (t1, t2), (s1, t2), (s2, t1)]
    dists = [_row_sq_dist(x, y) for x, y in pairs]
    # O(P) each: the slopes cost nothing next to the distances.
    kernels = [mk_kernel(d, gammas, beta, slope=True) for d, _ in dists]
    k_ss, k_tt, k_s1t2, k_s2t1 = (k for k, _ in kernels)
    g = k_ss + k_tt - k_s1t2 - k_s2t1
    value = Hs.dtype.type(g.sum(dtype=np.float64) / P)
    if not grad:
        return value, None, None
    # w * (x - y) per pair, scaled by d(mean)/dk = 1/P and d||x-y||^2/dx = 2.
    w = [(2.0 / P) * dk[:, None] * diff for (_, dk), (_, diff) in zip(kernels, dists)]
    w_ss, w_tt, w_s1t2, w_s2t1 = w
    grad_s, grad_t = np.zeros_like(Hs), np.zeros_like(Ht)
    grad_s[0 : 2 * P : 2] = w_ss - w_s1t2
    grad_s[1 : 2 * P : 2] = -w_ss - w_s2t1
    grad_t[0 : 2 * P : 2] = w_tt + w_s2t1
    grad_t[1 : 2 * P : 2] = -w_tt + w_s1t2
    return value, grad_s, grad_t


def mk_mmd2(
    Hs,
    Ht,
    *,
    estimator="quadratic",
    n_kernels=5,
    kernel_mul=2.0,
    bandwidth="mean",
    beta=None,
    return_grad=False,
):
    """Multi-kernel MMD² between two samples (the DAN recipe), and optionally
    its gradients (:func:`skalltransfer.metrics.multi_kernel_mmd2` is the
    public, value-only form).

    The squared maximum mean discrepancy of a family of ``n_kernels``
    Gaussian kernels whose bandwidths are ``kernel_mul`` apart around a base
    bandwidth computed from the pooled samples. Near 0 when both samples come
    from the same distribution; used to measure how far the source and target
    codes of a network are apart (the penalty of ``mmd_lambda``).

    Parameters
    ----------
    Hs : array-like of shape (n_source, n_features)
        Source sample (e.g. hidden codes of source images).
    Ht : array-like of shape (n_target, n_features)
        Target sample.
    estimator : {"quadratic", "linear"}, default="quadratic"
        The unbiased U-statistic over all pairs, or DAN's linear-time
        estimator over quad-tuples in row order (needs equal sizes). Both are
        unbiased, so a value can be slightly negative.
    n_kernels : int, default=5
    kernel_mul : float, default=2.0
        Ratio of consecutive bandwidths.
    bandwidth : {"mean", "median"}, default="mean"
        Base bandwidth: the mean or median squared distance between distinct
        pooled points.
    beta : array-like of shape (n_kernels,), default=None
        Kernel weights (summing to 1); None weights them equally.
    return_grad : bool, default=False
        Also return the gradients with respect to ``Hs`` and ``Ht``.

    Returns
    -------
    value : float
        The estimate of MK-MMD².
    grad_s, grad_t : ndarray
        Only with ``return_grad=True``.
    """
    Hs, Ht = _as_pair(Hs, Ht)
    gammas = mk_bandwidths(Hs, Ht, n_kernels, kernel_mul, bandwidth)
    if estimator == "quadratic":
        func = mmd2_quadratic_grad
    elif estimator == "linear":
        func = mmd2_linear_grad
    else:
        raise ValueError(
            f"estimator must be 'linear' or 'quadratic', got {estimator!r}."
        )
    value, gs, gt = func(Hs, Ht, gammas, beta, grad=return_grad)
    return (value, gs, gt) if return_grad else value


# -- biased statistic and leave-one-out removal (active learning) ----------------------
def _kernel_sums(Hs, Ht, gammas, beta, chunk_size):
    """C = sum K_ss, row sums a = K_tt 1 and b = K_st^T 1 (chunked: O(chunk n))."""
    m, n = Hs.shape[0], Ht.shape[0]
    C = 0.0
    for start in range(0, m, chunk_size):
        block = Hs[start : start + chunk_size]
        C += float(mk_kernel(squared_distances(block, Hs), gammas, beta).sum())
    a = np.empty(n)
    b = np.empty(n)
    for start in range(0, n, chunk_size):
        block = Ht[start : start + chunk_size]
        a[start : start + len(block)] = mk_kernel(
            squared_distances(block, Ht), gammas, beta
        ).sum(axis=1)
        b[start : start + len(block)] = mk_kernel(
            squared_distances(block, Hs), gammas, beta
        ).sum(axis=1)
    return C, a, b


def _removed_mmd2(C, A, B, a, b, k_diag, m, n):
    """MMD²_b(S, T \\ {i}) for every i, from the current sums (needs n >= 2)."""
    return (
        C / m**2 + (A - 2.0 * a + k_diag) / (n - 1) ** 2 - 2.0 * (B - b) / (m * (n - 1))
    )


def greedy_mmd_removal(
    Hs, Ht, n_picks, gammas, beta=None, candidates=None, choose=None
):
    """Greedily remove from T the samples that lower MMD²_b(S, T) the most.

    Each step removes the candidate with the largest drop
    ``MMD²(S, T) - MMD²(S, T \\ {i})`` and updates the sums in O(n d) (one
    kernel column), so a batch of b picks costs O(mn + n^2 + b n d).
    ``candidates`` (boolean mask of shape (n,), default all) restricts which
    rows may be removed; every row of ``Ht`` stays in T until removed. Ties go
    to the lowest index. ``choose(drops) -> index``, if given, replaces the
    arg-max rule (``drops`` of shape (n,), -inf for rows that cannot be
    removed), so other criteria can be combined with the drop.

    Returns ``(picks, gains)``: the removed row indices in order, and the
    drop each pick achieved when it was made (shape (n_picks,)).
    """
    Hs = np.asarray(Hs, dtype=np.float64)
    Ht = np.asarray(Ht, dtype=np.float64)
    m, n = Hs.shape[0], Ht.shape[0]
    allowed = np.ones(n, bool) if candidates is None else np.array(candidates, bool)
    if n_picks > min(int(allowed.sum()), n - 1):
        raise ValueError(
            f"Cannot remove {n_picks} of {n} target samples ({allowed.sum()} "
            "candidates); at least one must remain."
        )
    C, a, b = _kernel_sums(Hs, Ht, gammas, beta, 512)
    A, B = float(a.sum()), float(b.sum())
    k_ii = float(np.sum(_check_weights(gammas, beta)[1]))
    k_diag = np.full(n, k_ii)
    picks = np.empty(n_picks, dtype=np.intp)
    gains = np.empty(n_picks)
    size = n
    for step in range(n_picks):
        current = C / m**2 + A / size**2 - 2.0 * B / (m * size)
        drop = current - _removed_mmd2(C, A, B, a, b, k_diag, m, size)
        drop[~allowed] = -np.inf
        i = int(np.argmax(drop)) if choose is None else int(choose(drop))
        if not allowed[i]:
            raise ValueError(f"choose returned row {i}, which cannot be removed.")
        picks[step], gains[step] = i, drop[i]
        column = mk_kernel(squared_distances(Ht, Ht[i : i + 1]), gammas, beta)[:, 0]
        A -= 2.0 * a[i] - k_ii
        B -= b[i]
        a -= column
        allowed[i] = False
        size -= 1
    return picks, gains
