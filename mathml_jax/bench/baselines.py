"""The baselines the suite's kernels are timed against: the NumPy (and SciPy) code a user would
write for the same job, vectorised over the batch, on the same data and dtype.

They are also the independent references of the benchmark's accuracy claims when run in
float64: every derivative below is written out by hand (no autodiff), so they share no code
with the JAX kernels.

- Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2:
  grad f = (-2 (1 - x) - 400 x (y - x^2), 200 (y - x^2)).
- Himmelblau f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2:
  f_x = 4 x (x^2 + y - 11) + 2 (x + y^2 - 7),  f_y = 2 (x^2 + y - 11) + 4 y (x + y^2 - 7),
  f_xx = 12 x^2 + 4 y - 42,  f_yy = 12 y^2 + 4 x - 26,  f_xy = 4 (x + y).
"""

from __future__ import annotations

import numpy as np

from mathml_jax.status import Kind  # the codes only: a pure-Python enumeration, no JAX

# ------------------------------------------------------------------- multi-start descent

def rosenbrock_grad(X: np.ndarray) -> np.ndarray:
    """grad f at every row of X (K, 2)."""
    x, y = X[:, 0], X[:, 1]
    r = y - x * x
    return np.stack([-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r], axis=1).astype(X.dtype)


def gd_numpy(X0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """``steps`` steps of X <- X - lr grad f(X) on Rosenbrock, all starts at once: the end
    points (K, 2), in X0's dtype."""
    X = X0.copy()
    lr = X.dtype.type(lr)
    for _ in range(steps):
        X -= lr * rosenbrock_grad(X)
    return X


def adam_numpy(X0: np.ndarray, lr: float, steps: int, b1: float = 0.9, b2: float = 0.999,
               eps: float = 1e-8) -> np.ndarray:
    """Adam (Kingma and Ba, 2015, as optax.adam) on Rosenbrock from every row of X0:

        m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
        x <- x - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""
    X = X0.copy()
    t = X.dtype.type
    m = np.zeros_like(X)
    v = np.zeros_like(X)
    for k in range(1, steps + 1):
        g = rosenbrock_grad(X)
        m = t(b1) * m + t(1 - b1) * g
        v = t(b2) * v + t(1 - b2) * g * g
        mhat = m / t(1 - b1**k)
        vhat = v / t(1 - b2**k)
        X -= t(lr) * mhat / (np.sqrt(vhat) + t(eps))
    return X


# ------------------------------------------------------------------- Himmelblau

def himmelblau(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def himmelblau_grad(x, y):
    a, b = x * x + y - 11.0, x + y * y - 7.0
    return 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


def himmelblau_hessian(x, y):
    """(f_xx, f_xy, f_yy) at every point, exactly (polynomials)."""
    return 12.0 * x * x + 4.0 * y - 42.0, 4.0 * (x + y), 12.0 * y * y + 4.0 * x - 26.0


def eigvalsh_2x2(a, b, c):
    """Eigenvalues (ascending) of [[a, b], [b, c]]: m -+ hypot((a - c)/2, b), m = (a + c)/2."""
    m = 0.5 * (a + c)
    r = np.hypot(0.5 * (a - c), b)
    return np.stack([m - r, m + r], axis=-1)


def classify_eigenvalues(lam: np.ndarray, tol: float) -> np.ndarray:
    """Codes from ascending eigenvalues (n, 2), with the rule of ``classify_hessian``."""
    pos, neg = (lam > tol).any(axis=1), (lam < -tol).any(axis=1)
    zero = (np.abs(lam) <= tol).any(axis=1)
    return np.where(pos & neg, Kind.SADDLE, np.where(
        zero, Kind.DEGENERATE, np.where(pos, Kind.MINIMUM, Kind.MAXIMUM))).astype(np.int32)


def classify_fd_numpy(P: np.ndarray, h: float, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Second-derivative test at every row of P (n, 2) from the 9-point stencil:

        f_xx ~ (f(x+h, y) - 2 f + f(x-h, y)) / h^2,   f_yy likewise,
        f_xy ~ (f(x+h, y+h) - f(x+h, y-h) - f(x-h, y+h) + f(x-h, y-h)) / (4 h^2);

    eigenvalues in closed form. Returns (codes (n,), eigenvalues (n, 2))."""
    x, y = P[:, 0], P[:, 1]
    h = P.dtype.type(h)
    f0 = himmelblau(x, y)
    fxx = (himmelblau(x + h, y) - 2 * f0 + himmelblau(x - h, y)) / (h * h)
    fyy = (himmelblau(x, y + h) - 2 * f0 + himmelblau(x, y - h)) / (h * h)
    fxy = (himmelblau(x + h, y + h) - himmelblau(x + h, y - h) - himmelblau(x - h, y + h)
           + himmelblau(x - h, y - h)) / (4 * h * h)
    lam = eigvalsh_2x2(fxx, fxy, fyy)
    return classify_eigenvalues(lam, tol), lam


def newton_numpy(P0: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` Newton steps x <- x - H^{-1} grad f on Himmelblau from every row of P0,
    H^{-1} g by Cramer's rule. Returns the end points (n, 2)."""
    x, y = P0[:, 0].copy(), P0[:, 1].copy()
    for _ in range(steps):
        gx, gy = himmelblau_grad(x, y)
        a, b, c = himmelblau_hessian(x, y)
        det = a * c - b * b
        x = x - (c * gx - b * gy) / det
        y = y - (a * gy - b * gx) / det
    return np.stack([x, y], axis=1)


# ------------------------------------------------------------------- coin flips

_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _popcount_sum(words: np.ndarray) -> int:
    if hasattr(np, "bitwise_count"):  # NumPy >= 2.0
        return int(np.bitwise_count(words).sum(dtype=np.int64))
    return int(_POPCOUNT8[words.view(np.uint8)].sum(dtype=np.int64))


def coin_uniform_numpy(rng: np.random.Generator, n: int, p: float = 0.5,
                       chunk: int = 1 << 22) -> int:
    """Heads in ``n`` flips as a user writes it: ``(rng.random(m) < p).sum()``, in chunks."""
    heads, done = 0, 0
    while done < n:
        m = min(chunk, n - done)
        heads += int(np.count_nonzero(rng.random(m) < p))
        done += m
    return heads


def coin_bits_numpy(rng: np.random.Generator, n: int, chunk: int = 1 << 20) -> int:
    """Heads in ``n`` fair flips at the bit level: PCG64's raw 64-bit outputs
    (``bit_generator.random_raw``), one flip per bit, counted by popcount. ``n`` is rounded up
    to a multiple of 64."""
    words = -(-n // 64)
    heads, done = 0, 0
    while done < words:
        m = min(chunk, words - done)
        heads += _popcount_sum(rng.bit_generator.random_raw(m))
        done += m
    return heads


# ------------------------------------------------------------------- randomised SVD

def randomized_svd_numpy(A: np.ndarray, rank: int, oversample: int, power_iters: int,
                         rng: np.random.Generator):
    """The randomised SVD of :func:`mathml_jax.linalg.randomized_svd`, in NumPy: Gaussian
    sketch, ``power_iters`` re-orthonormalised power iterations, QR, small SVD."""
    n = A.shape[1]
    omega = rng.standard_normal((n, rank + oversample)).astype(A.dtype)
    Q, _ = np.linalg.qr(A @ omega)
    for _ in range(power_iters):
        Z, _ = np.linalg.qr(A.T @ Q)
        Q, _ = np.linalg.qr(A @ Z)
    ub, s, vt = np.linalg.svd(Q.T @ A, full_matrices=False)
    return (Q @ ub)[:, :rank], s[:rank], vt[:rank]
