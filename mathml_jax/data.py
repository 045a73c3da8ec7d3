"""Data sets that ship with installed packages (nothing is downloaded at run time)."""

from __future__ import annotations

import numpy as np

BREAST_CANCER_N = 569  # rows of sklearn.datasets.load_breast_cancer (checked by a test)


def breast_cancer(bias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled Wisconsin breast-cancer data, standardised, labels in {-1, +1}.

    Each of the 30 features is shifted to mean 0 and scaled to standard deviation 1 (over
    the whole data set); with ``bias=True`` a constant column of ones is appended, so a linear
    model ``X @ w`` has an intercept.

    Returns:
      X: float64 array of shape (569, 31) (or (569, 30) without the bias column).
      y: float64 array of shape (569,), +1 for benign, -1 for malignant.
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = np.asarray(data.data, dtype=np.float64)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    if bias:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    y = np.where(np.asarray(data.target) == 1, 1.0, -1.0)
    return X, y
