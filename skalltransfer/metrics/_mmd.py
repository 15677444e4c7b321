"""The discrepancy between two samples' distributions (MK-MMD²), public."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from skalltransfer._core._validation import checked_array
from skalltransfer._kernels._mmd import mk_mmd2


@validate_params(
    {
        "X_source": ["array-like"],
        "X_target": ["array-like"],
        "estimator": [StrOptions({"quadratic", "linear"})],
        "n_kernels": [Interval(Integral, 1, None, closed="left")],
        "kernel_mul": [Interval(Real, 0, None, closed="neither")],
        "bandwidth": [StrOptions({"mean", "median"})],
        "beta": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def multi_kernel_mmd2(
    X_source,
    X_target,
    *,
    estimator="quadratic",
    n_kernels=5,
    kernel_mul=2.0,
    bandwidth="mean",
    beta=None,
):
    """Multi-kernel maximum mean discrepancy (MK-MMD²) between two samples.

    The squared maximum mean discrepancy of a family of ``n_kernels``
    Gaussian kernels whose bandwidths are ``kernel_mul`` apart around a base
    bandwidth computed from the pooled samples (the DAN recipe, Long et al.
    2015). It is near 0 when both samples come from the same distribution;
    the transfer estimators' ``mmd_lambda`` penalty reduces it between the
    source and target codes of a hidden layer.

    Parameters
    ----------
    X_source : array-like of shape (n_source, n_features)
        Source sample (e.g. hidden codes of source images).
    X_target : array-like of shape (n_target, n_features)
        Target sample, with the same features.
    estimator : {"quadratic", "linear"}, default="quadratic"
        The unbiased U-statistic over all pairs, or DAN's linear-time
        estimator over quad-tuples in row order (needs equal sample sizes).
        Both are unbiased, so a value can be slightly negative.
    n_kernels : int, default=5
        Number of Gaussian kernels.
    kernel_mul : float, default=2.0
        Ratio of consecutive bandwidths.
    bandwidth : {"mean", "median"}, default="mean"
        Base bandwidth: the mean or median squared distance between distinct
        pooled points.
    beta : array-like of shape (n_kernels,), default=None
        Kernel weights (non-negative, summing to 1); None weights them
        equally.

    Returns
    -------
    mmd2 : float
        The estimate of MK-MMD².

    References
    ----------
    .. [1] M. Long, Y. Cao, J. Wang and M. I. Jordan, "Learning transferable
       features with deep adaptation networks", ICML 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from skalltransfer.metrics import multi_kernel_mmd2
    >>> rng = np.random.RandomState(0)
    >>> same = multi_kernel_mmd2(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)))
    >>> shifted = multi_kernel_mmd2(
    ...     rng.normal(size=(200, 2)), rng.normal(1, size=(200, 2))
    ... )
    >>> bool(abs(same) < 0.02 < shifted)
    True
    """
    X_source = checked_array(X_source, "X_source", dtype=(np.float64, np.float32))
    X_target = checked_array(X_target, "X_target", dtype=(np.float64, np.float32))
    return float(
        mk_mmd2(
            X_source,
            X_target,
            estimator=estimator,
            n_kernels=n_kernels,
            kernel_mul=kernel_mul,
            bandwidth=bandwidth,
            beta=beta,
        )
    )
