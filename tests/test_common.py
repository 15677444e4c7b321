"""scikit-learn's estimator checks on every public estimator.

Each check runs on an instance built for the data it fits on, so that no check
fails merely because of a restriction the estimator documents:

- the source models, and a transfer from this package's autoencoder, take
  pixel intensities in [0, 1] (binary visible units; tag ``positive_only``).
  A check that fits them on other data runs on
  ``make_pipeline(MinMaxScaler(clip=True), estimator)``, the documented way to
  use them on such data; the other checks, and the two checks of the refusal
  itself (``RAW_INPUT_CHECKS``), run on the estimator itself;
- the convolutional source reads each row as an image: a square one by
  default, a ``(1, n_features)`` strip (``image_shape``) when the check's
  data has no square number of features;
- a transfer estimator takes its source's input: each check gets a small
  source fitted on as many features as the check's data has.

The data a check fits on is found by running it once at collection, with the
estimator class's ``fit`` replaced by a stub that stops the check and hands
back its ``X`` (:func:`first_fit_data`): no table of scikit-learn's data.

The remaining failures are listed with their reason (``{check: reason}``, as
scikit-learn's ``PER_ESTIMATOR_XFAIL_CHECKS``) and are strict: one that passes
fails the run. Dedicated tests cover the restrictions themselves
(tests/test_source_models.py, tests/test_conv.py, tests/test_alltransfer.py).
"""

import functools
import math
import warnings
from contextlib import ExitStack
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import estimator_checks_generator

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    DirectTransferClassifier,
    MPDBMClassifier,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
)

# -- expected failures ----------------------------------------------------------------
# A key is a check's name, or its name with arguments for one variant of it.
EXPECTED_FAILED_CHECKS = {
    DirectTransferClassifier: {
        "check_classifiers_classes": (
            "its labels are not source classes, and direct use predicts source classes"
        ),
    },
}
# scikit-learn's Pipeline fails these whatever its steps.
PIPELINE_EXPECTED_FAILED_CHECKS = {
    "check_estimators_overwrite_params": (
        "scikit-learn's Pipeline fits its steps in place, so `steps` changes"
    ),
    "check_dont_overwrite_parameters": (
        "scikit-learn's Pipeline fits its steps in place, so `steps` changes"
    ),
}
# An estimator on [0, 1] input fails these on the checks' data, and they do
# not run behind the scaler: scikit-learn does not run them on a Pipeline.
UNIT_INTERVAL_EXPECTED_FAILED_CHECKS = {
    "check_class_weight_classifiers": (
        "feeds data outside [0, 1], which binary visible units refuse, and a "
        "Pipeline (behind the scaler) has no class_weight"
    ),
}


def expected_failure(estimator, check):
    """Why ``check`` is expected to fail on ``estimator``, or None."""
    final = final_step(estimator)
    expected = dict(EXPECTED_FAILED_CHECKS.get(type(final), {}))
    if final is not estimator:
        expected.update(PIPELINE_EXPECTED_FAILED_CHECKS)
    elif get_tags(estimator).input_tags.positive_only:
        expected.update(UNIT_INTERVAL_EXPECTED_FAILED_CHECKS)
    return expected.get(check_id(check), expected.get(check_name(check)))


# -- the data a check fits on ---------------------------------------------------------
class _FirstFit(BaseException):
    """Raised by the stub ``fit``; not an Exception, which checks may catch."""

    def __init__(self, X):
        super().__init__()
        self.X = X


def first_fit_data(estimator, check):
    """The ``X`` that ``check`` first fits an estimator of ``estimator``'s
    class on (its clones included), or None if it fits none."""

    def stop(self, X, *args, **kwargs):
        raise _FirstFit(X)

    cls = type(estimator)
    with ExitStack() as stack:
        for method in ("fit", "fit_transform", "fit_predict", "partial_fit"):
            if hasattr(cls, method):
                stack.enter_context(mock.patch.object(cls, method, stop))
        try:
            check(estimator)
        except _FirstFit as stopped:
            return stopped.X
        except Exception as exc:  # raises(..., err_msg=...) chains what it got
            cause = exc
            while cause is not None and not isinstance(cause, _FirstFit):
                cause = cause.__cause__ or cause.__context__
            return None if cause is None else cause.X
    return None


def n_features(X):
    """Number of columns of 2-D data, else None."""
    if X is None:
        return None
    shape = X.shape if hasattr(X, "shape") else np.asarray(X).shape
    return shape[1] if len(shape) == 2 else None


def in_unit_interval(X):
    """Whether the finite values of ``X`` lie in [0, 1]; True for data that
    are not real numbers (the estimator itself must refuse them)."""
    values = np.asarray(X.data if sp.issparse(X) else X)
    if values.dtype.kind == "O":
        try:
            values = values.astype(float)
        except (TypeError, ValueError):
            return True
    if values.dtype.kind not in "biuf":
        return True
    values = values[np.isfinite(values)]
    return values.size == 0 or (values.min() >= 0 and values.max() <= 1)


# The checks of the refusal of negative input (the positive_only tag) feed it
# on purpose: the estimator itself must refuse it.
RAW_INPUT_CHECKS = {"check_positive_only_tag_during_fit", "check_fit_non_negative"}


def needs_scaler(estimator, check, X):
    """Whether ``check`` fits ``estimator``, which takes [0, 1] input only,
    on other data, and not to test the refusal."""
    return not (
        X is None
        or not get_tags(estimator).input_tags.positive_only
        or check_name(check) in RAW_INPUT_CHECKS
        or in_unit_interval(X)
    )


# -- one instance per check -----------------------------------------------------------
def check_name(check):
    return check.func.__name__


def check_id(check):
    """The check's name, with its keyword arguments if any."""
    kwargs = ", ".join(f"{k}={v!r}" for k, v in check.keywords.items())
    return f"{check_name(check)}({kwargs})" if kwargs else check_name(check)


def final_step(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def describe(value):
    """Test id: a check with its arguments, or an estimator in short."""
    if hasattr(value, "func"):
        return check_id(value)
    final = final_step(value)
    text = type(final).__name__
    if hasattr(final, "source"):
        source = final.source
        text += f"(source={type(source).__name__}[{source.n_features_in_} features])"
    elif getattr(final, "image_shape", None) is not None:
        text += f"(image_shape={final.image_shape})"
    return text if final is value else f"MinMaxScaler+{text}"


def checks_for_their_data(build):
    """``pytest.param(estimator, check)`` for every check scikit-learn runs
    on ``build()``, each on the instance for the data it fits on (see the
    module docstring), marked as an expected failure (strict) where listed.

    ``build(n_features)`` makes the estimator for data of ``n_features``
    columns (None: any). A check that needs the scaler but that
    scikit-learn does not run on a Pipeline runs on the estimator itself.
    """
    instances = {}

    def instance(estimator):
        return instances.setdefault(describe(estimator), estimator)

    @functools.cache
    def own_checks(estimator):
        # The checks as scikit-learn generates them for this instance.
        return {check_id(c): c for _, c in estimator_checks_generator(estimator)}

    default = instance(build(None))
    for _, check in estimator_checks_generator(default):
        X = first_fit_data(default, check)
        estimator = instance(build(n_features(X)))
        if needs_scaler(estimator, check, X):
            scaled = instance(make_pipeline(MinMaxScaler(clip=True), estimator))
            if check_id(check) in own_checks(scaled):
                estimator, check = scaled, own_checks(scaled)[check_id(check)]
        reason = expected_failure(estimator, check)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        yield pytest.param(estimator, check, marks=marks)


# -- source models --------------------------------------------------------------------
def tiny_mpdbm(n_features=None):
    # Settings that learn 2-feature blobs within scikit-learn's checks.
    return MPDBMClassifier(
        (32, 16),
        n_mean_field_iter=4,
        max_iter=60,
        batch_size=10,
        solver="adam",
        learning_rate_init=0.01,
        label_weight=5.0,
        drop_prob=0.1,
        label_drop_prob=0.9,
        binarize=False,
        random_state=0,
    )


def tiny_sae(n_features=None):
    return StackedAutoencoderClassifier(
        (8, 6), pretrain_max_iter=2, max_iter=20, random_state=0
    )


def tiny_conv(n_features=None):
    """3x3 kernels without pooling (they fit the checks' tiny images): rows
    read as square images, or as ``(1, n_features)`` strips when
    ``n_features`` is not a square."""
    strip = n_features is not None and math.isqrt(n_features) ** 2 != n_features
    return ConvAutoencoderClassifier(
        ((4, 3),),
        pooling=1,
        hidden_layer_sizes=(8,),
        pretrain_max_iter=1,
        shift_augmentation=0,
        image_shape=(1, n_features) if strip else None,
        learning_rate_init=0.01,
        max_iter=30,
        random_state=0,
    )


# -- transfer estimators --------------------------------------------------------------
def blobs(n_features):
    """6 classes of 40 points in [0, 1]^n_features: the source task."""
    rng = np.random.RandomState(0)
    centers = rng.rand(6, n_features)
    y = np.repeat(np.arange(6), 40)
    return np.clip(centers[y] + 0.1 * rng.randn(240, n_features), 0, 1), y


@functools.cache
def fitted_source(kind, n_features):
    """A small source on ``n_features`` inputs: scikit-learn's MLPClassifier
    (any real input) or this package's autoencoder ([0, 1] input)."""
    if kind == "mlp":
        model = MLPClassifier((12,), max_iter=100, random_state=0)
    else:
        model = StackedAutoencoderClassifier(
            (12,), pretrain_max_iter=2, max_iter=30, random_state=0
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*blobs(n_features))


TRANSFER_PARAMS = {
    AllTransferClassifier: dict(learning_rate_init=0.01, max_iter=50, random_state=0),
    TruncatedTransferClassifier: dict(
        truncation=1, learning_rate_init=0.01, max_iter=50, random_state=0
    ),
    SourceFeatures: {},
    DirectTransferClassifier: {},
}


def transfer_from(kind, cls):
    def build(n_features=None):
        # 3 features for the checks that fit nothing.
        return cls(fitted_source(kind, n_features or 3), **TRANSFER_PARAMS[cls])

    return build


BUILDERS = [tiny_mpdbm, tiny_sae, tiny_conv] + [
    transfer_from(kind, cls) for kind in ("mlp", "sae") for cls in TRANSFER_PARAMS
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator, check",
    [param for build in BUILDERS for param in checks_for_their_data(build)],
    ids=describe,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
