"""Core-set diversity (k-center greedy, Sener & Savarese 2018) combined with an
MMD-reduction uncertainty toward the source domain."""

import numbers
from numbers import Integral, Real

import numpy as np
from numba import njit
from sklearn.utils._param_validation import Interval, StrOptions

from skalltransfer._core._validation import checked_array
from skalltransfer._kernels._mmd import (
    base_bandwidth,
    greedy_mmd_removal,
    kernel_bandwidths,
)
from skalltransfer.active._strategies import QueryStrategy


# -- k-center greedy -------------------------------------------------------------------
@njit(cache=True)
def _update_min_sq_dist(E, row, min_dist):
    """``min_dist[i] = min(min_dist[i], ||E[i] - E[row]||^2)`` for every i."""
    n, d = E.shape
    for i in range(n):
        acc = 0.0
        for j in range(d):
            diff = E[i, j] - E[row, j]
            acc += diff * diff
        if acc < min_dist[i]:
            min_dist[i] = acc


@njit(cache=True)
def _k_center_greedy(E, n_centers, n_picks, first, min_dist, trace):
    """Greedy k-center on the rows of ``E`` (n, d).

    Rows ``[0, n_centers)`` are the initial centres, the others candidates.
    ``min_dist`` (n,) must hold +inf on entry and ends with each row's squared
    distance to its nearest centre; ``trace[step]`` receives the squared
    distances each step maximised. Without initial centres the first pick is
    ``first``. Ties go to the lowest index. Returns the picked row indices.
    """
    n = E.shape[0]
    for c in range(n_centers):
        _update_min_sq_dist(E, c, min_dist)
    chosen = np.zeros(n, dtype=np.bool_)
    chosen[:n_centers] = True
    picks = np.empty(n_picks, dtype=np.int64)
    for step in range(n_picks):
        for i in range(n):
            trace[step, i] = np.nan if chosen[i] else min_dist[i]
        if step == 0 and n_centers == 0:
            best = first
        else:
            best = -1
            best_value = -1.0
            for i in range(n_centers, n):
                if not chosen[i] and min_dist[i] > best_value:
                    best_value = min_dist[i]
                    best = i
        picks[step] = best
        chosen[best] = True
        _update_min_sq_dist(E, best, min_dist)
    return picks


def k_center_greedy(candidates, n_picks, centers=None, first=0):
    """Pick ``n_picks`` rows of ``candidates`` by greedy k-center.

    Each pick is the candidate farthest (Euclidean) from its nearest centre,
    the picks becoming centres in turn; a 2-approximation of the minimax
    radius (Gonzalez 1985). ``centers`` (the labelled samples' embeddings)
    are the initial centres; with none, the first pick is ``first``.

    Parameters
    ----------
    candidates : array-like of shape (n_candidates, n_features)
        Embeddings of the samples to choose from.
    n_picks : int
        Number of candidates to pick (at most ``n_candidates``).
    centers : array-like of shape (n_centers, n_features) or None, \
            default=None
        Initial centres, e.g. the embeddings of the labelled samples. None
        (or no rows) starts from no centre.
    first : int, default=0
        Index of the first pick when there is no initial centre (ignored
        otherwise).

    Returns
    -------
    picks : ndarray of shape (n_picks,)
        Indices into ``candidates``, in the order picked (ties go to the
        lowest index).
    distances : ndarray of shape (n_candidates,)
        Every candidate's final distance to its nearest centre (the
        covering radius is their max).
    trace : ndarray of shape (n_picks, n_candidates)
        The distances each step maximised, NaN for candidates already
        chosen.
    """
    candidates = checked_array(candidates, "candidates", dtype=(np.float64, np.float32))
    if centers is None:
        centers = candidates[:0]
    elif len(centers):
        centers = checked_array(centers, "centers", dtype=(np.float64, np.float32))
        if centers.shape[1] != candidates.shape[1]:
            raise ValueError(
                f"centers have {centers.shape[1]} features but candidates have "
                f"{candidates.shape[1]}."
            )
    if isinstance(n_picks, bool) or not isinstance(n_picks, numbers.Integral):
        raise ValueError(f"n_picks must be an int, got {n_picks!r}.")
    if isinstance(first, bool) or not isinstance(first, numbers.Integral):
        raise ValueError(f"first must be an int, got {first!r}.")
    if len(candidates) and not 0 <= first < len(candidates):
        raise ValueError(
            f"first must index a candidate, in [0, {len(candidates) - 1}], got {first}."
        )
    dtype = np.result_type(candidates.dtype, np.asarray(centers).dtype, np.float32)
    E = np.ascontiguousarray(np.concatenate([centers, candidates]), dtype=dtype)
    n_centers = len(centers)
    if not 0 <= n_picks <= len(candidates):
        raise ValueError(
            f"Cannot pick {n_picks} of {len(candidates)} candidates by k-center."
        )
    min_dist = np.full(len(E), np.inf)
    trace = np.empty((n_picks, len(E)))
    picks = _k_center_greedy(
        E, n_centers, n_picks, int(first) + n_centers, min_dist, trace
    )
    return (
        picks - n_centers,
        np.sqrt(min_dist[n_centers:]),
        np.sqrt(trace[:, n_centers:]),
    )


# -- the strategy ----------------------------------------------------------------------
def _minmax(values):
    """Scale finite ``values`` to [0, 1] (all zeros when they are constant)."""
    lo, hi = np.min(values), np.max(values)
    if not np.isfinite(hi - lo) or hi == lo:
        return np.zeros_like(values)
    return (values - lo) / (hi - lo)


class MMDCoreSetSampling(QueryStrategy):
    """Core-set diversity plus MMD-reduction uncertainty toward the source.

    Both criteria work on the classifier's last hidden layer
    (``clf.transform``):

    - **uncertainty**: how much removing a candidate from the unlabelled
      target pool lowers the (biased, multi-kernel) MMD² between the source
      sample and the pool, i.e. how much it contributes to the domain gap.
      Drops are exact and computed for every candidate at once in
      O(mn + n²); a batch is built greedily, updating the sums in O(n) per
      pick (this greedy rule is a design choice of ours, not a published
      method);
    - **diversity**: greedy k-center (Sener & Savarese 2018) with the
      labelled samples as initial centres.

    ``combine="two_stage"`` shortlists ``shortlist_factor * batch_size``
    candidates by greedy MMD drop and runs k-center on the shortlist;
    ``"weighted"`` picks, one at a time, the maximum of
    ``weight * minmax(MMD drop) + (1 - weight) * minmax(distance to the
    nearest centre)``, updating both after each pick. Without ``X_source`` the
    strategy is the plain core-set (k-center) method.

    Parameters
    ----------
    X_source : array-like of shape (n_source_samples, n_features), \
            SourceData or None, default=None
        Source-domain samples (the data the source network was trained on).
    bandwidth : {"median", "mean"} or float, default="median"
        Base Gaussian bandwidth: the median (or mean) squared distance of the
        pooled source and pool embeddings, or a fixed value.
    n_kernels : int, default=1
        Number of Gaussian kernels (equal weights), bandwidths
        ``base * kernel_mul ** (u - n_kernels // 2)``.
    kernel_mul : float, default=2.0
        Ratio between the bandwidths of consecutive kernels (used when
        ``n_kernels > 1``).
    combine : {"two_stage", "weighted"}, default="two_stage"
        How the two criteria make a batch: ``"two_stage"`` shortlists by
        MMD drop, then picks by k-center; ``"weighted"`` maximises a
        weighted sum of both (see above).
    shortlist_factor : int, default=3
        Shortlist size, in batches (``"two_stage"``).
    weight : float in [0, 1], default=0.5
        Weight of the MMD term (``"weighted"``).
    n_source_samples : int, default=1000
        Source rows drawn at each query (bounds the O(mn) cost).
    random_state : int, RandomState instance or None, default=None
        Seeds source subsampling and, without labelled samples or source, the
        first k-center pick.
    missing_label : scalar, str or None, default=np.nan
        Marker of the unlabelled entries of ``y``.

    Attributes
    ----------
    random_state_ : RandomState
        The generator, after the first query.

    Notes
    -----
    The returned utilities are the quantity maximised at each pick: the
    distance to the nearest centre (``"two_stage"``, NaN outside the
    shortlist) or the combined score (``"weighted"``).

    References
    ----------
    .. [1] O. Sener and S. Savarese, "Active learning for convolutional neural
       networks: a core-set approach", ICLR 2018.
    .. [2] M. Long, Y. Cao, J. Wang and M. Jordan, "Learning transferable
       features with deep adaptation networks", ICML 2015.
    """

    _parameter_constraints: dict = {
        **QueryStrategy._parameter_constraints,
        "X_source": "no_validation",
        "bandwidth": [
            StrOptions({"median", "mean"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "n_kernels": [Interval(Integral, 1, None, closed="left")],
        "kernel_mul": [Interval(Real, 0, None, closed="neither")],
        "combine": [StrOptions({"two_stage", "weighted"})],
        "shortlist_factor": [Interval(Integral, 1, None, closed="left")],
        "weight": [Interval(Real, 0, 1, closed="both")],
        "n_source_samples": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }
    _clf_methods = ("transform",)

    # Rows of the pooled sample used by the median heuristic (O(rows^2)).
    _median_rows = 1000

    def __init__(
        self,
        X_source=None,
        *,
        bandwidth="median",
        n_kernels=1,
        kernel_mul=2.0,
        combine="two_stage",
        shortlist_factor=3,
        weight=0.5,
        n_source_samples=1000,
        random_state=None,
        missing_label=np.nan,
    ):
        self.X_source = X_source
        self.bandwidth = bandwidth
        self.n_kernels = n_kernels
        self.kernel_mul = kernel_mul
        self.combine = combine
        self.shortlist_factor = shortlist_factor
        self.weight = weight
        self.n_source_samples = n_source_samples
        self.random_state = random_state
        self.missing_label = missing_label

    def _source_embeddings(self, clf, rng):
        Xs = getattr(self.X_source, "X", self.X_source)
        Xs = checked_array(Xs, "Xs", dtype=(np.float64, np.float32))
        if len(Xs) > self.n_source_samples:
            Xs = Xs[np.sort(rng.choice(len(Xs), self.n_source_samples, replace=False))]
        return np.asarray(clf.transform(Xs), dtype=np.float64)

    def _gammas(self, Hs, Ht, rng):
        if isinstance(self.bandwidth, str):
            Z = np.concatenate([Hs, Ht])
            if self.bandwidth == "median" and len(Z) > self._median_rows:
                Z = Z[rng.choice(len(Z), self._median_rows, replace=False)]
            base = base_bandwidth(Z, self.bandwidth)
        else:
            base = float(self.bandwidth)
        return kernel_bandwidths(base, self.n_kernels, self.kernel_mul)

    def _select(self, X, labeled, unlabeled, clf, batch_size, rng):
        E = np.asarray(clf.transform(X), dtype=np.float64)
        Ht, centers = E[unlabeled], E[labeled]
        n_pool = unlabeled.size
        utilities = np.full((batch_size, X.shape[0]), np.nan)

        if self.X_source is None:
            first = rng.randint(n_pool) if labeled.size == 0 else 0
            picks, _, trace = k_center_greedy(Ht, batch_size, centers, first)
            utilities[:, unlabeled] = trace
            return unlabeled[picks], utilities

        Hs = self._source_embeddings(clf, rng)
        gammas = self._gammas(Hs, Ht, rng)
        if self.combine == "two_stage":
            n_short = min(self.shortlist_factor * batch_size, n_pool)
            if n_short < n_pool:
                shortlist, _ = greedy_mmd_removal(Hs, Ht, n_short, gammas)
            else:
                shortlist = np.arange(n_pool)
            # Without labelled centres, start from the largest MMD drop.
            picks, _, trace = k_center_greedy(
                Ht[shortlist], batch_size, centers, first=0
            )
            utilities[:, unlabeled[shortlist]] = trace
            return unlabeled[shortlist[picks]], utilities
        return self._select_weighted(Hs, Ht, centers, unlabeled, gammas, utilities)

    def _select_weighted(self, Hs, Ht, centers, unlabeled, gammas, utilities):
        batch_size, n_pool = utilities.shape[0], unlabeled.size
        min_dist = np.full(n_pool, np.inf)
        for c in centers:
            np.minimum(min_dist, np.sum((Ht - c) ** 2, axis=1), out=min_dist)
        remaining = np.ones(n_pool, bool)
        picks = []

        def choose(drop):
            # Called by the greedy MMD loop with every candidate's current drop.
            live = np.flatnonzero(remaining)
            score = self.weight * _minmax(drop[live])
            score += (1 - self.weight) * _minmax(np.sqrt(min_dist[live]))
            row = np.full(n_pool, np.nan)
            row[live] = score
            utilities[len(picks), unlabeled] = row
            i = int(live[np.argmax(score)])
            picks.append(i)
            remaining[i] = False
            np.minimum(min_dist, np.sum((Ht - Ht[i]) ** 2, axis=1), out=min_dist)
            return i

        # MMD needs a non-empty pool: the last candidate of a whole-pool query
        # is taken without a score.
        n_mmd = min(batch_size, n_pool - 1)
        if n_mmd:
            greedy_mmd_removal(Hs, Ht, n_mmd, gammas, choose=choose)
        if len(picks) < batch_size:
            last = int(np.flatnonzero(remaining)[0])
            utilities[len(picks), unlabeled[last]] = 0.0
            picks.append(last)
        return unlabeled[np.asarray(picks, dtype=np.intp)], utilities
