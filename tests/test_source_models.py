"""Behaviour shared by the source models: accuracy on small data, the shared
layer stack, reproducibility, persistence, and clear errors on bad input."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skalltransfer import LayerStack, MPDBMClassifier, StackedAutoencoderClassifier

FAST = {
    MPDBMClassifier: dict(
        hidden_layer_sizes=(40, 30),
        n_mean_field_iter=5,
        max_iter=3,
        max_col_norm=None,
        batch_size=50,
        learning_rate_init=5.0,
        discriminative_max_iter=3,
    ),
    StackedAutoencoderClassifier: dict(
        hidden_layer_sizes=(40, 30), pretrain_max_iter=2, max_iter=3
    ),
}
MODELS = list(FAST)


def make(cls, **kw):
    return cls(**{**FAST[cls], "random_state": 0, **kw})


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.mark.parametrize(
    "cls, kw, threshold",
    [
        # 64 pixels instead of 784: the per-pixel loss scale calls for a
        # smaller step than the MNIST default.
        (
            MPDBMClassifier,
            dict(
                hidden_layer_sizes=(100, 100),
                max_iter=40,
                n_mean_field_iter=6,
                learning_rate_init=5,
            ),
            0.88,
        ),
        (
            StackedAutoencoderClassifier,
            dict(hidden_layer_sizes=(100, 100), pretrain_max_iter=5, max_iter=30),
            0.94,
        ),
    ],
)
def test_accuracy_on_digits(digits_split, cls, kw, threshold):
    X_train, X_test, y_train, y_test = digits_split
    clf = cls(random_state=0, **kw).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= threshold


@pytest.mark.parametrize("cls", MODELS)
def test_fitted_attributes_and_layer_stack(digits, cls):
    X, y = digits
    clf = make(cls).fit(X[:300], y[:300])
    assert clf.n_features_in_ == 64
    assert_array_equal(clf.classes_, np.arange(10))
    shapes = [W.shape for W in clf.coefs_]
    assert shapes == [(64, 40), (40, 30), (30, 10)]
    assert [b.shape for b in clf.intercepts_] == [(40,), (30,), (10,)]
    stack = LayerStack.from_estimator(clf)
    assert stack.layer_sizes == [64, 40, 30, 10]
    assert stack.n_layers == 3
    assert stack.coefs[0] is clf.coefs_[0]  # shared, not copied
    assert stack.family == ("mpdbm" if cls is MPDBMClassifier else "feedforward")
    proba = clf.predict_proba(X[:20])
    assert proba.shape == (20, 10)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.transform(X[:20]).shape == (20, 30)
    assert len(clf.loss_curve_) == clf.n_iter_ == 3


@pytest.mark.parametrize("cls", MODELS)
def test_string_labels_and_dtypes(digits, cls):
    X, y = digits
    names = np.array(["zero", "one", "two"])
    mask = y < 3
    clf = make(cls).fit(X[mask][:150], names[y[mask][:150]])
    assert set(clf.predict(X[:10])) <= set(names)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(X[:5]).dtype == np.float32
    clf64 = make(cls).fit(X[:200].astype(np.float64), y[:200])
    assert clf64.coefs_[0].dtype == np.float64
    clf_int = make(cls).fit((X[:200] * 16).astype(np.uint8) / 16, y[:200])
    assert clf_int.coefs_[0].dtype == np.float64


@pytest.mark.parametrize("cls", MODELS)
def test_reproducible_and_pickles(digits, cls):
    X, y = digits
    a = make(cls).fit(X[:300], y[:300])
    b = make(cls).fit(X[:300], y[:300])
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        assert_array_equal(Wa, Wb)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = make(cls, random_state=1).fit(X[:300], y[:300])
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    restored = pickle.loads(pickle.dumps(a))
    assert_array_equal(restored.predict_proba(X), a.predict_proba(X))
    assert_array_equal(restored.predict(X), a.predict(X))


@pytest.mark.parametrize("cls", MODELS)
def test_inputs_are_not_modified(digits, cls):
    X, y = digits
    X0, y0 = X[:200].copy(), y[:200].copy()
    Xc, yc = X0.copy(), y0.copy()
    make(cls).fit(Xc, yc).predict(Xc)
    assert_array_equal(Xc, X0)
    assert_array_equal(yc, y0)


@pytest.mark.parametrize("cls", MODELS)
def test_bad_input_gives_clear_errors(digits, cls):
    X, y = digits
    clf = make(cls)
    with pytest.raises(ValueError, match=r"\[0, 1\].*MinMaxScaler"):
        clf.fit(X[:100] * 16, y[:100])
    Xn = X[:100].copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(Xn, y[:100])
    Xi = X[:100].copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.fit(Xi, y[:100])
    with pytest.raises(ValueError, match="2D array"):
        clf.fit(X[0], y[:1])
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X[:50], np.zeros(50))
    with pytest.raises(TypeError, match="dense data is required"):
        clf.fit(sp.csr_matrix(X[:100]), y[:100])
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X[:100], np.linspace(0, 1, 100))
    with pytest.raises(NotFittedError):
        clf.predict(X[:5])
    clf.fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:5, :10])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        clf.predict(X[:5] - 1)


@pytest.mark.parametrize("cls", MODELS)
def test_warm_start_continues(digits, cls):
    X, y = digits
    clf = make(cls, warm_start=True).fit(X[:300], y[:300])
    first = [W.copy() for W in clf.coefs_]
    clf.fit(X[:300], y[:300])
    assert len(clf.loss_curve_) == 6
    assert not np.array_equal(first[0], clf.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[:300][y[:300] < 5], y[:300][y[:300] < 5])


@pytest.mark.parametrize("cls", MODELS)
def test_early_stopping_restores_best(digits, cls):
    X, y = digits
    clf = make(cls, early_stopping=True, max_iter=6, n_iter_no_change=2).fit(
        X[:400], y[:400]
    )
    assert clf.validation_scores_ is not None
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_convergence_warning_only_when_early_stopping_did_not_stop(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        make(StackedAutoencoderClassifier, max_iter=2, early_stopping=True).fit(
            X[:100], y[:100]
        )
    # A budget of epochs that runs out is the plan: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        make(StackedAutoencoderClassifier, max_iter=1).fit(X[:100], y[:100])
        make(MPDBMClassifier, max_iter=1).fit(X[:100], y[:100])


def test_mpdbm_multi_inference_and_col_norm(digits):
    X, y = digits
    # multi_inference is how a multi-prediction-only model classifies.
    clf = make(
        MPDBMClassifier, max_col_norm=(1.0, 1.5, 2.0), discriminative_max_iter=0
    ).fit(X[:300], y[:300])
    for W, limit in zip(clf.coefs_, (1.0, 1.5, 2.0)):
        assert np.linalg.norm(W, axis=0).max() <= limit * (1 + 1e-5)
    p_multi = clf.predict_proba(X[:50])  # the default
    clf.set_params(multi_inference=False)
    p_plain = clf.predict_proba(X[:50])
    assert not np.allclose(p_plain, p_multi)
    assert_allclose(p_multi.sum(axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="one value per layer"):
        make(MPDBMClassifier, max_col_norm=(1.0, 2.0)).fit(X[:100], y[:100])


def test_autoencoder_pretraining_reduces_reconstruction_loss(digits):
    X, y = digits
    clf = make(StackedAutoencoderClassifier, pretrain_max_iter=4).fit(X[:400], y[:400])
    for curve in clf.pretrain_loss_curves_:
        assert len(curve) == 4 and curve[-1] < curve[0]
    assert len(clf.decoder_intercepts_) == 2


def test_batched_prediction_equals_unbatched(digits, monkeypatch):
    import skalltransfer._core._validation as base

    X, y = digits
    clf = make(MPDBMClassifier).fit(X[:300], y[:300])
    full_proba, full_hidden = clf.predict_proba(X), clf.transform(X)
    chunks = []
    stack = clf._layer_stack()
    original = type(stack.family).output_proba

    def spy(family, stack, rows):
        chunks.append(len(rows))
        return original(family, stack, rows)

    # 1797 rows in chunks of 64: 28 full chunks and a last one of 5.
    monkeypatch.setattr(base, "PREDICT_BATCH_SIZE", 64)
    monkeypatch.setattr(type(stack.family), "output_proba", spy)
    # float32 products of other shapes round differently in BLAS: equal to
    # float32 precision, not bit for bit.
    assert_allclose(clf.predict_proba(X), full_proba, rtol=1e-5, atol=1e-7)
    assert chunks == [64] * 28 + [5]
    assert_allclose(clf.transform(X), full_hidden, rtol=1e-5, atol=1e-7)


def test_mpdbm_auto_step_scales_with_the_number_of_pixels(digits):
    # "auto" keeps pylearn2's MNIST step per predicted variable: 15 on 784
    # pixels, 15 * 64 / 784 on 8 x 8 digits.
    X, y = digits
    kw = dict(
        hidden_layer_sizes=(32, 16),
        n_mean_field_iter=4,
        max_iter=15,
        discriminative_max_iter=0,
    )
    auto = MPDBMClassifier(random_state=0, **kw).fit(X[:1000], y[:1000])
    same = MPDBMClassifier(
        learning_rate_init=15.0 * 64 / 784, random_state=0, **kw
    ).fit(X[:1000], y[:1000])
    for a, b in zip(auto.coefs_, same.coefs_):
        assert_array_equal(a, b)
    # The fixed MNIST step is too large for 64 pixels.
    fixed = MPDBMClassifier(learning_rate_init=15.0, random_state=0, **kw)
    fixed.fit(X[:1000], y[:1000])
    score = auto.score(X[1000:], y[1000:])
    assert score > 0.6
    assert score > fixed.score(X[1000:], y[1000:]) + 0.05
    # Adam is invariant to the loss scale: "auto" is its usual 1e-3.
    adam = MPDBMClassifier(solver="adam", random_state=0, **{**kw, "max_iter": 2})
    adam_explicit = clone_with(adam, learning_rate_init=1e-3)
    adam.fit(X[:300], y[:300])
    adam_explicit.fit(X[:300], y[:300])
    assert_array_equal(adam.coefs_[0], adam_explicit.coefs_[0])


def clone_with(estimator, **params):
    from sklearn.base import clone

    return clone(estimator).set_params(**params)


def test_mpdbm_runs_every_epoch_by_default(digits):
    # n_iter_no_change=None: the step decays over all max_iter epochs, and no
    # stop on the noisy multi-prediction loss cuts the schedule short.
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MPDBMClassifier((16,), n_mean_field_iter=3, max_iter=12, random_state=0)
        clf.fit(X[:200], y[:200])
    assert clf.n_iter_ == 12
    stopping = MPDBMClassifier(
        (16,), n_mean_field_iter=3, max_iter=40, n_iter_no_change=1, random_state=0
    ).fit(X[:200], y[:200])
    assert stopping.n_iter_ < 40


def test_mpdbm_discriminative_stage_trains_the_inference_that_classifies(
    digits, tmp_path
):
    from skalltransfer import AllTransferClassifier, load_model, save_model
    from skalltransfer._kernels._mean_field import mean_field_labels

    X, y = digits
    kw = dict(hidden_layer_sizes=(32, 16), n_mean_field_iter=4, max_iter=5)
    plain = MPDBMClassifier(discriminative_max_iter=0, random_state=0, **kw)
    staged = MPDBMClassifier(discriminative_max_iter=20, random_state=0, **kw)
    plain.fit(X[:1000], y[:1000])
    staged.fit(X[:1000], y[:1000])
    # The same multi-prediction stage, then a falling discriminative loss.
    assert staged.loss_curve_ == plain.loss_curve_ and staged.n_iter_ == 5
    assert plain.discriminative_loss_curve_ == []
    curve = staged.discriminative_loss_curve_
    assert len(curve) == 20 and curve[-1] < 0.5 * curve[0]
    # It classifies through what the stage trained: one bottom-up pass of
    # plain mean field, whatever multi_inference says.
    proba, _ = mean_field_labels(
        staged.coefs_, staged.intercepts_, staged.visible_intercept_, X[1000:], 1
    )
    assert_allclose(staged.predict_proba(X[1000:]), proba, rtol=1e-5, atol=1e-7)
    assert staged.get_params()["multi_inference"]
    assert staged.score(X[1000:], y[1000:]) > plain.score(X[1000:], y[1000:]) + 0.1
    save_model(staged, tmp_path / "staged.skops")
    assert_array_equal(
        load_model(tmp_path / "staged.skops").predict_proba(X[1000:]),
        staged.predict_proba(X[1000:]),
    )
    # Multi-prediction fine-tuning needs a multi-prediction-only source.
    transfer = AllTransferClassifier(
        staged, finetune_objective="multi_prediction", max_iter=1
    )
    with pytest.raises(ValueError, match="discriminative_max_iter=0"):
        transfer.fit(X[1000:1100], y[1000:1100])
    # With early stopping the stage's epochs are scored too, and the model
    # keeps the stage's best one.
    early = MPDBMClassifier(
        discriminative_max_iter=6, early_stopping=True, random_state=0, **kw
    ).fit(X[:1000], y[:1000])
    scores = early.validation_scores_
    assert len(scores) == early.n_iter_ + len(early.discriminative_loss_curve_)
    assert early.best_validation_score_ == max(scores[early.n_iter_ :])


def test_default_mpdbm_passes_check_classifiers_train():
    # Without the discriminative stage the default MP-DBM predicted one class
    # on this check's 2-feature blobs, even after a MinMaxScaler. The default
    # architecture (500, 500) passes as well (benchmarks/bench_source_models.py
    # --check-classifiers-train); it takes a minute and a half.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler
    from sklearn.utils.estimator_checks import check_classifiers_train

    model = make_pipeline(
        MinMaxScaler(clip=True), MPDBMClassifier((64, 64), random_state=0)
    )
    check_classifiers_train("MPDBMClassifier", model)
    # It is the stage that "auto" adds here which learns them.
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, random_state=0, n_features=2)
    model.fit(X, y)
    assert len(model[-1].discriminative_loss_curve_) > 0
    assert model.score(X, y) > 0.83


def test_mpdbm_auto_stage_runs_only_where_the_training_labels_are_unlearnt(
    digits, monkeypatch
):
    import skalltransfer.sources._mpdbm as mpdbm_module

    X, y = digits[0][:600], digits[1][:600]
    kw = dict(hidden_layer_sizes=(32, 16), n_mean_field_iter=4, max_iter=5)
    monkeypatch.setattr(mpdbm_module, "DISCRIMINATIVE_MAX_ITER", 4)
    never = MPDBMClassifier(discriminative_max_iter=0, random_state=0, **kw)
    four = MPDBMClassifier(discriminative_max_iter=4, random_state=0, **kw)
    never.fit(X, y)
    four.fit(X, y)
    for below, expected in ((0.0, never), (1.01, four)):
        monkeypatch.setattr(mpdbm_module, "AUTO_STAGE_BELOW", below)
        auto = MPDBMClassifier(random_state=0, **kw).fit(X, y)
        assert auto.discriminative_loss_curve_ == expected.discriminative_loss_curve_
        for a, b in zip(auto.coefs_, expected.coefs_):
            assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [*FAST, "conv"])
def test_source_models_report_their_shape_as_mlp_classifier_does(digits, cls):
    from sklearn.neural_network import MLPClassifier

    from skalltransfer import ConvAutoencoderClassifier

    X, y = digits
    if cls == "conv":
        clf = ConvAutoencoderClassifier(
            ((4, 3),), hidden_layer_sizes=(8,), max_iter=1, random_state=0
        )
    else:
        clf = make(cls)
    clf.fit(X[:300], y[:300])
    mlp = MLPClassifier((8,), max_iter=5, random_state=0).fit(X[:300], y[:300])
    for model in (clf, mlp):
        assert model.n_layers_ == len(model.coefs_) + 1
        assert model.n_outputs_ == model.coefs_[-1].shape[1] == 10
        assert model.out_activation_ == "softmax"


def test_the_default_mpdbm_follows_the_size_of_small_images(digits_split):
    # "auto" hidden layers are no wider than the input: 64 units for 8x8
    # digits (the paper's 500 for MNIST's 784 pixels).
    X_train, X_test, y_train, y_test = digits_split
    clf = MPDBMClassifier(random_state=0).fit(X_train, y_train)
    assert [W.shape[1] for W in clf.coefs_] == [64, 64, 10]
    assert clf.score(X_test, y_test) >= 0.95
    assert MPDBMClassifier()._hidden_sizes(784) == [500, 500]
