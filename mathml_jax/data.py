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
    X, target = _breast_cancer_raw()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    if bias:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    y = np.where(target == 1, 1.0, -1.0)
    return X, y


def _breast_cancer_raw() -> tuple[np.ndarray, np.ndarray]:
    """(features (569, 30), targets (569,)) as ``load_breast_cancer`` gives them.

    Read straight from the CSV file scikit-learn ships (a header line, then 30 features and
    the target per row): importing ``sklearn.datasets`` costs about a second of start-up
    (SciPy's sparse and stats modules, joblib), the file takes milliseconds. Where the file is
    not found, scikit-learn's loader is used.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "datasets" / "data" / "breast_cancer.csv"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
            return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return np.asarray(data.data, dtype=np.float64), np.asarray(data.target)
