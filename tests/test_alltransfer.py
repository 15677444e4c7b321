"""AllTransferClassifier: relation, selection, whole-layer fine-tuning, and the
scikit-learn semantics of a meta-estimator holding a pretrained source."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skalltransfer import (
    AllTransferClassifier,
    DirectTransferClassifier,
    MPDBMClassifier,
    SourceData,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
    prefit_sources,
)
from skalltransfer._core._families._mpdbm import visible_bias_from_marginals
from skalltransfer._kernels._mean_field import mean_field_labels
from skalltransfer._source_cache._cached_fit import forget_in_process_sources


class CountingSAE(StackedAutoencoderClassifier):
    """Counts its fits, to prove that sources are not refitted."""

    n_fits = 0

    def fit(self, X, y):
        type(self).n_fits += 1
        return super().fit(X, y)


class CountingMPDBM(MPDBMClassifier):
    n_fits = 0

    def fit(self, X, y):
        type(self).n_fits += 1
        return super().fit(X, y)


SAE_KW = dict(
    hidden_layer_sizes=(24, 16), pretrain_max_iter=2, max_iter=15, random_state=0
)
FAST = dict(max_iter=8, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def source_and_target(digits):
    """Source: digits 0-5 (6 output units). Target: digits 6-9 relabelled."""
    X, y = digits
    src_mask = y < 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source = StackedAutoencoderClassifier(**SAE_KW).fit(X[src_mask], y[src_mask])
    names = np.array(["six", "seven", "eight", "nine"])
    Xt, yt = X[~src_mask], names[y[~src_mask] - 6]
    return source, X[src_mask], y[src_mask], Xt, yt


def fingerprint(estimator):
    """Hash of everything in an estimator: parameters and fitted arrays."""
    return joblib.hash(estimator.__dict__)


def test_fit_leaves_the_source_bit_for_bit_unchanged(source_and_target):
    source, _, _, Xt, yt = source_and_target
    before = fingerprint(source)
    arrays = [W.copy() for W in source.coefs_]
    clf = AllTransferClassifier(source, **FAST).fit(Xt[:80], yt[:80])
    assert fingerprint(source) == before
    for W, W0 in zip(source.coefs_, arrays):
        assert_array_equal(W, W0)
    assert clf.source_ is source
    assert clf.coefs_[0] is not source.coefs_[0]
    assert not np.array_equal(clf.coefs_[0], source.coefs_[0])  # all layers tuned


def test_relation_and_selected_units(source_and_target):
    source, _, _, Xt, yt = source_and_target
    clf = AllTransferClassifier(source, **FAST).fit(Xt, yt)
    assert clf.relation_.shape == (4, 6)
    assert_allclose(clf.relation_.sum(axis=1), 1)
    assert_array_equal(clf.classes_, ["eight", "nine", "seven", "six"])
    assert len(set(clf.selected_units_)) == 4
    # The relation is the histogram of the source's arg-max output per class.
    top = source.predict_proba(Xt).argmax(axis=1)
    codes = np.searchsorted(clf.classes_, yt)
    for c in range(4):
        hist = np.bincount(top[codes == c], minlength=6) / np.sum(codes == c)
        assert_allclose(clf.relation_[c], hist)
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 4)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.decision_function(Xt).shape == (len(Xt), 4)
    assert clf.transform(Xt).shape == (len(Xt), 16)
    assert set(clf.predict(Xt)) <= set(yt)


def test_learns_the_target_task(source_and_target):
    source, _, _, Xt, yt = source_and_target
    rng = np.random.RandomState(0)
    order = rng.permutation(len(Xt))
    train, test = order[:300], order[300:]
    clf = AllTransferClassifier(source, max_iter=60, random_state=0)
    clf.fit(Xt[train], yt[train])
    assert clf.score(Xt[test], yt[test]) > 0.9


@pytest.mark.parametrize(
    "T, sizes",
    [
        (0, [64, 24, 16, 4]),
        (1, [64, 24, 16, 4]),
        (2, [64, 24, 16, 4]),
        ("all", [64, 24, 16, 6]),
    ],
)
def test_number_of_transferred_layers(source_and_target, T, sizes):
    source, _, _, Xt, yt = source_and_target
    clf = AllTransferClassifier(
        source, n_transferred_layers=T, output_scale=1.0, max_iter=0, random_state=0
    ).fit(Xt, yt)
    assert clf.network_.layer_sizes == sizes
    n_kept = 3 if T == "all" else T
    assert clf.n_transferred_layers_ == n_kept
    # max_iter=0: transferred layers are exact copies, the others are new.
    for k in range(3):
        same = np.array_equal(clf.coefs_[k], source.coefs_[k])
        assert same == (k < n_kept)


def test_extra_hidden_layer(source_and_target):
    source, _, _, Xt, yt = source_and_target
    clf = AllTransferClassifier(
        source, n_transferred_layers=2, extra_hidden_layer=12, **FAST
    ).fit(Xt, yt)
    assert clf.network_.layer_sizes == [64, 24, 16, 12, 4]
    with pytest.raises(ValueError, match="n_transferred_layers < n_layers"):
        AllTransferClassifier(source, extra_hidden_layer=12).fit(Xt, yt)
    with pytest.raises(ValueError, match="exceeds"):
        AllTransferClassifier(source, n_transferred_layers=5).fit(Xt, yt)


def test_selection_methods(source_and_target):
    source, _, _, Xt, yt = source_and_target
    fits = {
        s: AllTransferClassifier(source, selection=s, max_iter=0, random_state=0).fit(
            Xt, yt
        )
        for s in ("peak", "assignment", "random")
    }
    R = fits["assignment"].relation_
    best = max(
        R[np.arange(4), list(p)].sum()
        for p in __import__("itertools").permutations(range(6), 4)
    )
    assert R[np.arange(4), fits["assignment"].selected_units_].sum() == pytest.approx(
        best
    )
    for clf in fits.values():
        assert len(set(clf.selected_units_)) == 4
    mapping = {"six": 0, "seven": 1, "eight": 2, "nine": 3}
    clf = AllTransferClassifier(source, selection=mapping, max_iter=0).fit(Xt, yt)
    assert_array_equal(clf.selected_units_, [2, 3, 1, 0])  # classes_ order
    with pytest.raises(ValueError, match="distinct"):
        AllTransferClassifier(source, selection=[0, 0, 1, 2]).fit(Xt, yt)
    with pytest.raises(ValueError, match="no unit for target class"):
        AllTransferClassifier(source, selection={"six": 0}).fit(Xt, yt)


def test_a_selection_naming_unknown_classes_is_an_error(source_and_target):
    source, _, _, Xt, yt = source_and_target
    mapping = {"six": 0, "seven": 1, "eight": 2, "nine": 3, "ten": 4}
    with pytest.raises(ValueError, match=r"names class\(es\) \['ten'\]"):
        AllTransferClassifier(source, selection=mapping, max_iter=0).fit(Xt, yt)


@pytest.mark.parametrize(
    "settings", [dict(n_transferred_layers=1), dict(relation="mean")]
)
def test_an_unused_explicit_selection_warns_and_is_not_validated(
    source_and_target, settings
):
    source, _, _, Xt, yt = source_and_target
    # Invalid if it were used (a unit twice), but it is not used.
    bad = [0, 0, 1, 2]
    with pytest.warns(UserWarning, match="explicit selection is unused"):
        clf = AllTransferClassifier(
            source, selection=bad, max_iter=0, random_state=0, **settings
        ).fit(Xt, yt)
    reference = AllTransferClassifier(
        source, max_iter=0, random_state=0, **settings
    ).fit(Xt, yt)
    assert_array_equal(clf.selected_units_, reference.selected_units_)
    assert_array_equal(clf.predict_proba(Xt), reference.predict_proba(Xt))


@pytest.mark.parametrize(
    "make",
    [
        lambda s, d: AllTransferClassifier(s, source_data=d),
        lambda s, d: TruncatedTransferClassifier(s, truncation=1, source_data=d),
        lambda s, d: SourceFeatures(s, source_data=d),
        lambda s, d: DirectTransferClassifier(s, source_data=d),
        lambda s, d: AllTransferClassifier(
            StackedAutoencoderClassifier(random_state=0), source_data=d
        ),
    ],
)
def test_source_data_as_a_tuple_gets_one_message_everywhere(source_and_target, make):
    source, Xs, ys, Xt, yt = source_and_target
    est = make(source, (Xs, ys))
    with pytest.raises(TypeError) as excinfo:
        est.fit(Xt[yt != "nine"], yt[yt != "nine"])
    message = str(excinfo.value)
    assert message == (
        "source_data must be a skalltransfer.SourceData(X, y) handle, got a tuple "
        "of 2 (ndarray, ndarray). Wrap the arrays: "
        "source_data=SourceData(X_source, y_source)."
    )
    with pytest.raises(TypeError, match="Wrap the arrays"):
        prefit_sources(make(StackedAutoencoderClassifier(random_state=0), (Xs, ys)))


def test_too_many_target_classes_suggests_partial_transfer(digits):
    X, y = digits
    source = StackedAutoencoderClassifier(**SAE_KW).fit(X[y < 3], y[y < 3])
    with pytest.raises(ValueError, match="n_transferred_layers < n_layers"):
        AllTransferClassifier(source).fit(X, y)
    # A new output layer handles any number of classes.
    AllTransferClassifier(source, n_transferred_layers=2, **FAST).fit(X, y)


def test_mean_relation(source_and_target):
    source, _, _, Xt, yt = source_and_target
    clf = AllTransferClassifier(
        source, relation="mean", max_iter=40, random_state=0
    ).fit(Xt, yt)
    assert_allclose(clf.relation_.sum(axis=1), 1)
    outputs = source.predict_proba(Xt)
    codes = np.searchsorted(clf.classes_, yt)
    assert_allclose(clf.relation_[1], outputs[codes == 1].mean(axis=0), rtol=1e-5)
    # Prediction is the nearest relation vector to the network's output.
    out = clf.network_.output_proba(Xt)
    d2 = ((out[:, None, :] - clf.relation_[None]) ** 2).sum(axis=2)
    assert_array_equal(clf.predict(Xt), clf.classes_[d2.argmin(axis=1)])
    assert clf.score(Xt, yt) > 0.8


def test_mpdbm_source_is_finetuned_through_its_own_family(digits, monkeypatch):
    from skalltransfer._core._families import FEEDFORWARD, MPDBM

    X, y = digits
    # Multi-prediction fine-tuning needs a multi-prediction-only source.
    source = MPDBMClassifier(
        (24, 16),
        n_mean_field_iter=4,
        max_iter=5,
        learning_rate_init=5,
        discriminative_max_iter=0,
        random_state=0,
    )
    source.fit(X[y < 6], y[y < 6])
    Xt, yt = X[y >= 6], y[y >= 6]
    # Record which family's objective each fine-tuning trains with.
    calls = []
    for family in (FEEDFORWARD, MPDBM):
        original = type(family).objective

        def spy(self, stack, *args, _original=original, **kwargs):
            calls.append((self.name, stack.family.name, stack.config["objective"]))
            return _original(self, stack, *args, **kwargs)

        monkeypatch.setattr(type(family), "objective", spy)
    for objective in ("discriminative", "multi_prediction"):
        for T in ("all", 2, 0):
            calls.clear()
            clf = AllTransferClassifier(
                source,
                n_transferred_layers=T,
                finetune_objective=None if objective == "discriminative" else objective,
                max_iter=3,
                random_state=0,
            ).fit(Xt, yt)
            assert calls == [("mpdbm", "mpdbm", objective)]
            assert clf.network_.family == "mpdbm"
            assert clf.predict_proba(Xt).shape == (len(Xt), 4)
            # The multi-prediction objective reconstructs the pixels, so it
            # trains the visible bias; discriminative fine-tuning runs plain
            # mean field (pixels clamped), which never reads it.
            start = (
                visible_bias_from_marginals(Xt) if T == 0 else source.visible_intercept_
            )
            moved = not np.allclose(clf.network_.visible_intercept, start)
            assert moved == (objective == "multi_prediction")
            if T == "all":
                # A silenced output layer would starve the mean-field net.
                assert clf.output_scale_ == 1.0
        # The source is never touched, whatever the objective.
        assert source.get_params()["multi_inference"]
    # Fine-tuned for longer, the transfer learns the target task with either
    # objective.
    for objective, least in (("multi_prediction", 0.6), ("discriminative", 0.95)):
        clf = AllTransferClassifier(
            source, finetune_objective=objective, max_iter=30, random_state=0
        ).fit(Xt, yt)
        assert np.mean(clf.loss_curve_[-5:]) < np.mean(clf.loss_curve_[:5])
        assert clf.score(Xt, yt) > least


def test_discriminative_finetuning_runs_and_predicts_through_plain_mean_field(
    digits,
):
    X, y = digits
    source = MPDBMClassifier(
        (24, 16),
        n_mean_field_iter=4,
        max_iter=5,
        discriminative_max_iter=0,
        random_state=0,
    ).fit(X[y < 6], y[y < 6])
    clf = AllTransferClassifier(source, max_iter=3, random_state=0)
    clf.fit(X[y >= 6], y[y >= 6])
    config = clf.network_.config
    assert config["objective"] == "discriminative"
    assert config["multi_inference"] is False
    assert config["n_mean_field_iter"] == 1  # at most FINETUNE_MEAN_FIELD_ITER
    # What it was trained through is what predicts.
    proba, _ = mean_field_labels(
        clf.network_.coefs,
        clf.network_.intercepts,
        clf.network_.visible_intercept,
        X[y >= 6],
        1,
    )
    assert_allclose(clf.network_.output_proba(X[y >= 6]), proba)
    assert_array_equal(clf.network_.visible_intercept, source.visible_intercept_)
    assert not np.allclose(clf.network_.coefs[0], source.coefs_[0])
    # The source keeps its own settings.
    assert source.get_params()["n_mean_field_iter"] == 4
    clf_mp = AllTransferClassifier(
        source, finetune_objective="multi_prediction", max_iter=1, random_state=0
    ).fit(X[y >= 6], y[y >= 6])
    assert clf_mp.network_.config["n_mean_field_iter"] == 4
    assert clf_mp.network_.config["multi_inference"] is True


def test_finetune_objective_is_checked_by_the_source_family(digits):
    X, y = digits
    sae = StackedAutoencoderClassifier(
        (12,), pretrain_max_iter=1, max_iter=2, random_state=0
    ).fit(X[y < 6], y[y < 6])
    clf = AllTransferClassifier(sae, finetune_objective="multi_prediction")
    with pytest.raises(ValueError, match="not available for a 'feedforward'"):
        clf.fit(X[y >= 6], y[y >= 6])
    clf.set_params(finetune_objective="discriminative", max_iter=2).fit(
        X[y >= 6], y[y >= 6]
    )
    with pytest.raises(ValueError, match="finetune_objective"):
        AllTransferClassifier(sae, finetune_objective="contrastive").fit(
            X[y >= 6], y[y >= 6]
        )


def test_mlp_source_and_its_activation(digits):
    X, y = digits
    mlp = MLPClassifier((20,), activation="relu", max_iter=30, random_state=0)
    mlp.fit(X[y < 6], y[y < 6])
    clf = AllTransferClassifier(mlp, **FAST).fit(X[y >= 6], y[y >= 6])
    assert clf.network_.hidden_activation == "relu"
    assert clf.score(X[y >= 6], y[y >= 6]) > 0.5


# -- scikit-learn semantics -------------------------------------------------------
def test_cross_val_score_never_refits_or_changes_the_source(source_and_target):
    _, Xs, ys, Xt, yt = source_and_target
    CountingSAE.n_fits = 0
    source = CountingSAE(**SAE_KW).fit(Xs, ys)
    assert CountingSAE.n_fits == 1
    before = fingerprint(source)
    all_scores = []
    for src in (source, FrozenEstimator(source)):
        scores = cross_val_score(AllTransferClassifier(src, **FAST), Xt, yt, cv=5)
        # 4 classes: chance is 0.25; 8 epochs of transfer reach 0.73-0.88.
        assert scores.shape == (5,) and np.all(scores > 0.6)
        assert scores.mean() > 0.7
        all_scores.append(scores)
    assert_array_equal(*all_scores)  # the same source either way
    assert CountingSAE.n_fits == 1
    assert fingerprint(source) == before


def test_grid_search_over_T_and_selection_never_refits(source_and_target):
    _, Xs, ys, Xt, yt = source_and_target
    CountingSAE.n_fits = 0
    source = CountingSAE(**SAE_KW).fit(Xs, ys)
    before = fingerprint(source)
    grid = {
        "n_transferred_layers": [0, 1, 2, "all"],
        "selection": ["peak", "assignment", "random"],
    }
    search = GridSearchCV(
        AllTransferClassifier(source, **FAST), grid, cv=3, error_score="raise"
    ).fit(Xt, yt)
    assert len(search.cv_results_["params"]) == 12
    assert CountingSAE.n_fits == 1
    assert fingerprint(source) == before
    assert search.best_estimator_.source_ is source


def test_unfitted_source_is_fitted_once_per_architecture(source_and_target, tmp_path):
    _, Xs, ys, Xt, yt = source_and_target
    data = SourceData(Xs, ys)
    CountingSAE.n_fits = 0
    forget_in_process_sources()
    est = AllTransferClassifier(
        CountingSAE(**SAE_KW), source_data=data, source_memory=tmp_path, **FAST
    )
    grid = {
        "source__hidden_layer_sizes": [(24, 16), (20, 12)],
        "n_transferred_layers": [1, "all"],
    }
    search = GridSearchCV(est, grid, cv=3, error_score="raise").fit(Xt, yt)
    # 2 architectures x 2 values of T x 3 folds + refit = 13 fits, 2 source fits.
    assert CountingSAE.n_fits == 2
    assert search.best_estimator_.source_data is data
    assert clone(est).source_data is data  # never copied
    assert data.X.shape == Xs.shape  # never sliced
    # A second search with a warm disk cache fits nothing.
    forget_in_process_sources()
    GridSearchCV(est, grid, cv=3, error_score="raise").fit(Xt, yt)
    assert CountingSAE.n_fits == 2


def test_a_source_changed_only_in_how_it_is_read_is_still_used(digits):
    X, y = digits
    source = MPDBMClassifier(
        (16,), n_mean_field_iter=2, max_iter=2, discriminative_max_iter=0
    )
    source.set_params(random_state=0).fit(X[y < 6], y[y < 6])
    Xt, yt = X[y >= 6][:80], y[y >= 6][:80]
    # multi_inference and verbose change how the fitted MP-DBM is read, not
    # its weights: no refit needed, so no source data needed.
    source.set_params(multi_inference=False, verbose=0)
    assert AllTransferClassifier(source, **FAST).fit(Xt, yt).source_ is source
    source.set_params(label_weight=1.0)  # a training parameter: stale now
    with pytest.raises(ValueError, match="changed after it was fitted"):
        AllTransferClassifier(source, **FAST).fit(Xt, yt)


def test_changed_parameters_of_a_fitted_source_are_an_error(source_and_target):
    source, Xs, ys, Xt, yt = source_and_target
    before = fingerprint(source)
    grid = {"source__hidden_layer_sizes": [(24, 16), (10,)]}
    search = GridSearchCV(
        AllTransferClassifier(source, **FAST), grid, cv=3, error_score="raise"
    )
    with pytest.raises(ValueError, match="parameters differ.*source_data"):
        search.fit(Xt, yt)
    assert fingerprint(source) == before  # the search touched only clones
    # Changing a fitted source in place is caught too.
    stale = clone(source).set_params(hidden_layer_sizes=(24, 16))
    stale.fit(Xs, ys)
    stale.set_params(hidden_layer_sizes=(10,))
    with pytest.raises(ValueError, match="changed after it was fitted"):
        AllTransferClassifier(stale).fit(Xt, yt)
    # With source data the changed source is refitted instead.
    clf = AllTransferClassifier(stale, source_data=SourceData(Xs, ys), **FAST)
    clf.fit(Xt, yt)
    assert clf.source_ is not stale
    assert clf.network_.layer_sizes[1] == 10


def test_unfitted_source_without_data_is_an_error(source_and_target):
    _, _, _, Xt, yt = source_and_target
    with pytest.raises(ValueError, match="not fitted and no source_data"):
        AllTransferClassifier(StackedAutoencoderClassifier()).fit(Xt, yt)
    with pytest.raises(TypeError, match="SourceData"):
        AllTransferClassifier(StackedAutoencoderClassifier(), source_data=(Xt, yt)).fit(
            Xt, yt
        )


def test_pipeline_pickle_and_reproducibility(source_and_target):
    source, _, _, Xt, yt = source_and_target
    pipe = make_pipeline(FunctionTransformer(), AllTransferClassifier(source, **FAST))
    pipe.fit(Xt, yt)
    restored = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(restored.predict_proba(Xt), pipe.predict_proba(Xt))
    a = AllTransferClassifier(source, selection="random", **FAST).fit(Xt, yt)
    b = AllTransferClassifier(source, selection="random", **FAST).fit(Xt, yt)
    assert_array_equal(a.selected_units_, b.selected_units_)
    assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


def test_inputs_are_not_modified_and_bad_input(source_and_target):
    source, _, _, Xt, yt = source_and_target
    X0, y0 = Xt.copy(), yt.copy()
    AllTransferClassifier(source, **FAST).fit(Xt, yt).predict(Xt)
    assert_array_equal(Xt, X0)
    assert_array_equal(yt, y0)
    with pytest.raises(
        ValueError, match=r"feature\(s\) but the source network expects"
    ):
        AllTransferClassifier(source).fit(Xt[:, :10], yt)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AllTransferClassifier(source).fit(Xt * 16, yt)
    with pytest.raises(ValueError, match="only one class"):
        AllTransferClassifier(source).fit(Xt[:10], np.zeros(10))


def test_class_weight_and_early_stopping(source_and_target):
    from sklearn.utils.class_weight import compute_class_weight

    source, _, _, Xt, yt = source_and_target
    X, y = Xt[:120], yt[:120]

    def fit(X, class_weight, **kwargs):
        # A new head (T=1): the network to tune does not depend on X.
        return AllTransferClassifier(
            source,
            n_transferred_layers=1,
            class_weight=class_weight,
            max_iter=5,
            random_state=0,
            **kwargs,
        ).fit(X, y)

    # A class weighted 0 is out of the loss: other images in its place leave
    # the fine-tuned network bit for bit the same ...
    six = y == "six"
    X_other = X.copy()
    X_other[six] = X[~six][: six.sum()]
    zero = {"six": 0.0, "seven": 1.0, "eight": 1.0, "nine": 1.0}
    for a, b in zip(fit(X, zero).coefs_, fit(X_other, zero).coefs_):
        assert_array_equal(a, b)
    # ... which they do not without class weights.
    assert not np.array_equal(fit(X, None).coefs_[0], fit(X_other, None).coefs_[0])
    # "balanced" weighs each class by its inverse frequency.
    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)
    assert len(set(weights.round(6))) > 1  # the classes are imbalanced here
    balanced = fit(X, "balanced")
    explicit = fit(X, dict(zip(classes, weights)))
    assert_allclose(balanced.coefs_[-1], explicit.coefs_[-1], rtol=1e-6)
    assert not np.allclose(balanced.coefs_[-1], fit(X, None).coefs_[-1])

    clf = fit(X, "balanced", early_stopping=True, validation_fraction=0.2)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_warm_start_continues_the_same_network(source_and_target):
    source, _, _, Xt, yt = source_and_target
    clf = AllTransferClassifier(source, warm_start=True, **FAST).fit(Xt[:100], yt[:100])
    units, first = clf.selected_units_.copy(), clf.coefs_[0].copy()
    network = clf.network_
    clf.fit(Xt[:200], yt[:200])
    assert clf.network_ is network
    assert_array_equal(clf.selected_units_, units)
    assert not np.array_equal(clf.coefs_[0], first)
    assert len(clf.loss_curve_) == 16
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(Xt[yt != "six"], yt[yt != "six"])


def test_output_scale(source_and_target):
    source, _, _, Xt, yt = source_and_target
    clf = AllTransferClassifier(source, max_iter=0, random_state=0).fit(Xt, yt)
    assert 0.0 <= clf.output_scale_ <= 1.0
    np.testing.assert_allclose(
        clf.coefs_[-1], clf.output_scale_ * source.coefs_[-1], rtol=1e-5, atol=1e-7
    )
    fixed = AllTransferClassifier(
        source, output_scale=0.5, max_iter=0, random_state=0
    ).fit(Xt, yt)
    assert fixed.output_scale_ == 0.5
    head = AllTransferClassifier(
        source, n_transferred_layers=1, max_iter=0, random_state=0
    ).fit(Xt, yt)
    assert head.output_scale_ is None


def test_fit_output_scale():
    from skalltransfer.transfer._relation import fit_output_scale

    rng = np.random.RandomState(0)
    codes = rng.randint(2, size=200)
    informative = np.where(np.eye(2)[codes] > 0, 0.0, -3.0)  # matches labels
    assert fit_output_scale(informative, codes) == pytest.approx(1.0, abs=1e-3)
    noise = 20 * rng.randn(200, 2)  # confident, unrelated to the labels
    assert fit_output_scale(noise, codes) < 0.05


def test_mmd_regularised_finetuning(source_and_target):
    source, Xs, ys, Xt, yt = source_and_target
    data = SourceData(Xs, ys)
    plain = AllTransferClassifier(source, **FAST).fit(Xt, yt)
    mmd = AllTransferClassifier(
        source, source_data=data, mmd_lambda=1.0, mmd_layers=(1, 2), **FAST
    ).fit(Xt, yt)
    assert not np.allclose(plain.coefs_[0], mmd.coefs_[0])
    assert mmd.score(Xt, yt) > 0.5
    quad = AllTransferClassifier(
        source, source_data=data, mmd_lambda=1.0, mmd_estimator="quadratic", **FAST
    ).fit(Xt, yt)
    assert np.isfinite(quad.loss_curve_).all()
    with pytest.raises(ValueError, match="needs the source images"):
        AllTransferClassifier(source, mmd_lambda=1.0).fit(Xt, yt)
    with pytest.raises(ValueError, match="output layer"):
        AllTransferClassifier(
            source, source_data=data, mmd_lambda=1.0, mmd_layers=3
        ).fit(Xt, yt)
