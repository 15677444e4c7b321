"""AIFT candidate selection (Zhou et al., CVPR 2017): entropy and diversity of
the predictions on augmented copies ("patches") of each candidate."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from skalltransfer._core._images import square_image_shape
from skalltransfer._kernels._shifts import shift_images
from skalltransfer.active._strategies import QueryStrategy, top_batch

# MATLAB's ``eps`` (= float64 machine epsilon): the official demo adds it
# inside every log, which makes p in {0, 1} give large but finite diversities.
MATLAB_EPS = float(np.finfo(np.float64).eps)


def matlab_round(x):
    """Round half away from zero, like MATLAB's ``round`` (NumPy rounds half to
    even: ``np.round(2.5) == 2``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def n_majority_patches(n_patches, alpha):
    """Patches kept by majority selection: ``round(alpha * m)``, at least 1."""
    return max(1, int(matlab_round(alpha * n_patches)))


def majority_selection(P, alpha):
    """Keep the ``round(alpha * m)`` patches that agree most with the majority.

    ``P`` has shape (n_candidates, m, n_classes). Binary case, exactly as the
    paper (Sec. 3.3) and its demo: if the mean probability of the positive
    class (column 1) exceeds 0.5 keep the patches with the largest, otherwise
    the smallest, positive probability. Multiclass (our extension): keep the
    patches with the largest probability of the dominant class, the arg-max
    of the mean prediction. Ties keep the patch order. Returns an array of
    shape (n_candidates, k, n_classes).
    """
    n, m, n_classes = P.shape
    k = n_majority_patches(m, alpha)
    mean = P.mean(axis=1)
    if n_classes == 2:
        dominant = (mean[:, 1] > 0.5).astype(np.intp)
    else:
        dominant = np.argmax(mean, axis=1)
    support = np.take_along_axis(P, dominant[:, None, None], axis=2)[:, :, 0]
    order = np.argsort(-support, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(P, order[:, :, None], axis=1)


def aift_scores(
    P, alpha=0.25, lambda_entropy=1.0, lambda_diversity=1.0, eps=MATLAB_EPS
):
    r"""AIFT score of each candidate: the sum of its matrix :math:`R_i`.

    For the patches kept by :func:`majority_selection`,

    .. math::
        R_i(j, l) = \begin{cases}
            \lambda_1 e_i^j = -\lambda_1 \sum_k p_i^{j,k} \log(p_i^{j,k} + \epsilon)
                & j = l \\
            \lambda_2 d_i(j, l) = \lambda_2 \sum_k (p_i^{j,k} - p_i^{l,k})
                \log\frac{p_i^{j,k} + \epsilon}{p_i^{l,k} + \epsilon}
                & j \ne l
        \end{cases}

    and the score is :math:`\sum_{j,l} R_i(j,l)` (Zhou et al. 2017, eq. 3 and
    Alg. 1), computed in float64 with the demo's :math:`\epsilon` (MATLAB
    ``eps``) inside the logs.

    Parameters
    ----------
    P : array-like of shape (n_candidates, n_patches, n_classes)
        Predicted probabilities of each patch of each candidate.
    alpha : float in (0, 1], default=0.25
        Fraction of patches kept by majority selection (1 keeps all).
    lambda_entropy, lambda_diversity : float, default=1.0
        The paper's :math:`\lambda_1, \lambda_2` (entropy only: (1, 0);
        diversity only: (0, 1)).
    eps : float, default=MATLAB_EPS
        Offset inside the logs.

    Returns
    -------
    scores : ndarray of shape (n_candidates,)

    Examples
    --------
    Pattern A of the paper's Table 1 (11 patches of one binary candidate):

    >>> import numpy as np
    >>> from skalltransfer.active import aift_scores
    >>> p = np.array([0.4, 0.4, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.6])
    >>> P = np.stack([1 - p, p], axis=-1)[None]
    >>> np.round(aift_scores(P, alpha=1.0), 2)
    array([11.9])
    >>> np.round(aift_scores(P, alpha=0.25), 2)
    array([2.02])
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 3:
        raise ValueError(
            f"P must have shape (n_candidates, n_patches, n_classes), got {P.shape}."
        )
    if not np.all(np.isfinite(P)) or np.any(P < 0):
        raise ValueError(
            "P must hold probabilities (finite, non-negative), but it has NaN, "
            "infinite or negative entries."
        )
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}.")
    S = majority_selection(P, alpha)
    logS = np.log(S + eps)
    entropy = -np.sum(S * logS, axis=2).sum(axis=1)
    # Symmetric KL of every ordered pair of kept patches (k is small).
    diff_p = S[:, :, None, :] - S[:, None, :, :]
    diff_log = logS[:, :, None, :] - logS[:, None, :, :]
    diversity = np.sum(diff_p * diff_log, axis=(1, 2, 3))
    return lambda_entropy * entropy + lambda_diversity * diversity


def random_shift_augment(X, n_augment, rng, *, max_shift=2):
    """Copies of flattened square images shifted by up to ``max_shift`` pixels.

    Each copy gets an independent shift (dy, dx) drawn uniformly from
    ``[-max_shift, max_shift]^2``; pixels shifted in are 0 (background). This
    default stands in for the paper's random crops of a candidate (our
    adaptation for small flattened images).

    Parameters
    ----------
    X : ndarray of shape (n_samples, side * side)
        Flattened square one-channel images.
    n_augment : int
        Number of shifted copies of each image.
    rng : numpy.random.RandomState or numpy.random.Generator
        Source of the shifts.
    max_shift : int, default=2
        Largest shift, in pixels, along each axis.

    Returns
    -------
    patches : ndarray of shape (n_samples, n_augment, side * side)
    """
    n, d = X.shape
    shape = square_image_shape(d)
    if shape is None:
        raise ValueError(
            f"The default augment shifts square images, but X has {d} features "
            "(not a square number); pass augment=callable(X, n_augment, rng) "
            "returning an array of shape (n_samples, n_augment, n_features)."
        )
    if (
        isinstance(n_augment, bool)
        or not isinstance(n_augment, Integral)
        or n_augment < 1
    ):
        raise ValueError(f"n_augment must be a positive int, got {n_augment!r}.")
    if (
        isinstance(max_shift, bool)
        or not isinstance(max_shift, Integral)
        or max_shift < 0
    ):
        raise ValueError(f"max_shift must be a non-negative int, got {max_shift!r}.")
    s = int(max_shift)
    if not hasattr(rng, "integers"):
        rng = check_random_state(rng)
    draw = rng.integers if hasattr(rng, "integers") else rng.randint
    shifts = draw(-s, s + 1, size=(n, n_augment, 2)).reshape(-1, 2)
    copies = np.ascontiguousarray(np.repeat(X, n_augment, axis=0))
    out = np.empty_like(copies)
    shift_images(copies, shifts[:, 0], shifts[:, 1], *shape, out)
    return out.reshape(n, n_augment, d)


class AIFTSampling(QueryStrategy):
    """AIFT active candidate selection (Zhou et al., CVPR 2017).

    Each unlabelled candidate is augmented into ``n_augment`` patches, the
    classifier predicts every patch, and candidates are ranked by
    :func:`aift_scores`: the entropy of the patch predictions (how uncertain
    the model is) plus their pairwise symmetric KL divergence (how much the
    patches disagree), computed on the ``alpha`` fraction of patches that
    agree with the majority prediction (robustness to noisy patches).

    Parameters
    ----------
    alpha : float in (0, 1], default=0.25
        Majority-selection ratio (the paper's demo value 1/4).
    lambda_entropy : float, default=1.0
        Weight of the entropy terms (the paper's lambda_1).
    lambda_diversity : float, default=1.0
        Weight of the diversity terms (the paper's lambda_2).
    n_augment : int, default=11
        Patches per candidate (m; 11 in the paper's Table 1).
    augment : callable or None, default=None
        ``augment(X_candidates, n_augment, rng)`` returning an array of shape
        (n_candidates, n_augment, n_features). None uses
        :func:`random_shift_augment` (random shifts of up to 2 pixels of
        flattened square images), our stand-in for the paper's crops.
    random_state : int, RandomState instance or None, default=None
        Seeds the augmentation generator (created at the first query).
    missing_label : scalar, str or None, default=np.nan
        Marker of the unlabelled entries of ``y``.

    Attributes
    ----------
    random_state_ : RandomState
        The generator, after the first query.

    Notes
    -----
    The binary rule of majority selection is the paper's; for more than two
    classes we keep the patches most confident in the dominant class (the
    arg-max of the mean prediction), which reduces to it for two classes.
    Both the default augmentation and this multiclass rule are adaptations,
    not part of the original method.

    References
    ----------
    .. [1] Z. Zhou, J. Shin, L. Zhang, S. Gurudu, M. Gotway and J. Liang,
       "Fine-tuning convolutional neural networks for biomedical image
       analysis: actively and incrementally", CVPR 2017.
    """

    _parameter_constraints: dict = {
        **QueryStrategy._parameter_constraints,
        "alpha": [Interval(Real, 0, 1, closed="right")],
        "lambda_entropy": [Interval(Real, 0, None, closed="left")],
        "lambda_diversity": [Interval(Real, 0, None, closed="left")],
        "n_augment": [Interval(Integral, 1, None, closed="left")],
        "augment": [callable, None],
        "random_state": ["random_state"],
    }

    # Candidates predicted per call of predict_proba, in units of patches.
    _chunk_patches = 8192

    def __init__(
        self,
        alpha=0.25,
        *,
        lambda_entropy=1.0,
        lambda_diversity=1.0,
        n_augment=11,
        augment=None,
        random_state=None,
        missing_label=np.nan,
    ):
        self.alpha = alpha
        self.lambda_entropy = lambda_entropy
        self.lambda_diversity = lambda_diversity
        self.n_augment = n_augment
        self.augment = augment
        self.random_state = random_state
        self.missing_label = missing_label

    def _patch_proba(self, Xc, clf, rng):
        augment = self.augment or random_shift_augment
        m = self.n_augment
        patches = np.asarray(augment(Xc, m, rng))
        expected = (Xc.shape[0], m, Xc.shape[1])
        if patches.shape != expected:
            raise ValueError(
                f"augment returned an array of shape {patches.shape}; expected "
                f"(n_candidates, n_augment, n_features) = {expected}."
            )
        proba = np.asarray(clf.predict_proba(patches.reshape(-1, Xc.shape[1])))
        return proba.reshape(Xc.shape[0], m, -1)

    def _select(self, X, labeled, unlabeled, clf, batch_size, rng):
        utilities = np.full(X.shape[0], np.nan)
        step = max(1, self._chunk_patches // self.n_augment)
        for start in range(0, unlabeled.size, step):
            rows = unlabeled[start : start + step]
            P = self._patch_proba(X[rows], clf, rng)
            utilities[rows] = aift_scores(
                P, self.alpha, self.lambda_entropy, self.lambda_diversity
            )
        return top_batch(utilities, unlabeled, batch_size)
