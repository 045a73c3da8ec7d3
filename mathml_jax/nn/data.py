"""The two classification problems of the network experiment: two interleaved half-moons made
in code (2-D, two classes), and scikit-learn's bundled handwritten digits (64-D, ten classes).
Nothing is downloaded."""

from __future__ import annotations

import numpy as np

from mathml_jax.linalg.datasets import digits


def two_moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points on two interleaved half-circles plus Gaussian noise; labels 0 and 1.

    Class 0 lies on (cos t, sin t), class 1 on (1 - cos t, 1/2 - sin t), t uniform on [0, pi]
    (the curves of ``sklearn.datasets.make_moons``); each coordinate then gets N(0, noise^2)
    noise. Classes alternate, so any prefix is balanced to within one point.

    Returns:
      X: float64 (n, 2); y: int32 (n,).
    """
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int32)
    t = rng.uniform(0.0, np.pi, n)
    X = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], axis=1),
                 np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1))
    return X + noise * rng.standard_normal((n, 2)), y


def digits_split(num_train: int, seed: int) -> tuple[np.ndarray, ...]:
    """scikit-learn's digits, pixels scaled to [0, 1], shuffled with ``seed`` and split into
    ``num_train`` training and the rest held-out images: (X_train, y_train, X_test, y_test)."""
    X, y = digits()
    if not 0 < num_train < len(X):
        raise ValueError(f"num_train={num_train} must be in 1..{len(X) - 1}")
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order] / 16.0, y[order].astype(np.int32)
    return X[:num_train], y[:num_train], X[num_train:], y[num_train:]


def two_moons_bayes_posterior(X: np.ndarray, noise: float, num_t: int = 721) -> np.ndarray:
    """P(class 1 | x) of the two-moons distribution itself: the class densities are the
    averages over t of N(x; curve(t), noise^2 I) (midpoint rule on ``num_t`` points of
    [0, pi]), the classes equally likely. Its argmax is the Bayes classifier, the best any
    classifier can do on this problem."""
    t = (np.arange(num_t) + 0.5) * np.pi / num_t
    curves = (np.stack([np.cos(t), np.sin(t)], axis=1),
              np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1))
    logs = []
    for c in curves:
        d2 = ((np.asarray(X, np.float64)[:, None, :] - c[None]) ** 2).sum(axis=2)
        e = -d2 / (2 * noise**2)
        m = e.max(axis=1, keepdims=True)
        logs.append(m[:, 0] + np.log(np.exp(e - m).mean(axis=1)))
    return 0.5 * (1.0 + np.tanh(0.5 * (logs[1] - logs[0])))
