"""Transferability scores: how well a source should transfer to a target set,
from one forward pass and no fine-tuning.

- LEEP (Nguyen et al., ICML 2020): the log-likelihood of the "expected
  empirical predictor" built from the soft relation P(target label | source
  output unit), the relation of this package computed with soft counts.
- NCE (Tran et al., ICCV 2019): the negative conditional entropy H(Y | Z) of
  the target labels given the source's arg-max labels (the "count" relation).
- LogME (You et al., ICML 2021): the maximum log-evidence of a Bayesian
  linear regression of the one-hot target labels on a layer's features.
- k-NN (Sorkhei et al., TMLR 2025, who found a k-nearest-neighbour
  evaluation of the features a better predictor of transfer than 23 other
  scores): the leave-one-out 1-nearest-neighbour balanced accuracy of the
  target labels on a layer's features, cosine similarity. By default it
  reads every hidden layer at once (each layer's features scaled to unit
  length and concatenated: the cosine similarity is then the mean of the
  layers' similarities), which ranks candidate sources better than the top
  layer alone (see :ref:`benchmarks`).

Every score is higher for an expected better transfer. The forward pass
runs in row chunks; beyond the outputs or features of the target set
(n x units; with ``layer="all"``, the units of every hidden layer), LEEP,
NCE and LogME need memory independent of n (LogME at most a units x units
matrix), k-NN a chunk of rows of similarities.
"""

import time
from numbers import Integral

import numpy as np
from scipy.special import logsumexp
from sklearn.utils import Bunch, gen_batches
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from skalltransfer._core._stack import LayerStack
from skalltransfer._core._validation import (
    PREDICT_BATCH_SIZE,
    batched,
    check_source_input,
    checked_array,
)

# Fixed-point iterations of LogME's evidence maximisation (You et al. report
# convergence within about ten; the loop also stops on a relative change).
_LOGME_MAX_ITER = 100
_LOGME_TOL = 1e-5


# Rows per chunk of every pass over the target samples.
CHUNK_ROWS = PREDICT_BATCH_SIZE


def leep_from_outputs(outputs, codes, n_classes):
    """LEEP of source output probabilities ``outputs`` (n, n_units) for
    target class codes ``codes`` in ``range(n_classes)``."""
    outputs = np.asarray(outputs)
    n = len(codes)
    joint = np.zeros((n_classes, outputs.shape[1]), dtype=np.float64)
    for rows in gen_batches(n, CHUNK_ROWS):
        np.add.at(joint, codes[rows], outputs[rows].astype(np.float64))
    joint /= n
    marginal = joint.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Units no target sample activates carry no mass: their conditional
        # is irrelevant (every theta_z is 0 there), set it uniform.
        conditional = np.where(marginal > 0, joint / marginal, 1.0 / n_classes)
        log_conditional = np.log(conditional)
    total = 0.0
    for rows in gen_batches(n, CHUNK_ROWS):
        with np.errstate(divide="ignore"):
            log_theta = np.log(outputs[rows].astype(np.float64))
        # log sum_z P(y_i | z) theta_iz, in the log domain.
        terms = log_conditional[codes[rows]] + log_theta
        total += float(logsumexp(terms, axis=1).sum())
    return total / n


def nce_from_outputs(outputs, codes, n_classes):
    """NCE (= -H(Y | Z)) of the arg-max source labels of ``outputs``."""
    n = len(codes)
    counts = np.zeros((n_classes, np.asarray(outputs).shape[1]), dtype=np.float64)
    for rows in gen_batches(n, CHUNK_ROWS):
        np.add.at(counts, (codes[rows], outputs[rows].argmax(axis=1)), 1.0)
    joint = counts / n
    marginal = joint.sum(axis=0)
    used = joint > 0
    conditional = joint[used] / np.broadcast_to(marginal, joint.shape)[used]
    return float(np.sum(joint[used] * np.log(conditional)))


def log_evidence(alpha, beta, s, t, yy, n):
    """Log-evidence of a Bayesian linear regression with prior precision
    ``alpha`` and noise precision ``beta``, from the eigenvalues ``s`` of
    F^T F, ``t = V^T F^T y`` and ``yy = y^T y`` (You et al. 2021, eq. 2)."""
    denom = alpha + beta * s
    t2 = t * t
    mm = beta**2 * np.sum(t2 / denom**2)
    residual = yy - 2 * beta * np.sum(t2 / denom) + beta**2 * np.sum(s * t2 / denom**2)
    return float(
        n / 2 * np.log(beta)
        + len(s) / 2 * np.log(alpha)
        - n / 2 * np.log(2 * np.pi)
        - beta / 2 * max(residual, 0.0)
        - alpha / 2 * mm
        - 0.5 * np.sum(np.log(denom))
    )


def _max_log_evidence(s, t, yy, n):
    """:func:`log_evidence` at the (alpha, beta) of the fixed-point iteration
    ``alpha = gamma / m^T m``, ``beta = (n - gamma) / ||F m - y||^2``."""
    alpha, beta = 1.0, 1.0
    t2 = t * t
    for _ in range(_LOGME_MAX_ITER):
        denom = alpha + beta * s
        gamma = float(np.sum(beta * s / denom))
        mm = float(beta**2 * np.sum(t2 / denom**2))
        residual = float(
            yy - 2 * beta * np.sum(t2 / denom) + beta**2 * np.sum(s * t2 / denom**2)
        )
        new_alpha = max(gamma / max(mm, 1e-12), 1e-12)
        new_beta = max(n - gamma, 1e-12) / max(residual, 1e-12)
        converged = (
            abs(new_alpha - alpha) <= _LOGME_TOL * alpha
            and abs(new_beta - beta) <= _LOGME_TOL * beta
        )
        alpha, beta = new_alpha, new_beta
        if converged:
            break
    return log_evidence(alpha, beta, s, t, yy, n)


def knn_from_features(features, codes, n_classes):
    """Leave-one-out 1-nearest-neighbour balanced accuracy (the mean recall
    over classes) of the target class codes on ``features`` (n, d), by
    cosine similarity; the similarities are computed a chunk of rows at a
    time. A feature row of zeros is equally similar to every other row; ties
    go to the first sample. A class with one sample has recall 0 (its only
    neighbours are of other classes)."""
    F = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(F, axis=1, keepdims=True)
    F = F / np.where(norms > 0, norms, 1.0)
    n = len(codes)
    nearest = np.empty(n, dtype=np.intp)
    for rows in gen_batches(n, CHUNK_ROWS):
        similarity = F[rows] @ F.T
        # Leave each sample out of its own neighbours.
        similarity[
            np.arange(rows.stop - rows.start), np.arange(rows.start, rows.stop)
        ] = -np.inf
        nearest[rows] = np.argmax(similarity, axis=1)
    correct = (codes[nearest] == codes).astype(np.float64)
    counts = np.bincount(codes, minlength=n_classes)
    recall = np.bincount(codes, weights=correct, minlength=n_classes) / counts
    return float(recall.mean())


def _spectrum_from_gram(features, codes, n_classes):
    """Eigenvalues ``s`` of F^T F and ``t = V^T F^T Y`` (one column per
    class), from the d x d Gram matrix and F^T Y accumulated in row chunks."""
    n = len(codes)
    d = np.asarray(features).shape[1]
    gram = np.zeros((d, d))
    fty = np.zeros((d, n_classes))
    for rows in gen_batches(n, CHUNK_ROWS):
        F = np.asarray(features[rows], dtype=np.float64)
        gram += F.T @ F
        np.add.at(fty.T, codes[rows], F)
    s, V = np.linalg.eigh(gram)
    return np.clip(s, 0.0, None), V.T @ fty  # F^T F is positive semi-definite


def _spectrum_from_kernel(features, codes, n_classes):
    """The same ``(s, t)`` from the n x n matrix F F^T, for n < d: its
    eigenvalues are the nonzero ones of F^T F, and an eigenvector u of it
    gives ``t = sqrt(s) u^T Y``; the other d - n eigenvalues are 0, with
    ``t = 0`` (their directions are in the null space of F)."""
    F = np.asarray(features, dtype=np.float64)
    n, d = F.shape
    s_n, U = np.linalg.eigh(F @ F.T)
    s_n = np.clip(s_n, 0.0, None)
    Y = np.zeros((n, n_classes))
    Y[np.arange(n), codes] = 1.0
    t_n = np.sqrt(s_n)[:, None] * (U.T @ Y)
    s = np.concatenate([np.zeros(d - n), s_n])
    t = np.concatenate([np.zeros((d - n, n_classes)), t_n])
    return s, t


def logme_from_features(features, codes, n_classes):
    """LogME of features ``features`` (n, d) for the one-hot target labels:
    the mean over classes of each column's maximum log-evidence per sample.

    Every evidence is in closed form given the eigenvalues of F^T F: for
    n >= d from the d x d Gram matrix accumulated in row chunks, for a
    smaller target set from the n x n matrix F F^T (20 images on a
    500-unit layer: a 20 x 20 eigendecomposition instead of 500 x 500), so
    memory stays within that of d x d.
    """
    n = len(codes)
    d = np.asarray(features).shape[1]
    spectrum = _spectrum_from_kernel if n < d else _spectrum_from_gram
    s, t = spectrum(features, codes, n_classes)
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    return float(
        np.mean(
            [_max_log_evidence(s, t[:, k], counts[k], n) / n for k in range(n_classes)]
        )
    )


# Scores of the source's output probabilities, and scores of a layer's
# features: ``score(values, codes, n_classes) -> float``.
_OUTPUT_SCORES = {"leep": leep_from_outputs, "nce": nce_from_outputs}
_FEATURE_SCORES = {"logme": logme_from_features, "knn": knn_from_features}
METHODS = (*_OUTPUT_SCORES, *_FEATURE_SCORES)


def _check_layer(layer, allowed, n_layers=None):
    """``layer`` must be None, one of ``allowed`` or a 1-based index (at
    most ``n_layers`` when known)."""
    if layer is None or (isinstance(layer, str) and layer in allowed):
        return
    if isinstance(layer, Integral) and not isinstance(layer, bool):
        if layer >= 1 and (n_layers is None or layer <= n_layers):
            return
    within = "" if n_layers is None else f" in [1, {n_layers}]"
    raise ValueError(
        f"layer must be None, {', '.join(map(repr, allowed))} or a 1-based layer "
        f"index{within}, got {layer!r}."
    )


def _source_stack(source):
    """The layer stack of a fitted source (or of a fitted transfer
    estimator's source)."""
    if isinstance(source, type):
        raise TypeError(
            f"source must be a fitted estimator instance, but it is the class "
            f"{source.__name__} itself; fit an instance first: "
            f"{source.__name__}().fit(X_source, y_source)."
        )
    source = getattr(source, "source_", source)
    return source, LayerStack.from_estimator(source)


def _check_target(source, stack, X, y):
    X = checked_array(X, "X", dtype=(np.float32, np.float64))
    y = column_or_1d(y)
    check_classification_targets(y)
    if len(y) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {len(y)}.")
    check_source_input(source, stack, X)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("Transferability needs target samples of at least 2 classes.")
    return X, codes.astype(np.intp), len(classes)


# What ``layer=None`` reads: k-NN every hidden layer (it ranks sources
# better than the top layer alone; see the benchmarks page
# (docs/benchmarks.rst)), LogME the top hidden layer (its paper's choice).
# Re-measure: python benchmarks/bench_transferability.py
_DEFAULT_LAYER = {"knn": "all", "logme": "top"}


def _unit_rows(F):
    """``F`` with every row scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(F, axis=1, keepdims=True)
    return F / np.where(norms > 0, norms, 1.0).astype(F.dtype)


def _features(stack, X, layer):
    """The features of ``layer`` (a 1-based index, ``"top"`` or ``"all"``)
    for the target rows ``X``, computed in row chunks."""
    n_layers = stack.n_layers
    if layer == "all":
        if n_layers == 1:
            raise ValueError(
                "layer='all' reads the hidden layers, and this source has none; "
                "pass layer=1 (its output probabilities)."
            )
        return batched(
            lambda c: np.hstack([_unit_rows(A) for A in stack.hidden_layers(c)]),
            X,
            CHUNK_ROWS,
        )
    if layer == "top":
        layer = n_layers - 1
    if not isinstance(layer, Integral) or not 1 <= layer <= n_layers:
        raise ValueError(
            f"layer must be 'all' or a 1-based layer index in [1, {n_layers}] "
            f"({n_layers} is the output layer), got {layer!r}."
        )
    if layer == n_layers:
        return batched(stack.output_proba, X, CHUNK_ROWS)
    return batched(lambda c: stack.hidden_representation(c, layer), X, CHUNK_ROWS)


def transferability(source, X, y, *, method="leep", layer=None):
    """How well ``source`` should transfer to the target set ``(X, y)``.

    One forward pass of the target images through the fitted source, no
    fine-tuning: seconds where fine-tuning every candidate takes minutes.
    Higher is better. Compare scores of one method on one target set (they
    are not probabilities and not comparable across methods or targets).

    Parameters
    ----------
    source : estimator
        A fitted source model (MPDBMClassifier, StackedAutoencoderClassifier,
        ConvAutoencoderClassifier, MLPClassifier, ...) or a fitted transfer
        estimator (its ``source_`` is scored).
    X : array-like of shape (n_samples, n_features)
        Target images, with the source's input size.
    y : array-like of shape (n_samples,)
        Target labels.
    method : {"leep", "nce", "logme", "knn"}, default="leep"
        ``"leep"``: log-likelihood of the expected empirical predictor
        (Nguyen et al. 2020), <= 0; ``"nce"``: negative conditional entropy
        of the labels given the source's arg-max label (Tran et al. 2019),
        <= 0; ``"logme"``: mean log-evidence of a Bayesian linear model of
        the labels on the features of ``layer`` (You et al. 2021);
        ``"knn"``: leave-one-out 1-nearest-neighbour balanced accuracy of
        the labels on the features of ``layer``, cosine similarity, in
        [0, 1] (after Sorkhei et al. 2025). ``"knn"`` ranks candidate
        sources best of the four on the benchmark tasks (see
        :ref:`benchmarks`).
    layer : int, "all" or None, default=None
        The features of LogME and k-NN: a 1-based hidden layer,
        ``n_layers`` for the output layer's probabilities, or ``"all"``:
        every hidden layer's features, each scaled to unit length per
        sample, side by side. None is ``"all"`` for k-NN and the top hidden
        layer for LogME. Ignored by LEEP and NCE, which read the source's
        output.

    Returns
    -------
    score : float

    See Also
    --------
    rank_sources : Score several sources at once.
    make_transferability_scorer : The same scores as a scikit-learn scorer.

    References
    ----------
    .. [1] C. Nguyen, T. Hassner, M. Seeger and C. Archambeau, "LEEP: a new
       measure to evaluate transferability of learned representations",
       ICML 2020.
    .. [2] A. T. Tran, C. V. Nguyen and T. Hassner, "Transferability and
       hardness of supervised classification tasks", ICCV 2019.
    .. [3] K. You, Y. Liu, J. Wang and M. Long, "LogME: practical assessment
       of pre-trained models for transfer learning", ICML 2021.
    .. [4] M. Sorkhei, C. Matsoukas, J. Fredin Haslum, E. Konuk and K. Smith,
       "k-NN as a simple and effective estimator of transferability", TMLR
       2025.

    Examples
    --------
    >>> from skalltransfer import StackedAutoencoderClassifier, transferability
    >>> from skalltransfer.datasets import load_mnist, load_fashion_mnist_subset
    >>> from skalltransfer.datasets import make_target_task
    >>> Xs, ys = load_mnist()
    >>> source = StackedAutoencoderClassifier(
    ...     (32,), pretrain_max_iter=1, max_iter=2, random_state=0
    ... )
    >>> source = source.fit(Xs, ys)
    >>> X, y = load_fashion_mnist_subset()
    >>> Xt, yt = make_target_task(X, y, classes=[1, 3], n_per_class=20, random_state=0)
    >>> score = transferability(source, Xt, yt, method="leep")
    >>> score <= 0
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if layer is not None and method in _OUTPUT_SCORES:
        raise ValueError(
            f"layer is read by 'logme' and 'knn' only; {method!r} scores the "
            "source's output probabilities. Pass layer=None."
        )
    source, stack = _source_stack(source)
    _check_layer(layer, ("all", "top"), stack.n_layers)
    X, codes, n_classes = _check_target(source, stack, X, y)
    if method in _FEATURE_SCORES:
        features = _features(
            stack, X, _DEFAULT_LAYER[method] if layer is None else layer
        )
        return _FEATURE_SCORES[method](features, codes, n_classes)
    outputs = batched(stack.output_proba, X, CHUNK_ROWS)
    return _OUTPUT_SCORES[method](outputs, codes, n_classes)


def rank_sources(sources, X, y, *, method="leep", layer=None):
    """Score several sources on one target set, best first.

    Parameters
    ----------
    sources : dict of {str: estimator}
        Fitted source models (or fitted transfer estimators) by name.
    X, y : array-like
        The target set.
    method : {"leep", "nce", "logme", "knn"}, default="leep"
        The transferability score, as in :func:`transferability`.
    layer : int, "all" or None, default=None
        See :func:`transferability`.

    Returns
    -------
    ranking : Bunch
        ``source`` (names), ``score`` and ``seconds`` (time to score each),
        arrays sorted by decreasing score, plus ``method``.
        ``pandas.DataFrame(ranking)`` reads it as a table (drop ``method``).

    Examples
    --------
    >>> from skalltransfer import rank_sources  # doctest: +SKIP
    >>> rank_sources({"sae": sae, "mpdbm": dbm}, Xt, yt)  # doctest: +SKIP
    """
    if not isinstance(sources, dict) or not sources:
        raise TypeError(
            "sources must be a non-empty dict {name: fitted source model}, got "
            f"{type(sources).__name__}."
        )
    names, scores, seconds = [], [], []
    for name, source in sources.items():
        start = time.perf_counter()
        try:
            scores.append(transferability(source, X, y, method=method, layer=layer))
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"source {name!r}: {exc}") from exc
        seconds.append(time.perf_counter() - start)
        names.append(str(name))
    order = np.argsort(-np.asarray(scores), kind="stable")
    return Bunch(
        source=np.asarray(names, dtype=object)[order],
        score=np.asarray(scores)[order],
        seconds=np.asarray(seconds)[order],
        method=method,
    )


def make_transferability_scorer(method="leep", layer=None):
    """A scikit-learn scorer that rates a transfer estimator's source.

    ``scorer(estimator, X, y)`` returns :func:`transferability` of the
    fitted estimator's source on ``(X, y)``. With a transfer estimator that
    does not fine-tune (``max_iter=0``), ``GridSearchCV`` then pre-screens
    sources or source architectures in seconds: each candidate costs a source
    fit (cached) and a forward pass.

    Parameters
    ----------
    method : {"leep", "nce", "logme", "knn"}, default="leep"
        The transferability score, as in :func:`transferability`.
    layer : int, "all", "transferred" or None, default=None
        LogME's and k-NN's layer, as in :func:`transferability`;
        ``"transferred"`` reads
        the estimator's ``n_transferred_layers_`` (the features a new head is
        trained on), the top hidden layer when every layer is transferred.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``. A fitted ``Pipeline`` is
        scored through its last step, ``X`` passing its other steps.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skalltransfer import AllTransferClassifier, SourceData
    >>> from skalltransfer import StackedAutoencoderClassifier
    >>> from skalltransfer import make_transferability_scorer
    >>> search = GridSearchCV(
    ...     AllTransferClassifier(
    ...         StackedAutoencoderClassifier(random_state=0),
    ...         source_data=SourceData(Xs, ys),
    ...         max_iter=0,
    ...     ),
    ...     {"source__hidden_layer_sizes": [(100,), (500, 500)]},
    ...     scoring=make_transferability_scorer("leep"),
    ... )  # doctest: +SKIP
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    # Checked here: inside a search, a bad layer would score every candidate
    # NaN and leave best_params_ arbitrary.
    _check_layer(layer, allowed=("all", "top", "transferred"))
    if layer is not None and method in _OUTPUT_SCORES:
        raise ValueError(
            f"layer is read by 'logme' and 'knn' only; {method!r} scores the "
            "source's output probabilities. Pass layer=None."
        )

    def scorer(estimator, X, y):
        if hasattr(estimator, "steps"):
            X = estimator[:-1].transform(X)
            estimator = estimator[-1]
        chosen = layer
        if layer == "transferred":
            _, stack = _source_stack(estimator)
            T = getattr(estimator, "n_transferred_layers_", stack.n_layers)
            chosen = stack.n_layers - 1 if T >= stack.n_layers else max(int(T), 1)
        return transferability(estimator, X, y, method=method, layer=chosen)

    return scorer
