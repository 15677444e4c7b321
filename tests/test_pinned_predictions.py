"""Predictions of every estimator, pinned for a fixed seed.

The values in ``data/pinned_predictions.npz`` were recorded before the model
families became objects (one module per family, one fit skeleton), so that
refactor provably changed no result. A change of behaviour that is meant (a
new default, a fixed bug) re-records them on purpose, with the reason in the
commit: ``python tests/test_pinned_predictions.py --record``.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    DirectTransferClassifier,
    MPDBMClassifier,
    SourceData,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
)

PINNED = Path(__file__).parent / "data" / "pinned_predictions.npz"


def _data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    source = y < 6
    Xt, yt = X[~source], y[~source]
    # Target: 20 training images per class of digits 6-9, the rest to predict.
    train = np.concatenate([np.flatnonzero(yt == c)[:20] for c in range(6, 10)])
    test = np.setdiff1d(np.arange(len(yt)), train)[:200]
    return X[source], y[source], Xt[train], yt[train], Xt[test]


def _cases():
    """``{name: predictions}`` of each estimator on the pinned data."""
    Xs, ys, X, y, X_test = _data()
    sae = StackedAutoencoderClassifier(
        (24, 16), pretrain_max_iter=2, max_iter=15, random_state=0
    ).fit(Xs, ys)
    dbm = MPDBMClassifier(
        (24, 16),
        n_mean_field_iter=4,
        max_iter=5,
        learning_rate_init=5,
        # Multi-prediction training only, as when these values were recorded.
        discriminative_max_iter=0,
        random_state=0,
    ).fit(Xs, ys)
    data = SourceData(Xs, ys)

    def proba(estimator, rows=slice(None)):
        return estimator.fit(X[rows], y[rows]).predict_proba(X_test)

    out = {
        "sae_source": sae.predict_proba(X_test),
        "sae_source_transform": sae.transform(X_test),
        "mpdbm_source": dbm.predict_proba(X_test),
        "mpdbm_source_transform": dbm.transform(X_test),
    }
    fast = dict(max_iter=8, random_state=0)
    for name, source in (("sae", sae), ("mpdbm", dbm)):
        variants = {
            "all": {},
            "T0": dict(n_transferred_layers=0),
            "T1": dict(n_transferred_layers=1),
            "extra_layer": dict(n_transferred_layers=2, extra_hidden_layer=8),
            "mean": dict(relation="mean"),
            "random_peak": dict(selection="peak", output_scale=1.0),
            "balanced_l2sp": dict(class_weight="balanced", alpha=1.0),
            "early_stopping": dict(early_stopping=True, validation_fraction=0.2),
        }
        for variant, kw in variants.items():
            clf = AllTransferClassifier(source, **fast, **kw)
            # Class weights matter on an imbalanced set: 20/20/20/10 images.
            rows = slice(70) if "class_weight" in kw else slice(None)
            out[f"{name}_alltransfer_{variant}"] = proba(clf, rows)
        out[f"{name}_alltransfer_transform"] = clf.transform(X_test)
        warm = AllTransferClassifier(source, warm_start=True, **fast).fit(X, y)
        out[f"{name}_alltransfer_warm_start"] = proba(warm)
        out[f"{name}_truncated_1"] = proba(
            TruncatedTransferClassifier(source, 1, **fast)
        )
        out[f"{name}_source_features"] = (
            SourceFeatures(source, layer=1).fit(X).transform(X_test)
        )
    out["sae_truncated_auto"] = proba(TruncatedTransferClassifier(sae, cv=2, **fast))
    out["sae_alltransfer_mmd"] = proba(
        AllTransferClassifier(sae, source_data=data, mmd_lambda=1.0, **fast)
    )
    # Direct use: the target digits 0-3 are source classes.
    in_source = ys < 4
    direct = DirectTransferClassifier(sae).fit(Xs[in_source], ys[in_source])
    out["sae_direct"] = direct.predict_proba(X_test)
    out.update(_conv_cases(Xs, ys, X, y, X_test))
    return out


def _conv_cases(Xs, ys, X, y, X_test):
    """The convolutional source (8 x 8 digits read as images) and transfers
    from it, with the default target shifts and without."""
    conv = ConvAutoencoderClassifier(
        ((4, 3), (6, 3)),
        hidden_layer_sizes=(12,),
        pretrain_max_iter=1,
        max_iter=3,
        random_state=0,
    ).fit(Xs, ys)
    out = {
        "conv_source": conv.predict_proba(X_test),
        "conv_source_transform": conv.transform(X_test),
    }
    fast = dict(max_iter=4, random_state=0)
    variants = {
        "all": {},
        "T0": dict(n_transferred_layers=0),
        "T2": dict(n_transferred_layers=2),
        "no_shifts": dict(shift_augmentation=0),
        "mean": dict(relation="mean"),
    }
    for variant, kw in variants.items():
        clf = AllTransferClassifier(conv, **fast, **kw).fit(X, y)
        out[f"conv_alltransfer_{variant}"] = clf.predict_proba(X_test)
    out["conv_truncated_2"] = (
        TruncatedTransferClassifier(conv, 2, **fast).fit(X, y).predict_proba(X_test)
    )
    out["conv_source_features"] = SourceFeatures(conv, layer=2).fit(X).transform(X_test)
    return out


@pytest.fixture(scope="module")
def cases():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _cases()


def _pinned_names():
    if not PINNED.exists():  # test_every_pinned_case_is_computed then fails
        return []
    with np.load(PINNED) as pinned:
        return sorted(pinned.files)


def test_every_pinned_case_is_computed(cases):
    assert sorted(cases) == _pinned_names()


@pytest.mark.parametrize("name", _pinned_names())
def test_predictions_match_the_pinned_values(cases, name):
    with np.load(PINNED) as pinned:
        expected = pinned[name]
    got = cases[name]
    assert got.dtype == expected.dtype
    # Tiny nets and few updates: float32 rounding differences between BLAS
    # builds stay far below this; a change of behaviour does not.
    assert_allclose(got, expected, rtol=0, atol=1e-4)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_pinned_predictions.py --record")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        recorded = _cases()
    PINNED.parent.mkdir(exist_ok=True)
    np.savez_compressed(PINNED, **recorded)
    print(f"recorded {len(recorded)} cases in {PINNED}")
