"""Data for the linear-algebra experiments, from files that ship with installed packages
(nothing is downloaded): matplotlib's sample photograph and scikit-learn's digits."""

from __future__ import annotations

import numpy as np

SAMPLE_PHOTO = "grace_hopper.jpg"  # 600 x 512 RGB, in matplotlib's mpl-data/sample_data
DIGITS_SHAPE = (1797, 64)  # sklearn.datasets.load_digits: 8x8 images, 10 classes


def sample_photograph(stride: int = 1) -> np.ndarray:
    """matplotlib's sample photograph (Grace Hopper) in grey levels in [0, 1], float64.

    The grey level is the ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B; ``stride`` keeps every
    ``stride``-th row and column (shape (600 // stride, 512 // stride) rounded up).
    """
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    with cbook.get_sample_data(SAMPLE_PHOTO) as f:
        rgb = np.asarray(mpimg.imread(f, format="jpg"), dtype=np.float64) / 255.0
    grey = rgb[..., :3] @ np.array([0.299, 0.587, 0.114])
    return grey[::stride, ::stride]


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits: X (1797, 64) float64 in [0, 16], y (1797,)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.asarray(d.data, np.float64), np.asarray(d.target)
