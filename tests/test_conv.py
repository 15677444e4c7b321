"""The convolutional family and ConvAutoencoderClassifier: shapes, gradients
through the family's objective and hidden-penalty hooks, the source model,
and every transfer estimator with a conv source."""

import pickle
import warnings

import numpy as np
import pytest
from _gradcheck import check_gradient, numeric_grad
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    DirectTransferClassifier,
    LayerStack,
    SourceData,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
)
from skalltransfer._core._families import CONV
from skalltransfer._kernels._rng import new_state
from skalltransfer._kernels._shifts import random_shifts


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def tiny_conv_stack(rng, dtype=np.float64, activation="tanh"):
    """6x6 one-channel images: conv 3x3x2 + pool 2 -> conv 3x3x3 -> dense 4 -> 3."""
    config = {"image_shape": (6, 6, 1), "conv_layers": ((3, 3, 1, 2), (3, 3, 1, 1))}
    shapes = [(9, 2), (18, 3), (27, 4), (4, 3)]
    coefs = [rng.normal(scale=0.5, size=s).astype(dtype) for s in shapes]
    intercepts = [rng.normal(scale=0.1, size=s[1]).astype(dtype) for s in shapes]
    return LayerStack(
        coefs, intercepts, family="conv", hidden_activation=activation, config=config
    )


def test_shapes_and_errors():
    stack = tiny_conv_stack(np.random.RandomState(0))
    assert stack.family is CONV
    assert stack.layer_sizes == [36, 18, 27, 4, 3]
    bad = [W.copy() for W in stack.coefs]
    bad[1] = np.ones((10, 3))
    with pytest.raises(ValueError, match="Conv layer 1"):
        LayerStack(bad, stack.intercepts, family="conv", config=stack.config)
    with pytest.raises(ValueError, match="image_shape"):
        LayerStack(stack.coefs, stack.intercepts, family="conv")
    with pytest.raises(ValueError, match="dense output layer"):
        LayerStack(
            stack.coefs[:2], stack.intercepts[:2], family="conv", config=stack.config
        )


def test_rebuild_keeps_conv_layers_conv_and_truncation_cuts_them():
    stack = tiny_conv_stack(np.random.RandomState(0))
    rng = np.random.RandomState(1)
    # T = 1: the second conv layer is re-initialised with its own kernel shape.
    fresh = stack.rebuild(1, [27, 4, 5], rng)
    assert fresh.config["conv_layers"] == stack.config["conv_layers"]
    assert [W.shape for W in fresh.coefs] == [(9, 2), (18, 3), (27, 4), (4, 5)]
    assert_array_equal(fresh.coefs[0], stack.coefs[0])
    assert not np.allclose(fresh.coefs[1], stack.coefs[1])
    # T = 0: every layer fresh, conv layers still conv.
    assert stack.rebuild(0, [18, 27, 4, 2], rng).layer_sizes == [36, 18, 27, 4, 2]
    # Truncation after conv layer 1: a dense head on its pooled maps.
    head = stack.rebuild(1, [2], rng)
    assert head.config["conv_layers"] == stack.config["conv_layers"][:1]
    assert head.layer_sizes == [36, 18, 2]
    assert_allclose(head.output_proba(np.random.rand(5, 36)).sum(axis=1), 1)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_objective_gradient_with_a_hidden_penalty(loss):
    # The family's objective with a penalty on hidden codes (the MMD hook):
    # loss + sum_l <G_l, A_l>, differentiated by the forward cache and
    # backward_hidden, against finite differences.
    rng = np.random.RandomState(0)
    stack = tiny_conv_stack(rng)
    X = rng.rand(5, 36)
    targets = np.eye(3)[rng.randint(3, size=5)]
    G = {1: rng.normal(size=(5, 18)), 3: rng.normal(size=(5, 4))}

    def penalty(cache, batch, _, coef_grads, intercept_grads):
        value = sum(np.sum(g * CONV.cache_hidden(cache, k)) for k, g in G.items())
        stack.family.backward_hidden(stack, cache, G, coef_grads, intercept_grads)
        return value

    params, loss_grad = CONV.objective(
        stack, X, targets, rng=rng, loss=loss, l2=0.3, penalty=penalty
    )
    batch = np.arange(5)
    _, grads = loss_grad(batch, None)
    for p, g in zip(params, grads):
        check_gradient(lambda: loss_grad(batch, None)[0], p, g, rtol=1e-5)


def test_backward_hidden_from_a_partial_forward_pass_skips_frozen_layers():
    rng = np.random.RandomState(3)
    stack = tiny_conv_stack(rng)
    X = rng.rand(4, 36)
    G = {2: rng.normal(size=(4, 27))}
    cache = CONV.forward_cache(stack, X, 2)
    coef_grads = [None, np.zeros_like(stack.coefs[1]), None, None]
    intercept_grads = [None, np.zeros_like(stack.intercepts[1]), None, None]
    CONV.backward_hidden(stack, cache, G, coef_grads, intercept_grads)

    def value():
        return np.sum(G[2] * CONV.hidden(stack, X, 2))

    assert_allclose(
        coef_grads[1], numeric_grad(value, stack.coefs[1]), rtol=1e-5, atol=1e-8
    )
    assert_allclose(
        intercept_grads[1],
        numeric_grad(value, stack.intercepts[1]),
        rtol=1e-5,
        atol=1e-8,
    )


def test_random_shifts_move_whole_images_with_zero_fill():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 5 * 6 * 2).astype(np.float32) + 1.0
    out = np.empty_like(X)
    random_shifts(X, 5, 6, 2, 2, new_state(rng), out)
    images, shifted = X.reshape(-1, 5, 6, 2), out.reshape(-1, 5, 6, 2)
    seen = set()
    for image, result in zip(images, shifted):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                expected = np.zeros_like(image)
                src = image[max(0, -dy) : 5 - max(0, dy), max(0, -dx) : 6 - max(0, dx)]
                expected[max(0, dy) : 5 - max(0, -dy), max(0, dx) : 6 - max(0, -dx)] = (
                    src
                )
                if np.array_equal(result, expected):
                    matches.append((dy, dx))
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10  # the shifts are drawn, not fixed
    random_shifts(X, 5, 6, 2, 0, new_state(rng), out)
    assert_array_equal(out, X)


@pytest.fixture(scope="module")
def conv_source(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ConvAutoencoderClassifier(
            ((4, 3), (6, 3)),
            hidden_layer_sizes=(16,),
            pretrain_max_iter=1,
            max_iter=20,
            batch_size=32,
            shift_augmentation=0,  # 2 pixels would be a quarter of an 8x8 digit
            random_state=0,
        ).fit(X[y < 6], y[y < 6])


def test_source_model_learns_and_exposes_its_stack(digits, conv_source):
    X, y = digits
    clf = conv_source
    assert clf.image_shape_ == (8, 8, 1)
    assert [W.shape for W in clf.coefs_] == [(9, 4), (36, 6), (24, 16), (16, 6)]
    stack = LayerStack.from_estimator(clf)
    assert stack.family == "conv" and stack.coefs[0] is clf.coefs_[0]
    assert stack.layer_sizes == [64, 64, 24, 16, 6]
    proba = clf.predict_proba(X[y < 6])
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert proba.dtype == np.float32
    assert clf.score(X[y < 6], y[y < 6]) > 0.8
    assert clf.transform(X[:5]).shape == (5, 16)
    assert len(clf.pretrain_loss_curves_) == 2
    # Pickle round trip predicts the same.
    again = pickle.loads(pickle.dumps(clf))
    assert_array_equal(again.predict_proba(X[:20]), clf.predict_proba(X[:20]))


def test_source_model_is_reproducible_and_leaves_x_alone(digits):
    X, y = digits
    X0 = X[:200].copy()
    kw = dict(
        conv_layers=((3, 3),),
        hidden_layer_sizes=(8,),
        pretrain_max_iter=1,
        max_iter=2,
        random_state=3,
    )
    a = ConvAutoencoderClassifier(**kw).fit(X[:200], y[:200])
    b = ConvAutoencoderClassifier(**kw).fit(X[:200], y[:200])
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        assert_array_equal(Wa, Wb)
    assert_array_equal(X[:200], X0)


def test_source_model_errors_name_the_fix(digits):
    X, y = digits
    with pytest.raises(ValueError, match="not a square number"):
        ConvAutoencoderClassifier(max_iter=1).fit(X[:50, :60], y[:50])
    with pytest.raises(ValueError, match="holds 60 values"):
        ConvAutoencoderClassifier(image_shape=(6, 10), max_iter=1).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="does not fit"):
        ConvAutoencoderClassifier(((4, 3), (4, 3), (4, 3), (4, 3))).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="odd kernel sizes"):
        ConvAutoencoderClassifier(((4, 4),)).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ConvAutoencoderClassifier().fit(X[:50] * 2, y[:50])


def test_rectangular_multichannel_images(digits):
    X, y = digits
    # 8x8 digits seen as 4x8 images of 2 channels (any row-major layout).
    clf = ConvAutoencoderClassifier(
        ((3, 3),), image_shape=(4, 8, 2), hidden_layer_sizes=(8,), max_iter=2,
        pretrain_max_iter=1, random_state=0,
    ).fit(X[:300], y[:300])  # fmt: skip
    assert clf.image_shape_ == (4, 8, 2)
    assert clf.coefs_[0].shape == (18, 3)
    assert clf.predict(X[:4]).shape == (4,)
    # The filter plot draws each 3x3 kernel as the mean of its 2 channels.
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from skalltransfer import FilterDisplay

    W0 = clf.coefs_[0].copy()
    disp = FilterDisplay.from_estimator(clf)
    assert disp.filters.shape == (3, 3, 3)
    assert_allclose(disp.filters[2], W0[:, 2].reshape(3, 3, 2).mean(axis=2))
    assert_array_equal(clf.coefs_[0], W0)
    plt.close(disp.figure_)
    with pytest.raises(ValueError, match="height, width, channels"):
        FilterDisplay.from_estimator(W0)  # bare weights: 18 inputs, channels unknown
    assert FilterDisplay.from_estimator(W0, image_shape=(3, 3, 2)).filters.shape == (
        3,
        3,
        3,
    )
    plt.close("all")


def test_every_transfer_estimator_takes_a_conv_source(digits, conv_source):
    X, y = digits
    Xs, ys = X[y < 6], y[y < 6]
    Xt, yt = X[y >= 6][:120], y[y >= 6][:120]
    fast = dict(max_iter=5, random_state=0)
    clf = AllTransferClassifier(conv_source, **fast).fit(Xt, yt)
    assert clf.network_.family == "conv" and clf.selected_units_.shape == (4,)
    assert clf.output_scale_ is not None
    for T, sizes in [(0, [64, 64, 24, 16, 4]), (1, [64, 64, 24, 16, 4])]:
        net = AllTransferClassifier(conv_source, n_transferred_layers=T, **fast)
        net = net.fit(Xt, yt).network_
        assert net.layer_sizes == sizes
        assert net.config["conv_layers"] == clf.network_.config["conv_layers"]
    extra = AllTransferClassifier(
        conv_source, n_transferred_layers=3, extra_hidden_layer=5, **fast
    ).fit(Xt, yt)
    assert extra.network_.layer_sizes == [64, 64, 24, 16, 5, 4]
    mmd = AllTransferClassifier(
        conv_source, source_data=SourceData(Xs, ys), mmd_lambda=1.0, **fast
    ).fit(Xt, yt)
    assert np.isfinite(mmd.loss_curve_).all()
    truncated = TruncatedTransferClassifier(conv_source, 1, **fast).fit(Xt, yt)
    assert truncated.network_.layer_sizes == [64, 64, 4]
    features = SourceFeatures(conv_source, layer=2).fit(Xt).transform(Xt[:3])
    assert features.shape == (3, 24)
    direct = DirectTransferClassifier(conv_source).fit(Xs[ys < 3], ys[ys < 3])
    assert direct.predict_proba(Xt[:3]).shape == (3, 3)


def _one_shift_of(image, result, max_shift):
    """The (dy, dx) with |dy|, |dx| <= max_shift moving ``image`` (H, W) onto
    ``result`` with zeros entering at the border, or None."""
    H, W = image.shape
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            expected = np.zeros_like(image)
            src = image[max(0, -dy) : H - max(0, dy), max(0, -dx) : W - max(0, dx)]
            expected[max(0, dy) : H - max(0, -dy), max(0, dx) : W - max(0, -dx)] = src
            if np.array_equal(result, expected):
                return dy, dx
    return None


def _per_class(X, y, classes, n):
    rows = np.concatenate([np.flatnonzero(y == c)[:n] for c in classes])
    return X[rows], y[rows]


def test_auto_budget_gives_a_conv_transfer_at_least_400_updates(conv_source, digits):
    # Ten images of two classes are one minibatch an epoch: "auto" runs 400
    # of them, without stopping on a plateau; 100 epochs once that is more.
    X, y = digits
    X20, y20 = _per_class(X, y, (6, 7), 10)
    clf = AllTransferClassifier(conv_source, random_state=0).fit(X20, y20)
    assert clf.n_iter_ == 400
    assert len(clf.loss_curve_) == 400
    halves = AllTransferClassifier(conv_source, batch_size=10, random_state=0)
    assert halves.fit(X20, y20).n_iter_ == 200
    X160, y160 = _per_class(X, y, (6, 7, 8, 9), 40)
    clf = AllTransferClassifier(conv_source, random_state=0).fit(X160, y160)
    assert clf.n_iter_ == 100
    fixed = AllTransferClassifier(conv_source, max_iter=7, random_state=0)
    assert fixed.fit(X20, y20).n_iter_ == 7
    truncated = TruncatedTransferClassifier(conv_source, 1, random_state=0)
    assert truncated.fit(X20, y20).n_iter_ == 400


def test_auto_patience_stops_on_a_plateau_except_for_a_conv_source(conv_source, digits):
    # tol=1e3: no epoch ever counts as progress.
    X, y = digits
    X20, y20 = _per_class(X, y, (6, 7), 10)
    kw = dict(tol=1e3, max_iter=60, random_state=0)
    sae = StackedAutoencoderClassifier(
        (16,), pretrain_max_iter=1, max_iter=5, random_state=0
    ).fit(X[y < 6], y[y < 6])
    assert AllTransferClassifier(sae, **kw).fit(X20, y20).n_iter_ < 60
    fixed = AllTransferClassifier(sae, n_iter_no_change=None, **kw)
    assert fixed.fit(X20, y20).n_iter_ == 60
    assert AllTransferClassifier(conv_source, **kw).fit(X20, y20).n_iter_ == 60
    # Early stopping is a promise to stop: "auto" keeps its patience.
    X40, y40 = _per_class(X, y, (6, 7), 20)
    early = AllTransferClassifier(conv_source, early_stopping=True, **kw)
    assert early.fit(X40, y40).n_iter_ < 60
    patient = AllTransferClassifier(conv_source, n_iter_no_change=5, **kw)
    assert patient.fit(X20, y20).n_iter_ < 60


def test_transfer_shift_augmentation_trains_on_shifted_target_images(
    digits, conv_source, monkeypatch
):
    from skalltransfer._core import _training

    X, y = digits
    Xt, yt = X[y >= 6][:60] + 0.0, y[y >= 6][:60]
    Xt[:, [0, 7, 56, 63]] = 0.0  # bright corners would make a shift ambiguous
    X0 = Xt.copy()
    reads = []

    class Recording(_training.ShiftedRows):
        def __getitem__(self, rows):
            out = super().__getitem__(rows)
            reads.append((self.image_shape, self.max_shift, self.X[rows], out))
            return out

    monkeypatch.setattr(_training, "ShiftedRows", Recording)
    kw = dict(max_iter=3, random_state=0)
    shifted = AllTransferClassifier(conv_source, shift_augmentation=1, **kw)
    shifted.fit(Xt, yt)
    assert_array_equal(Xt, X0)
    assert reads and all(r[:2] == ((8, 8, 1), 1) for r in reads)
    moves = set()
    for _, _, original, out in reads:
        for a, b in zip(original.reshape(-1, 8, 8), out.reshape(-1, 8, 8)):
            move = _one_shift_of(a, b, 1)
            assert move is not None
            moves.add(move)
    assert len(moves) > 4  # drawn per image and batch, not fixed

    # Reproducible for a seed, the default for a conv source ("auto" is 1),
    # and not the fit without shifts.
    again = AllTransferClassifier(conv_source, shift_augmentation=1, **kw).fit(Xt, yt)
    assert_array_equal(again.predict_proba(Xt), shifted.predict_proba(Xt))
    auto = AllTransferClassifier(conv_source, **kw).fit(Xt, yt)
    assert_array_equal(auto.predict_proba(Xt), shifted.predict_proba(Xt))
    n_reads = len(reads)
    plain = AllTransferClassifier(conv_source, shift_augmentation=0, **kw).fit(Xt, yt)
    assert len(reads) == n_reads
    assert not np.array_equal(plain.predict_proba(Xt), shifted.predict_proba(Xt))
    # TruncatedTransferClassifier shares the parameter and its default.
    truncated = TruncatedTransferClassifier(conv_source, 1, **kw).fit(Xt, yt)
    assert len(reads) > n_reads
    unshifted = TruncatedTransferClassifier(conv_source, 1, shift_augmentation=0, **kw)
    unshifted.fit(Xt, yt)
    assert not np.array_equal(unshifted.predict_proba(Xt), truncated.predict_proba(Xt))


def test_shift_augmentation_auto_is_off_for_fully_connected_sources(
    digits, monkeypatch
):
    from skalltransfer import StackedAutoencoderClassifier
    from skalltransfer._core import _training

    X, y = digits
    fast = dict(pretrain_max_iter=1, max_iter=1, random_state=0)
    square = StackedAutoencoderClassifier((8,), **fast).fit(X[:200], y[:200])
    monkeypatch.setattr(_training, "ShiftedRows", None)  # any use would fail
    kw = dict(max_iter=3, random_state=0)
    auto = AllTransferClassifier(square, **kw).fit(X[200:260], y[200:260] % 2)
    off = AllTransferClassifier(square, shift_augmentation=0, **kw)
    off.fit(X[200:260], y[200:260] % 2)
    assert_array_equal(auto.predict_proba(X[:50]), off.predict_proba(X[:50]))


def test_shift_augmentation_needs_image_rows(digits):
    from skalltransfer import StackedAutoencoderClassifier

    X, y = digits
    fast = dict(pretrain_max_iter=1, max_iter=1, random_state=0)
    # 64 inputs: square 8 x 8 images, so a fully-connected source works too.
    square = StackedAutoencoderClassifier((8,), **fast).fit(X[:200], y[:200])
    clf = AllTransferClassifier(square, shift_augmentation=1, max_iter=2)
    assert clf.fit(X[200:260], y[200:260] % 2).loss_curve_
    flat = StackedAutoencoderClassifier((8,), **fast).fit(X[:200, :60], y[:200])
    with pytest.raises(ValueError, match="60 inputs are not a square image"):
        AllTransferClassifier(flat, shift_augmentation=1, max_iter=2).fit(
            X[200:260, :60], y[200:260] % 2
        )


def test_displays_and_active_learning_take_a_conv_source(digits, conv_source):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skalltransfer import FilterDisplay, RelationDisplay
    from skalltransfer.active import (
        ActiveTransferLearner,
        EntropySampling,
        MMDCoreSetSampling,
    )

    X, y = digits
    Xt, yt = X[y >= 6], y[y >= 6]
    # The first layer's 3x3 kernels, one tile per map (the paper's Fig. 5).
    display = FilterDisplay.from_estimator(conv_source, n_filters=None)
    assert display.filters.shape == (4, 3, 3)
    assert_allclose(display.filters[2], conv_source.coefs_[0][:, 2].reshape(3, 3))
    clf = AllTransferClassifier(conv_source, max_iter=5, random_state=0)
    relation = RelationDisplay.from_estimator(clf.fit(Xt[:80], yt[:80]))
    assert relation.relation.shape == (4, 6)
    plt.close("all")
    # Active fine-tuning: uncertainty and the core-set on conv codes.
    y_none = np.full(160, np.nan)
    for strategy in (EntropySampling(), MMDCoreSetSampling(X[y < 6])):
        learner = ActiveTransferLearner(
            AllTransferClassifier(conv_source, max_iter=5, random_state=0),
            strategy,
            batch_size=10,
            n_rounds=2,
            random_state=0,
        ).fit(Xt[:160], y_none, oracle=yt[:160])
        assert learner.history_["n_labels"] == [10, 20, 30]
        assert learner.predict(Xt[160:170]).shape == (10,)
