"""Model families are objects: registered by name, held by every LayerStack,
and the only thing the transfer code asks about how a network computes."""

import pickle
import warnings
from collections import Counter

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    DirectTransferClassifier,
    LayerStack,
    MPDBMClassifier,
    SourceData,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
)
from skalltransfer._core._families import (
    FEEDFORWARD,
    MPDBM,
    get_family,
    register_family,
)
from skalltransfer._core._families._feedforward import FeedForwardFamily


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_a_family_is_its_registered_instance_and_equals_its_name():
    stack = LayerStack(
        [np.ones((3, 2))], [np.zeros(2)], family="mpdbm", visible_intercept=np.zeros(3)
    )
    assert stack.family is MPDBM
    assert stack.family == "mpdbm" and stack.family != "feedforward"
    assert LayerStack([np.ones((3, 2))], [np.zeros(2)]).family is FEEDFORWARD
    # Pickles name the family, and load the registered instance back.
    assert pickle.loads(pickle.dumps(stack)).family is MPDBM
    assert "family='mpdbm'" in repr(stack)
    with pytest.raises(ValueError, match="family must be one of"):
        LayerStack([np.ones((3, 2))], [np.zeros(2)], family="convolutional?")
    with pytest.raises(ValueError, match="Layer 1 expects 4 inputs"):
        LayerStack([np.ones((3, 2)), np.ones((4, 2))], [np.zeros(2)] * 2)
    with pytest.raises(ValueError, match="visible_intercept"):
        LayerStack([np.ones((3, 2))], [np.zeros(2)], family="mpdbm")


class CountingFamily(FeedForwardFamily):
    """A feed-forward family under another name that counts what it is asked."""

    name = "counting-test-family"

    def __init__(self):
        self.calls = Counter()

    def __getattribute__(self, attr):
        if attr in {
            "output_proba",
            "hidden",
            "objective",
            "new_layer",
            "init_input_layer",
            "finetune_defaults",
            "forward_cache",
            "backward_hidden",
        }:
            object.__getattribute__(self, "calls")[attr] += 1
        return object.__getattribute__(self, attr)


COUNTING = register_family(CountingFamily())


class CountingSource(StackedAutoencoderClassifier):
    """A source whose stack belongs to the counting family."""

    def _layer_stack(self):
        stack = super()._layer_stack()
        return LayerStack(stack.coefs, stack.intercepts, family=COUNTING)


@pytest.fixture(scope="module")
def sources(digits):
    X, y = digits
    kw = dict(hidden_layer_sizes=(16, 12), pretrain_max_iter=1, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = StackedAutoencoderClassifier(**kw, random_state=0).fit(
            X[y < 6], y[y < 6]
        )
        counting = CountingSource(**kw, random_state=0).fit(X[y < 6], y[y < 6])
    return plain, counting


def test_a_new_family_serves_every_transfer_estimator_without_other_edits(
    digits, sources
):
    # The transfer code asks the family object, never its name: a family the
    # package has never heard of is used throughout, with the results of the
    # family it behaves like.
    X, y = digits
    Xs, ys = X[y < 6], y[y < 6]
    Xt, yt = X[y >= 6][:80], y[y >= 6][:80]
    plain, counting = sources
    data = SourceData(Xs, ys)
    fast = dict(max_iter=3, random_state=0)
    makers = {
        "all": lambda s: AllTransferClassifier(s, **fast),
        "T=0": lambda s: AllTransferClassifier(s, n_transferred_layers=0, **fast),
        "T=1+extra": lambda s: AllTransferClassifier(
            s, n_transferred_layers=1, extra_hidden_layer=5, **fast
        ),
        "mmd": lambda s: AllTransferClassifier(
            s, source_data=data, mmd_lambda=1.0, **fast
        ),
        "truncated": lambda s: TruncatedTransferClassifier(s, 1, **fast),
    }
    COUNTING.calls.clear()
    for make in makers.values():
        expected = make(plain).fit(Xt, yt).predict_proba(Xt)
        assert_allclose(make(counting).fit(Xt, yt).predict_proba(Xt), expected)
    assert_allclose(
        SourceFeatures(counting, layer=1).fit(Xt).transform(Xt),
        SourceFeatures(plain, layer=1).fit(Xt).transform(Xt),
    )
    in_source = ys < 3
    assert_allclose(
        DirectTransferClassifier(counting)
        .fit(Xs[in_source], ys[in_source])
        .predict_proba(Xt),
        DirectTransferClassifier(plain)
        .fit(Xs[in_source], ys[in_source])
        .predict_proba(Xt),
    )
    calls = COUNTING.calls
    for method in ("output_proba", "hidden", "objective", "new_layer"):
        assert calls[method] > 0, method
    for method in ("init_input_layer", "finetune_defaults"):
        assert calls[method] > 0, method
    assert calls["forward_cache"] > 0 and calls["backward_hidden"] > 0


def test_the_mpdbm_family_refuses_a_hidden_penalty_naming_why(digits):
    X, y = digits
    source = MPDBMClassifier((12, 8), n_mean_field_iter=3, max_iter=1, random_state=0)
    source.fit(X[y < 6], y[y < 6])
    clf = AllTransferClassifier(
        source, source_data=SourceData(X[y < 6], y[y < 6]), mmd_lambda=1.0
    )
    with pytest.raises(ValueError, match="mean-field inference"):
        clf.fit(X[y >= 6], y[y >= 6])


def test_get_family_names_the_known_ones():
    assert get_family("feedforward") is FEEDFORWARD
    assert get_family(MPDBM) is MPDBM
    with pytest.raises(ValueError, match="feedforward"):
        get_family("nope")


def test_every_family_gives_all_hidden_layers_as_each_one(digits):
    X, y = digits
    X, y = X[:200], y[:200]
    kw = dict(max_iter=2, random_state=0)
    models = [
        StackedAutoencoderClassifier((16, 12), pretrain_max_iter=1, **kw),
        MPDBMClassifier((16, 12), discriminative_max_iter=0, **kw),
        ConvAutoencoderClassifier(
            ((4, 3), (6, 3)),
            hidden_layer_sizes=(8,),
            image_shape=(8, 8),
            pretrain_max_iter=0,
            **kw,
        ),  # fmt: skip
    ]
    for model in models:
        stack = LayerStack.from_estimator(model.fit(X, y))
        together = stack.hidden_layers(X[:13])
        assert len(together) == stack.n_layers - 1
        for layer, A in enumerate(together, start=1):
            assert_allclose(A, stack.hidden_representation(X[:13], layer), rtol=1e-5)
    with pytest.raises(ValueError, match="no hidden layer"):
        LayerStack([np.ones((64, 3))], [np.zeros(3)]).hidden_layers(X[:2])


def test_a_dbm_stack_without_config_takes_the_mpdbm_classifier_defaults():
    from skalltransfer import MPDBMClassifier
    from skalltransfer._core._families._mpdbm import MPDBM_DEFAULTS

    params = MPDBMClassifier().get_params()
    shared = set(MPDBM_DEFAULTS) - {"objective"}
    assert {name: params[name] for name in shared} == {
        name: MPDBM_DEFAULTS[name] for name in shared
    }
