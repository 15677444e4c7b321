"""Session-wide tiny datasets. Tests stay fast: tiny nets, few epochs."""

import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """sklearn's 8x8 digits scaled to [0, 1] as float32: (1797, 64), 10 classes."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def digits_split(digits):
    X, y = digits
    rng = np.random.RandomState(0)
    order = rng.permutation(len(X))
    train, test = order[:1200], order[1200:]
    return X[train], X[test], y[train], y[test]
