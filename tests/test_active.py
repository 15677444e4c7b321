"""Active fine-tuning: query-strategy contract, AIFT (Table 1 of Zhou et al.
2017), MMD drop and k-center core-set, and the ActiveTransferLearner loop."""

import itertools
import warnings

import numpy as np
import pytest
from _reference import mmd2_leave_one_out
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skalltransfer import AllTransferClassifier, StackedAutoencoderClassifier
from skalltransfer._kernels._mmd import (
    base_bandwidth,
    greedy_mmd_removal,
    kernel_bandwidths,
    mk_kernel,
    squared_distances,
)
from skalltransfer.active import (
    ActiveTransferLearner,
    AIFTSampling,
    EntropySampling,
    MMDCoreSetSampling,
    RandomSampling,
    aift_scores,
    is_unlabeled,
    k_center_greedy,
    random_shift_augment,
)
from skalltransfer.active._aift import majority_selection, matlab_round


def mmd2_biased(Hs, Ht, gammas, beta=None):
    """Test oracle: the biased (V-statistic) MK-MMD², ``mean K_ss + mean K_tt
    - 2 mean K_st``, diagonals included, in float64."""
    Hs = np.asarray(Hs, dtype=np.float64)
    Ht = np.asarray(Ht, dtype=np.float64)
    Kss = mk_kernel(squared_distances(Hs, Hs), gammas, beta)
    Ktt = mk_kernel(squared_distances(Ht, Ht), gammas, beta)
    Kst = mk_kernel(squared_distances(Hs, Ht), gammas, beta)
    return float(Kss.mean() + Ktt.mean() - 2.0 * Kst.mean())


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


SAE_KW = dict(
    hidden_layer_sizes=(24, 16), pretrain_max_iter=2, max_iter=15, random_state=0
)


@pytest.fixture(scope="module")
def source(digits):
    """A tiny SAE source trained on digits 0-5."""
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return StackedAutoencoderClassifier(**SAE_KW).fit(X[y < 6], y[y < 6])


@pytest.fixture(scope="module")
def pool(digits, source):
    """Target digits 6-9: a pool of 240 (40 labelled) and a test set."""
    X, y = digits
    Xt, yt = X[y >= 6], y[y >= 6]
    order = np.random.RandomState(0).permutation(len(Xt))
    Xp, yp = Xt[order[:240]], yt[order[:240]]
    y_partial = yp.astype(float)
    y_partial[40:] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = AllTransferClassifier(source, max_iter=10, random_state=0)
        clf.fit(Xp[:40], yp[:40])
    return Xp, yp, y_partial, clf, Xt[order[240:]], yt[order[240:]]


def strategies(X_source):
    return [
        RandomSampling(random_state=0),
        EntropySampling(),
        AIFTSampling(random_state=0),
        MMDCoreSetSampling(X_source),
        MMDCoreSetSampling(X_source, combine="weighted"),
        MMDCoreSetSampling(),
    ]


STRATEGY_IDS = ["random", "entropy", "aift", "mmd2stage", "mmdweighted", "coreset"]


# -- the query contract ----------------------------------------------------------------
@pytest.mark.parametrize("k", range(6), ids=STRATEGY_IDS)
@pytest.mark.parametrize("batch_size", [1, 7])
def test_query_contract(digits, pool, k, batch_size):
    X, y = digits
    Xp, _, y_partial, clf, _, _ = pool
    strategy = strategies(X[y < 6][:300])[k]
    X_before, y_before = Xp.copy(), y_partial.copy()
    picks, utilities = strategy.query(
        Xp, y_partial, clf, batch_size=batch_size, return_utilities=True
    )
    assert picks.shape == (batch_size,)
    assert len(set(picks.tolist())) == batch_size
    assert np.all(np.isnan(y_partial[picks]))  # only unlabelled samples
    assert utilities.shape == (batch_size, len(Xp))
    assert np.all(np.isnan(utilities[:, :40]))  # labelled: never candidates
    for b, i in enumerate(picks):
        # Each pick maximises its utility row, and is excluded afterwards.
        assert utilities[b, i] == np.nanmax(utilities[b])
        assert np.all(np.isnan(utilities[b + 1 :, i]))
    assert_array_equal(Xp, X_before)
    assert_array_equal(y_partial, y_before)
    assert_array_equal(
        strategy.query(Xp, y_partial, clf, batch_size).shape, picks.shape
    )


@pytest.mark.parametrize("k", range(6), ids=STRATEGY_IDS)
def test_query_errors(digits, pool, k):
    X, y = digits
    Xp, yp, y_partial, clf, _, _ = pool
    strategy = strategies(X[y < 6][:300])[k]
    with pytest.raises(ValueError, match="no unlabelled sample"):
        strategy.query(Xp, yp, clf)
    with pytest.raises(NotFittedError):
        strategy.query(Xp, y_partial, clone(clf))
    with pytest.raises(ValueError, match="one entry per row"):
        strategy.query(Xp, y_partial[:-1], clf)
    y_two = y_partial.copy()
    y_two[:-2] = 1.0
    with pytest.warns(UserWarning, match="exceeds the 2 unlabelled"):
        picks = strategy.query(Xp, y_two, clf, batch_size=5)
    assert sorted(picks) == [len(Xp) - 2, len(Xp) - 1]


def test_coreset_needs_transform(pool):
    Xp, yp, y_partial, _, _, _ = pool
    clf = LogisticRegression(max_iter=200).fit(Xp[:40], yp[:40])
    with pytest.raises(TypeError, match="transform"):
        MMDCoreSetSampling().query(Xp, y_partial, clf)


def test_missing_label_markers():
    assert_array_equal(is_unlabeled(np.array([1.0, np.nan])), [False, True])
    obj = np.array(["a", None, np.nan, "b"], dtype=object)
    assert_array_equal(is_unlabeled(obj), [False, False, True, False])
    assert_array_equal(is_unlabeled(obj, None), [False, True, False, False])
    assert_array_equal(is_unlabeled(np.array(["a", "", "b"]), ""), [0, 1, 0])
    assert_array_equal(is_unlabeled(np.array([3, -1]), -1), [False, True])
    assert not is_unlabeled(np.array([1, 2])).any()  # ints cannot hold NaN


def test_string_labels(pool):
    Xp, yp, _, _, _, _ = pool
    names = np.array(["six", "seven", "eight", "nine"])[yp - 6]
    clf = LogisticRegression(max_iter=200).fit(Xp[:40], names[:40])
    y_obj = names.astype(object)
    y_obj[40:] = None
    y_str = names.copy()
    y_str[40:] = ""
    a = EntropySampling(missing_label=None).query(Xp, y_obj, clf, batch_size=3)
    b = EntropySampling(missing_label="").query(Xp, y_str, clf, batch_size=3)
    assert_array_equal(a, b)
    assert np.all(a >= 40)
    with pytest.raises(ValueError, match="missing_label=None or ''"):
        EntropySampling().query(Xp, y_str, clf)


# -- entropy and random ----------------------------------------------------------------
class TableClassifier(ClassifierMixin, BaseEstimator):
    """Predicts row ``int(x[0])`` of a fixed probability table."""

    def __init__(self, table):
        self.table = table

    def fit(self, X, y):
        self.classes_ = np.arange(np.shape(self.table)[1])
        return self

    def predict_proba(self, X):
        return np.asarray(self.table)[np.asarray(X)[:, 0].astype(int)]


def test_entropy_picks_the_most_uncertain_with_index_tie_break():
    table = np.array(
        [
            [1.0, 0.0, 0.0],  # 0: certain (labelled)
            [0.9, 0.05, 0.05],
            [1 / 3, 1 / 3, 1 / 3],  # 2: maximal entropy
            [0.5, 0.5, 0.0],
            [1 / 3, 1 / 3, 1 / 3],  # 4: tie with 2
            [0.5, 0.5, 0.0],  # 5: tie with 3
            [1 / 3, 1 / 3, 1 / 3],  # 6: maximal, but labelled
        ]
    )
    X = np.arange(7.0)[:, None]
    y = np.array([0, np.nan, np.nan, np.nan, np.nan, np.nan, 2])
    clf = TableClassifier(table).fit(X, y)
    picks, util = EntropySampling().query(
        X, y, clf, batch_size=5, return_utilities=True
    )
    assert_array_equal(picks, [2, 4, 3, 5, 1])
    assert util[0, 2] == pytest.approx(np.log(3))


def test_random_sampling_is_reproducible_and_uniform():
    X = np.zeros((50, 1))
    y = np.full(50, np.nan)
    clf = TableClassifier(np.ones((1, 2)) / 2).fit(X, y)
    a = RandomSampling(random_state=3)
    b = RandomSampling(random_state=3)
    first = [a.query(X, y, clf, batch_size=5) for _ in range(3)]
    second = [b.query(X, y, clf, batch_size=5) for _ in range(3)]
    assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])  # the stream advances
    counts = np.bincount(
        np.concatenate([a.query(X, y, clf, batch_size=10) for _ in range(400)]),
        minlength=50,
    )
    assert counts.min() > 40 and counts.max() < 125  # expected 80 each


# -- AIFT ------------------------------------------------------------------------------
# The seven 11-patch patterns of Table 1 (official demo active_select_demo.m).
PATTERNS = {
    "A": [0.4, 0.4, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.6],
    "B": [0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.6, 0.7, 0.8, 1.0, 1.0],
    "C": [0.0, 0.0, 0.0, 0.1, 0.1, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0],
    "D": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 0.9],
    "E": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1],
    "F": [0.0, 0.0, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3, 0.9, 1.0],
    "G": [0.0, 0.1, 0.7, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9, 1.0, 1.0],
}
# Columns: Ent, Ent^1/4, Div, Div^1/4, (E+D), (E+D)^1/4.
TABLE_1 = {
    "A": [7.52, 2.02, 4.38, 0.00, 11.90, 2.02],
    "B": [4.57, 0.83, 1237.21, 20.79, 1241.77, 21.62],
    "C": [1.30, 0.00, 2816.66, 0.00, 2817.96, 0.00],
    "D": [1.30, 0.00, 189.54, 0.00, 190.84, 0.00],
    "E": [1.30, 0.00, 189.54, 0.00, 190.84, 0.00],
    "F": [3.24, 0.33, 1076.87, 13.54, 1080.11, 13.86],
    "G": [3.24, 0.33, 1076.87, 13.54, 1080.11, 13.86],
}
# (lambda_entropy, lambda_diversity, alpha) of each column.
TABLE_1_COLUMNS = [
    (1, 0, 1),
    (1, 0, 0.25),
    (0, 1, 1),
    (0, 1, 0.25),
    (1, 1, 1),
    (1, 1, 0.25),
]


def test_aift_reproduces_table_1():
    p = np.array(list(PATTERNS.values()))
    P = np.stack([1 - p, p], axis=-1)  # column 1 = the demo's probability
    table = np.column_stack(
        [aift_scores(P, alpha, l1, l2) for l1, l2, alpha in TABLE_1_COLUMNS]
    )
    assert_array_equal(np.round(table, 2) + 0.0, np.array(list(TABLE_1.values())))


def test_majority_selection_rules():
    assert_array_equal(matlab_round([0.5, 1.5, 2.5, 2.75, -0.5]), [1, 2, 3, 3, -1])
    # Pattern B has mean exactly 0.5: the paper keeps the *bottom* patches.
    p = np.array(PATTERNS["B"])
    kept = majority_selection(np.stack([1 - p, p], -1)[None], 0.25)[0, :, 1]
    assert_allclose(kept, [0.0, 0.1, 0.2])
    # Our multiclass rule reduces to the binary one: with a third class of
    # probability 0, the patches kept are the same.
    rng = np.random.RandomState(0)
    q = rng.rand(50, 11)
    P2 = np.stack([1 - q, q], -1)
    P3 = np.concatenate([P2, np.zeros((50, 11, 1))], axis=-1)
    assert_allclose(majority_selection(P3, 0.25)[..., :2], majority_selection(P2, 0.25))
    # Multiclass: the dominant class is the arg-max of the mean prediction.
    P = np.array([[[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.2, 0.1, 0.7]]])
    assert_allclose(majority_selection(P, 0.34)[0], [[0.1, 0.2, 0.7]])


def test_aift_scores_are_sums_of_the_R_matrix():
    rng = np.random.RandomState(1)
    P = rng.dirichlet(np.ones(4), size=(3, 5))
    scores = aift_scores(P, alpha=1.0, lambda_entropy=0.3, lambda_diversity=2.0)
    eps = np.finfo(float).eps
    for i in range(3):
        R = np.empty((5, 5))
        for j, k in itertools.product(range(5), repeat=2):
            pj, pk = P[i, j], P[i, k]
            R[j, k] = (
                -0.3 * np.sum(pj * np.log(pj + eps))
                if j == k
                else 2.0 * np.sum((pj - pk) * np.log((pj + eps) / (pk + eps)))
            )
        assert scores[i] == pytest.approx(R.sum(), rel=1e-12)


def test_random_shift_augment():
    rng = np.random.RandomState(0)
    X = np.zeros((3, 64), dtype=np.float32)
    X[:, 27] = 1.0  # one pixel at (3, 3), away from the borders
    patches = random_shift_augment(X, 20, rng)
    assert patches.shape == (3, 20, 64) and patches.dtype == np.float32
    # Every copy moves the pixel by at most 2 rows and 2 columns.
    where = np.argmax(patches, axis=2)
    assert np.all(patches.sum(axis=2) == 1)
    assert np.all(np.abs(where // 8 - 3) <= 2) and np.all(np.abs(where % 8 - 3) <= 2)
    assert len(np.unique(where)) > 5
    again = random_shift_augment(X, 20, np.random.RandomState(0))
    assert_array_equal(patches, again)
    with pytest.raises(ValueError, match="pass augment"):
        random_shift_augment(np.zeros((2, 10)), 3, rng)


class SoftmaxClassifier(ClassifierMixin, BaseEstimator):
    """Softmax of a fixed linear map (a smooth, deterministic classifier)."""

    def __init__(self, W):
        self.W = W

    def fit(self, X, y):
        self.classes_ = np.arange(np.shape(self.W)[1])
        return self

    def predict_proba(self, X):
        Z = np.asarray(X) @ self.W
        Z = np.exp(Z - Z.max(axis=1, keepdims=True))
        return Z / Z.sum(axis=1, keepdims=True)


def test_aift_query_scores_the_augmented_patches():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4))
    y = np.full(30, np.nan)
    y[:5] = 0
    clf = SoftmaxClassifier(rng.normal(size=(4, 3))).fit(X, y)

    def jitter(Xc, m, gen):
        return Xc[:, None, :] + 0.5 * gen.normal(size=(len(Xc), m, Xc.shape[1]))

    strategy = AIFTSampling(n_augment=6, augment=jitter, random_state=7)
    picks, util = strategy.query(X, y, clf, batch_size=4, return_utilities=True)
    patches = jitter(X[5:], 6, np.random.RandomState(7))
    P = clf.predict_proba(patches.reshape(-1, 4)).reshape(25, 6, 3)
    expected = aift_scores(P, 0.25, 1.0, 1.0)
    assert_allclose(util[0, 5:], expected)
    assert_array_equal(picks, 5 + np.argsort(-expected, kind="stable")[:4])
    bad = AIFTSampling(augment=lambda Xc, m, gen: Xc)
    with pytest.raises(ValueError, match="augment returned"):
        bad.query(X, y, clf)


# -- MMD drop and k-center -------------------------------------------------------------
@pytest.mark.parametrize("n_kernels", [1, 3])
def test_leave_one_out_mmd_matches_brute_force(n_kernels):
    rng = np.random.RandomState(0)
    S, T = rng.normal(size=(13, 3)), rng.normal(size=(11, 3)) + 0.5
    gammas = kernel_bandwidths(base_bandwidth(np.vstack([S, T])), n_kernels)
    full, loo = mmd2_leave_one_out(S, T, gammas, chunk_size=4)
    assert full == pytest.approx(mmd2_biased(S, T, gammas), abs=1e-14)
    brute = [mmd2_biased(S, np.delete(T, i, axis=0), gammas) for i in range(len(T))]
    assert_allclose(loo, brute, rtol=0, atol=1e-14)


def test_greedy_mmd_removal_matches_brute_force():
    rng = np.random.RandomState(1)
    S, T = (
        rng.normal(size=(15, 2)),
        np.vstack([rng.normal(size=(8, 2)), rng.normal(size=(6, 2)) + 2.0]),
    )
    gammas = kernel_bandwidths(base_bandwidth(np.vstack([S, T])), 3)
    picks, gains = greedy_mmd_removal(S, T, 6, gammas)
    remaining = list(range(len(T)))
    for step in range(6):
        current = mmd2_biased(S, T[remaining], gammas)
        after = [
            mmd2_biased(S, T[[r for r in remaining if r != i]], gammas)
            for i in remaining
        ]
        best = int(np.argmin(after))
        assert picks[step] == remaining[best]
        assert gains[step] == pytest.approx(current - after[best], abs=1e-12)
        remaining.pop(best)
    # The shifted cluster is what makes T differ from S: it goes first.
    assert set(picks[:4]) <= set(range(8, 14))


def k_center_reference(candidates, n_picks, centers, first=0):
    """Brute force: recompute every candidate-to-centre distance each step."""
    chosen = []
    for _ in range(n_picks):
        pts = np.vstack([centers, candidates[chosen]])
        if len(pts) == 0:
            chosen.append(first)
            continue
        D = np.sqrt(((candidates[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
        d = D.min(axis=1)
        d[chosen] = -1
        chosen.append(int(np.argmax(d)))
    return np.array(chosen)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_centers", [0, 1, 6])
def test_k_center_kernel_matches_numpy_reference(dtype, n_centers):
    rng = np.random.RandomState(n_centers)
    cand = rng.normal(size=(80, 5)).astype(dtype)
    centers = rng.normal(size=(n_centers, 5)).astype(dtype)
    picks, dist, trace = k_center_greedy(cand, 12, centers, first=5)
    assert_array_equal(picks, k_center_reference(cand, 12, centers, first=5))
    pts = np.vstack([centers, cand[picks]]).astype(np.float64)
    expected = np.sqrt(((cand[:, None, :] - pts[None]) ** 2).sum(-1)).min(axis=1)
    assert_allclose(dist, expected, rtol=1e-5)
    assert np.all(np.isnan(trace[1:, picks[0]]))


@pytest.mark.parametrize("seed", range(8))
def test_k_center_radius_is_within_twice_the_optimum(seed):
    rng = np.random.RandomState(seed)
    pts = rng.normal(size=(11, 2)) * rng.uniform(0.2, 3, size=(1, 2))
    fixed = rng.normal(size=(seed % 2, 2))  # with and without labelled centres
    k = 3
    _, dist, _ = k_center_greedy(pts, k, fixed, first=int(rng.randint(11)))
    greedy_radius = dist.max()

    def radius(subset):
        c = np.vstack([fixed, pts[list(subset)]])
        return np.sqrt(((pts[:, None] - c[None]) ** 2).sum(-1)).min(axis=1).max()

    optimum = min(radius(s) for s in itertools.combinations(range(11), k))
    assert optimum <= greedy_radius <= 2 * optimum + 1e-12


def test_mmd_coreset_combines_its_two_criteria(digits, pool):
    X, y = digits
    Xp, _, y_partial, clf, _, _ = pool
    Xs = X[y < 6][:200]  # fewer than n_source_samples: no subsampling
    E = clf.transform(Xp).astype(np.float64)
    Hs = clf.transform(Xs).astype(np.float64)
    labeled, unlabeled = np.arange(40), np.arange(40, len(Xp))
    Ht = E[unlabeled]
    gammas = kernel_bandwidths(base_bandwidth(np.vstack([Hs, Ht]), "mean"), 1)
    mmd_picks, _ = greedy_mmd_removal(Hs, Ht, 5, gammas)
    kc_picks, _, _ = k_center_greedy(Ht, 5, E[labeled])

    def query(**kw):
        strategy = MMDCoreSetSampling(bandwidth="mean", **kw)
        return strategy.query(Xp, y_partial, clf, batch_size=5)

    # weight=1: pure MMD drop; weight=0: pure k-center; no source: k-center.
    assert_array_equal(
        query(X_source=Xs, combine="weighted", weight=1.0), 40 + mmd_picks
    )
    assert_array_equal(
        query(X_source=Xs, combine="weighted", weight=0.0), 40 + kc_picks
    )
    assert_array_equal(query(), 40 + kc_picks)
    # Two stages: k-center over the 3 x 5 largest greedy MMD drops.
    shortlist, _ = greedy_mmd_removal(Hs, Ht, 15, gammas)
    sub, _, _ = k_center_greedy(Ht[shortlist], 5, E[labeled])
    assert_array_equal(query(X_source=Xs), 40 + shortlist[sub])
    mixed = query(X_source=Xs, combine="weighted", weight=0.5)
    assert len(set(mixed)) == 5


def test_mmd_coreset_accepts_source_data_and_subsamples(digits, pool):
    from skalltransfer import SourceData

    X, y = digits
    Xp, _, y_partial, clf, _, _ = pool
    data = SourceData(X[y < 6], y[y < 6])
    a = MMDCoreSetSampling(data, n_source_samples=100, random_state=0)
    b = MMDCoreSetSampling(data, n_source_samples=100, random_state=0)
    assert_array_equal(
        a.query(Xp, y_partial, clf, batch_size=4),
        b.query(Xp, y_partial, clf, batch_size=4),
    )
    assert clone(a).X_source is data


# -- the learner -----------------------------------------------------------------------
def transfer_learner(source, strategy, **kw):
    clf = AllTransferClassifier(source, max_iter=10, random_state=0)
    kw = {"batch_size": 10, "n_rounds": 4, "random_state": 0, **kw}
    return ActiveTransferLearner(clf, strategy, **kw)


@pytest.mark.parametrize(
    "strategy",
    [EntropySampling(), AIFTSampling(), MMDCoreSetSampling()],
    ids=["entropy", "aift", "coreset"],
)
def test_learner_end_to_end_with_all_transfer(source, pool, strategy):
    Xp, yp, _, _, X_test, y_test = pool
    y_none = np.full(len(Xp), np.nan)
    inputs = [a.copy() for a in (Xp, yp, y_none)]
    learner = transfer_learner(source, strategy)
    learner.fit(Xp, y_none, oracle=yp, X_val=X_test, y_val=y_test)
    for a, b in zip((Xp, yp, y_none), inputs):
        assert_array_equal(a, b)
    h = learner.history_
    assert h["round"] == [0, 1, 2, 3, 4]
    assert h["n_labels"] == [10, 20, 30, 40, 50]
    assert len(set(learner.labeled_indices_)) == 50 == learner.n_rounds_ * 10 + 10
    assert learner.query_indices_.size == 0
    assert h["score"][-1] > h["score"][0]
    assert h["score"][-1] == pytest.approx(learner.score(X_test, y_test))
    assert learner.predict_proba(X_test).shape == (len(X_test), 4)
    assert learner.transform(X_test).shape == (len(X_test), 16)
    assert_array_equal(learner.classes_, [6, 7, 8, 9])


def test_learner_is_reproducible(source, pool):
    Xp, yp, _, _, X_test, y_test = pool
    y_none = np.full(len(Xp), np.nan)
    runs = [
        transfer_learner(source, AIFTSampling(), n_rounds=2).fit(
            Xp, y_none, oracle=yp, X_val=X_test, y_val=y_test
        )
        for _ in range(2)
    ]
    assert_array_equal(runs[0].labeled_indices_, runs[1].labeled_indices_)
    assert runs[0].history_["score"] == runs[1].history_["score"]
    other = transfer_learner(source, AIFTSampling(), n_rounds=2, random_state=1)
    other.fit(Xp, y_none, oracle=yp)
    assert not np.array_equal(other.labeled_indices_, runs[0].labeled_indices_)


def test_continual_retraining_warm_starts(source, pool):
    Xp, yp, y_partial, _, _, _ = pool
    sae = StackedAutoencoderClassifier(
        (16,), pretrain_max_iter=1, max_iter=5, n_iter_no_change=100, random_state=0
    )
    # 40 labels of all four classes to start: no new class ever appears.
    kw = dict(batch_size=10, n_rounds=3, random_state=0)
    cont = ActiveTransferLearner(sae, EntropySampling(), **kw).fit(
        Xp, y_partial, oracle=yp
    )
    assert cont.estimator_.warm_start
    assert len(cont.estimator_.loss_curve_) == 4 * 5  # one curve over 4 fits
    assert sae.warm_start is False and not hasattr(sae, "coefs_")
    scratch = ActiveTransferLearner(
        sae, EntropySampling(), retrain="from_scratch", **kw
    ).fit(Xp, y_partial, oracle=yp)
    assert not scratch.estimator_.warm_start
    assert len(scratch.estimator_.loss_curve_) == 5
    # AllTransferClassifier continues the same fine-tuned network.
    transfer = AllTransferClassifier(
        source, max_iter=4, n_iter_no_change=100, random_state=0
    )
    cont = ActiveTransferLearner(transfer, EntropySampling(), **kw).fit(
        Xp, y_partial, oracle=yp
    )
    assert cont.estimator_.warm_start
    assert len(cont.estimator_.loss_curve_) == 4 * 4
    # Estimators without warm_start are refitted; new classes get a fresh clone.
    ActiveTransferLearner(
        LogisticRegression(max_iter=100), EntropySampling(), **kw
    ).fit(Xp, y_partial, oracle=yp)
    two_classes = np.where(np.isin(yp, [6, 7]), yp, np.nan).astype(float)
    two_classes[40:] = np.nan
    learner = ActiveTransferLearner(
        sae, RandomSampling(), batch_size=30, n_rounds=2, random_state=0
    )
    learner.fit(Xp, two_classes, oracle=yp)
    assert len(learner.classes_) == 4


def test_learner_without_oracle_proposes_the_next_batch(source, pool):
    Xp, yp, y_partial, _, _, _ = pool
    learner = transfer_learner(source, EntropySampling(), batch_size=6)
    learner.fit(Xp, y_partial)
    assert_array_equal(learner.labeled_indices_, np.arange(40))
    assert learner.query_indices_.shape == (6,)
    assert np.all(learner.query_indices_ >= 40)
    assert learner.history_["n_labels"] == [40]
    assert np.isnan(learner.history_["score"][0])
    # The same proposal as asking the strategy directly about the fitted model.
    direct = EntropySampling().query(Xp, y_partial, learner.estimator_, 6)
    assert_array_equal(learner.query_indices_, direct)
    with pytest.raises(ValueError, match="no labelled sample"):
        learner.fit(Xp, np.full(len(Xp), np.nan))


def test_learner_string_labels_and_callable_oracle(pool):
    Xp, yp, _, _, _, _ = pool
    names = np.array(["six", "seven", "eight", "nine"])[yp - 6]
    calls = []

    def annotator(indices):
        calls.append(len(indices))
        return names[indices]

    y_obj = np.full(len(Xp), None, dtype=object)
    learner = ActiveTransferLearner(
        LogisticRegression(max_iter=200),
        EntropySampling(),
        batch_size=8,
        n_rounds=2,
        missing_label=None,
        random_state=0,
    ).fit(Xp, y_obj, oracle=annotator)
    assert set(learner.classes_) <= set(names)
    assert sum(calls) == len(learner.labeled_indices_) == 24
    assert all(v is None for v in y_obj)


def test_learner_errors(pool):
    Xp, yp, y_partial, _, _, _ = pool
    learner = ActiveTransferLearner(LogisticRegression(), EntropySampling())
    with pytest.raises(ValueError, match="one label per sample"):
        learner.fit(Xp, y_partial, oracle=yp[:-1])
    with pytest.raises(ValueError, match="both X_val and y_val"):
        learner.fit(Xp, y_partial, X_val=Xp)
    with pytest.raises(ValueError, match="needs an oracle"):
        ActiveTransferLearner(
            LogisticRegression(), EntropySampling(), initial_size=5
        ).fit(Xp, y_partial)
    one_class = np.full(len(Xp), np.nan)
    one_class[0] = yp[0]
    with pytest.raises(ValueError, match="only one class"):
        learner.fit(Xp, one_class)


@parametrize_with_checks(
    [ActiveTransferLearner(LogisticRegression(), EntropySampling(), random_state=0)]
)
def test_learner_passes_scikit_learn_checks(estimator, check):
    # Fully labelled y (the checks' data): a plain classifier, no queries.
    check(estimator)
