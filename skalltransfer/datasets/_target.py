"""Drawing small-scale target tasks from a labelled dataset."""

import numbers

import numpy as np
from sklearn.utils import check_random_state


def make_target_task(X, y, classes, n_per_class, *, random_state=None, relabel=True):
    """Draw a small, class-balanced target task from a labelled dataset.

    For each class in ``classes``, ``n_per_class`` samples are drawn without
    replacement, as in small-scale transfer-learning experiments where the
    target task has only a few labelled samples per class. The selected
    samples keep their original relative order.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        The samples, e.g. flattened images.

    y : array-like of shape (n_samples,)
        The labels of ``X``.

    classes : sequence
        The labels of the classes to keep, in the order defining the new
        labels when ``relabel=True``. Must be non-empty and without duplicates.

    n_per_class : int
        Number of samples drawn from each class (at least 1).

    random_state : int, RandomState instance or None, default=None
        Controls the sampling. Pass an int for reproducible output across
        multiple function calls. See :term:`Glossary <random_state>`.

    relabel : bool, default=True
        If True, the label of a sample from ``classes[i]`` becomes ``i``
        (int64). If False, the original labels are kept.

    Returns
    -------
    X_sub : ndarray of shape (len(classes) * n_per_class, ...)
        The selected samples (a copy; ``X`` is not modified).

    y_sub : ndarray of shape (len(classes) * n_per_class,)
        Their labels, re-indexed to ``0 .. len(classes) - 1`` when
        ``relabel=True``.

    Raises
    ------
    ValueError
        If a class is absent from ``y`` or has fewer than ``n_per_class``
        samples, or if the arguments are inconsistent.

    Examples
    --------
    >>> from skalltransfer.datasets import (
    ...     load_fashion_mnist_subset,
    ...     make_target_task,
    ... )
    >>> X, y = load_fashion_mnist_subset()
    >>> X_t, y_t = make_target_task(X, y, [0, 6], n_per_class=10, random_state=0)
    >>> X_t.shape, sorted(set(y_t.tolist()))
    ((20, 784), [0, 1])
    """
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise ValueError(
            "classes must be a sequence of the labels to keep, e.g. classes=[1, 3], "
            f"got {classes!r}."
        )
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional; got shape {y.shape}.")
    if X.ndim == 0 or len(X) != len(y):
        raise ValueError(
            f"X and y must have the same number of samples; got X of shape "
            f"{X.shape} and y of shape {y.shape}."
        )
    if (
        isinstance(n_per_class, bool)
        or not isinstance(n_per_class, numbers.Integral)
        or n_per_class < 1
    ):
        raise ValueError(
            f"n_per_class must be a positive integer; got {n_per_class!r}."
        )
    if isinstance(classes, str):
        classes = [classes]
    classes = list(classes)
    if not classes:
        raise ValueError("classes must name at least one class.")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must not contain duplicates; got {classes}.")

    rng = check_random_state(random_state)
    available = np.unique(y)
    chosen = []
    for new_label, label in enumerate(classes):
        candidates = np.flatnonzero(y == label)
        if len(candidates) == 0:
            raise ValueError(
                f"Class {label!r} does not occur in y. Available classes: "
                f"{available.tolist()}."
            )
        if len(candidates) < n_per_class:
            raise ValueError(
                f"Class {label!r} has only {len(candidates)} samples, fewer than "
                f"n_per_class={n_per_class}. Lower n_per_class to at most "
                f"{len(candidates)} or choose other classes."
            )
        picked = rng.choice(candidates, n_per_class, replace=False)
        chosen.append((picked, np.full(n_per_class, new_label, dtype=np.int64)))
    indices = np.concatenate([picked for picked, _ in chosen])
    new_labels = np.concatenate([labels for _, labels in chosen])
    # Restore the original order rather than grouping the samples by class.
    order = np.argsort(indices, kind="stable")
    indices = indices[order]
    # Fancy indexing copies, so the inputs are never modified.
    y_sub = new_labels[order] if relabel else y[indices]
    return X[indices], y_sub
