"""Which parameters produced a fitted model's weights, as a hash: lets a
transfer estimator tell a fitted source whose parameters were changed."""

import numbers

import joblib

# Parameters of any estimator that never change the weights a fit produces;
# a class adds its own in ``_inference_only_params`` (how a fitted model is
# read, e.g. the MP-DBM's ``multi_inference``).
_NEVER_WEIGHTS = ("verbose", "warm_start")


def _owner(params, key, estimator):
    """The estimator that owns the (possibly nested) parameter ``key``."""
    owner_path = key.rpartition("__")[0]
    return params[owner_path] if owner_path else estimator


def _reads_only(params, key, estimator):
    """Whether the (possibly nested) parameter ``key`` only changes how a
    fitted model is read, judged by the estimator that owns it."""
    name = key.rpartition("__")[2]
    return name in _NEVER_WEIGHTS or name in getattr(
        _owner(params, key, estimator), "_inference_only_params", ()
    )


def weights_params_hash(estimator):
    """Hash of the parameters that determine a model's weights."""
    params = {}
    all_params = estimator.get_params(deep=True)
    for key, value in all_params.items():
        name = key.split("__")[-1]
        if _reads_only(all_params, key, estimator):
            continue
        owner = _owner(all_params, key, estimator)
        if name == "source" and hasattr(owner, "_transferred_source"):
            # A transfer estimator as a source: its weights come from the
            # fitted source it stands for, not from an un-fitted clone's copy.
            # Hashed apart: pickling it beside its own parameters would make
            # the hash depend on which objects the two share.
            value = ("source", joblib.hash(owner._transferred_source()))
        elif name == "random_state" and not isinstance(value, numbers.Integral):
            # A generator's state advances during fit; only ints name weights.
            value = "not-an-int" if value is not None else None
        params[key] = value
    return joblib.hash(params)


def fitted_params_hash(estimator):
    """The weights-parameter hash recorded when ``estimator`` was fitted
    (this package's models record it), else the hash of its current ones."""
    recorded = getattr(estimator, "_fitted_params_hash", None)
    return recorded if recorded is not None else weights_params_hash(estimator)
