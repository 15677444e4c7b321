"""Relation between target labels and source output units, and the choice of
one source unit per target class.

Seed paper (Sawada & Kozuka), eqs. 3-5: feed the target images through the
source network; for target class c the relation p_c(v) is the normalised
histogram of the source output unit with the largest value (``"count"``).
The All-Transfer 2-DE paper (Sawada et al.) instead uses the mean source
output vector of each class (``"mean"``); its follow-up (Sawada et al.,
Applied Sciences 2019) moves each class's vector inside its own output
distribution, away from the other classes' means (``"mean-modified"``).
"""

import numpy as np
from scipy.optimize import linear_sum_assignment, minimize, minimize_scalar
from scipy.special import logsumexp, softmax
from sklearn.covariance import LedoitWolf

# The repulsion 1 / (distance + eps) of the modified mean relation stays
# finite when a class vector sits on another class's mean.
_REPULSION_EPS = 1e-3


def relation_matrix(outputs, codes, n_classes, kind="count"):
    """Relation of each target class to each source output unit.

    Parameters
    ----------
    outputs : ndarray of shape (n_samples, n_source_units)
        Source output-layer values (probabilities) for the target samples.
    codes : ndarray of shape (n_samples,)
        Target class index of each sample, in ``range(n_classes)``.
    n_classes : int
    kind : {"count", "mean", "mean-modified"}

    Returns
    -------
    relation : ndarray of shape (n_classes, n_source_units)
        Each row sums to 1.
    """
    n_units = outputs.shape[1]
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    if np.any(counts == 0):
        raise ValueError("Every target class needs at least one sample.")
    relation = np.zeros((n_classes, n_units), dtype=np.float64)
    if kind == "count":
        np.add.at(relation, (codes, outputs.argmax(axis=1)), 1.0)
    elif kind in ("mean", "mean-modified"):
        np.add.at(relation, codes, outputs.astype(np.float64))
    else:
        raise ValueError(
            f"relation must be 'count', 'mean' or 'mean-modified', got {kind!r}."
        )
    relation /= counts[:, None]
    if kind != "count":
        relation /= relation.sum(axis=1, keepdims=True)
    if kind == "mean-modified":
        relation = modified_mean_relation(outputs, codes, relation)
    return relation


def _class_precisions(outputs, codes, means):
    """Shrunk (Ledoit-Wolf) precision matrix of each class's outputs; a class
    with fewer than 2 samples borrows the pooled within-class covariance."""
    outputs = outputs.astype(np.float64)
    n_units = outputs.shape[1]
    pooled = LedoitWolf(assume_centered=True).fit(outputs - means[codes]).covariance_
    precisions = []
    for j in range(len(means)):
        rows = outputs[codes == j]
        cov = LedoitWolf().fit(rows).covariance_ if len(rows) >= 2 else pooled
        # Softmax outputs sum to 1, so their covariance is singular: shrinkage
        # and a ridge far below the outputs' scale keep it invertible.
        cov = cov + 1e-6 * np.eye(n_units)
        precisions.append(np.linalg.inv(cov))
    return precisions


def modified_mean_relation(outputs, codes, means):
    """Each class's target vector moved inside its own output distribution,
    away from the other classes' mean vectors (Sawada et al. 2019).

    For class ``j`` it maximises over the probability simplex
    ``-(r - mu_j)^T S_j^-1 (r - mu_j) / d - sum_{k != j} 1 / (||r - mu_k|| + eps)``
    with ``mu_j`` the mean output of class ``j``, ``S_j`` its Ledoit-Wolf
    covariance and ``d`` the number of source units: near the class's own
    outputs, far from the others' means. The search is deterministic (L-BFGS
    from ``mu_j`` over ``r = softmax(u)``), where the original samples
    candidates from ``N(mu_j, S_j)`` and keeps the best.

    **Deviation**: the Mahalanobis term is divided by ``d``. A sample of
    class ``j`` lies at a squared Mahalanobis distance of about ``d`` from
    ``mu_j``, so the original's candidates all sit that far out, and its best
    one is pushed well away from the other means; the unscaled optimum
    instead stays within about one standard deviation of ``mu_j``, too close
    to separate overlapping classes: it transfers better than the plain mean
    relation but worse than the scaled objective (see :ref:`benchmarks`).

    Parameters
    ----------
    outputs : ndarray of shape (n_samples, n_units)
    codes : ndarray of shape (n_samples,)
    means : ndarray of shape (n_classes, n_units)
        The "mean" relation.

    Returns
    -------
    relation : ndarray of shape (n_classes, n_units)
        Rows on the simplex.
    """
    # Per unit: a typical sample of the class costs about 1 (see above).
    precisions = [p / means.shape[1] for p in _class_precisions(outputs, codes, means)]
    relation = np.empty_like(means)
    for j, (mu, precision) in enumerate(zip(means, precisions)):
        others = np.delete(means, j, axis=0)

        def negative_objective(u, mu=mu, precision=precision, others=others):
            r = softmax(u)
            diff = r - mu
            value = float(diff @ precision @ diff)
            grad_r = 2.0 * precision @ diff
            gaps = r - others
            dist = np.sqrt(np.sum(gaps**2, axis=1))
            value += float(np.sum(1.0 / (dist + _REPULSION_EPS)))
            scale = 1.0 / (np.maximum(dist, 1e-12) * (dist + _REPULSION_EPS) ** 2)
            grad_r -= (scale[:, None] * gaps).sum(axis=0)
            # Through the softmax: dr/du = diag(r) - r r^T.
            return value, r * (grad_r - r @ grad_r)

        u0 = np.log(np.clip(mu, 1e-6, None))
        result = minimize(negative_objective, u0, jac=True, method="L-BFGS-B")
        relation[j] = softmax(result.x)
    return relation


def _check_enough_units(n_classes, n_units, selection):
    if n_classes > n_units:
        raise ValueError(
            f"selection={selection!r} needs one source output unit per target "
            f"class, but there are {n_classes} target classes and only "
            f"{n_units} source output units. Use n_transferred_layers < "
            "n_layers (a new output layer) for this task."
        )


def select_units(relation, selection="assignment", rng=None, classes=None):
    """One distinct source unit per target class.

    Parameters
    ----------
    relation : ndarray of shape (n_classes, n_units)
    selection : {"peak", "assignment", "random"}, dict or array-like
        - ``"peak"``: each class takes the peak of its row (the paper). When
          several classes peak at the same unit, the class with the strongest
          relation to it keeps it and the others take their best free unit,
          in decreasing order of strength (greedy, as the ATDL code does).
        - ``"assignment"``: the one-to-one map maximising the total relation
          (Hungarian algorithm).
        - ``"random"``: distinct random units (the paper's Table II control).
        - a dict ``{class_label: unit}`` or a sequence of units in the order
          of ``classes``.
    rng : numpy.random.RandomState
        Used by ``"random"``.
    classes : ndarray, default=None
        Target class labels, to read an explicit mapping.

    Returns
    -------
    units : ndarray of shape (n_classes,), dtype int
    """
    n_classes, n_units = relation.shape
    if isinstance(selection, str):
        _check_enough_units(n_classes, n_units, selection)
        if selection == "assignment":
            rows, cols = linear_sum_assignment(relation, maximize=True)
            units = np.empty(n_classes, dtype=np.intp)
            units[rows] = cols
            return units
        if selection == "peak":
            units = np.full(n_classes, -1, dtype=np.intp)
            taken = np.zeros(n_units, dtype=bool)
            # Claim (class, unit) pairs from the strongest relation down.
            order = np.argsort(-relation, axis=None, kind="stable")
            for flat in order:
                c, u = divmod(int(flat), n_units)
                if units[c] < 0 and not taken[u]:
                    units[c] = u
                    taken[u] = True
            return units
        if selection == "random":
            return rng.choice(n_units, size=n_classes, replace=False).astype(np.intp)
        raise ValueError(
            "selection must be 'peak', 'assignment', 'random', a dict or a "
            f"sequence of units, got {selection!r}."
        )
    if isinstance(selection, dict):
        known = set(np.asarray(classes).tolist())
        unknown = [c for c in selection if c not in known]
        if unknown:
            raise ValueError(
                f"The selection mapping names class(es) {unknown} that are not "
                f"target classes; the target classes are {list(classes)}."
            )
        missing = [c for c in classes if c not in selection]
        if missing:
            raise ValueError(
                f"The selection mapping has no unit for target class(es) "
                f"{missing}; it must map every class in {list(classes)}."
            )
        units = np.asarray([selection[c] for c in classes])
    else:
        units = np.asarray(selection)
        if units.shape != (n_classes,):
            raise ValueError(
                f"An explicit selection needs one unit per target class "
                f"({n_classes}), got shape {units.shape}."
            )
    if not np.issubdtype(units.dtype, np.integer):
        raise ValueError(f"Selected units must be integers, got {units!r}.")
    if units.min() < 0 or units.max() >= n_units:
        raise ValueError(
            f"Selected units must lie in [0, {n_units - 1}], got {units.tolist()}."
        )
    if len(set(units.tolist())) != n_classes:
        raise ValueError(f"Selected units must be distinct, got {units.tolist()}.")
    return units.astype(np.intp)


def fit_output_scale(log_proba, codes, max_scale=1.0):
    """Temperature of the source output that best explains the target labels.

    The maximum-likelihood scale ``s`` in ``[0, max_scale]`` of the softmax
    ``softmax(s * z)`` over the selected units' log-probabilities ``z`` (a
    convex one-dimensional problem). ``s = 1`` keeps the source output as it
    is; ``s`` near 0 means it says little about the target classes, so the
    transferred output layer should start nearly silent rather than impose
    the source's confident but uninformative answers.

    Parameters
    ----------
    log_proba : ndarray of shape (n_samples, n_classes)
        Source output log-probabilities (or logits) of the selected units,
        column ``c`` being the unit of target class ``c``.
    codes : ndarray of shape (n_samples,)
        Target class index of each sample.
    max_scale : float, default=1.0

    Returns
    -------
    scale : float
    """
    z = np.asarray(log_proba, dtype=np.float32)
    n = len(codes)
    picked = z[np.arange(n), codes].astype(np.float64)
    picked -= z.mean(axis=1, dtype=np.float64)
    # Rows per chunk: the float64 temporaries stay near 2 MB, whatever
    # n_samples and the number of classes are.
    chunk = max(1, 2**18 // z.shape[1])

    def nll(s):
        total = -s * picked.sum()
        for start in range(0, n, chunk):
            block = z[start : start + chunk].astype(np.float64)
            block -= block.mean(axis=1, keepdims=True)
            total += logsumexp(s * block, axis=1).sum()
        return total / n

    return float(minimize_scalar(nll, bounds=(0.0, max_scale), method="bounded").x)


def proba_of_units(outputs, units, dtype=None):
    """The columns ``units`` of the source outputs, renormalised to sum to 1
    in each row (a uniform row where they all vanish), as ``dtype``."""
    picked = outputs[:, units].astype(dtype or outputs.dtype, copy=False)
    total = picked.sum(axis=1, keepdims=True)
    uniform = np.full_like(picked, 1.0 / picked.shape[1])
    return np.divide(picked, total, out=uniform, where=total > 0)
