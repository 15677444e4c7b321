"""scikit-learn's estimator checks on every public estimator.

The source models take pixel intensities in [0, 1] (binary visible units)
and reject anything else with an error naming the fix. Most of
scikit-learn's checks feed standardised Gaussian data, so they run twice:

- on the estimator itself, where the checks that feed data outside [0, 1]
  are expected to fail for exactly that reason (listed below);
- on ``make_pipeline(MinMaxScaler(clip=True), estimator)``, the documented
  way to use the estimator on such data, where every check must pass.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skalltransfer import MPDBMClassifier, StackedAutoencoderClassifier


def tiny_estimators():
    return [
        # Settings that learn 2-feature blobs within scikit-learn's checks.
        MPDBMClassifier(
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
        ),
        StackedAutoencoderClassifier(
            (8, 6), pretrain_max_iter=2, max_iter=20, random_state=0
        ),
    ]


# Checks that pass data outside [0, 1] to fit or predict.
UNIT_INTERVAL_CHECKS = [
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_estimators_dtypes",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_classifier_data_not_an_array",
    "check_classifiers_classes",
    "check_classifiers_train",
    "check_non_transformer_estimators_n_iter",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_transformer_n_iter",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
]
REASON = "feeds X outside [0, 1], which the binary visible units reject by design"


def expected_failures(estimator):
    return dict.fromkeys(UNIT_INTERVAL_CHECKS, REASON)


@parametrize_with_checks(tiny_estimators(), expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# scikit-learn's own Pipeline fits its steps in place, so it fails these two
# checks whatever the final step is.
PIPELINE_FAILURES = {
    "check_estimators_overwrite_params": "Pipeline fits its steps in place",
    "check_dont_overwrite_parameters": "Pipeline fits its steps in place",
}


@parametrize_with_checks(
    [make_pipeline(MinMaxScaler(clip=True), est) for est in tiny_estimators()],
    expected_failed_checks=lambda est: PIPELINE_FAILURES,
)
def test_sklearn_compatible_on_scaled_input(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
