"""Test functions of optimisation, with their known minimisers and critical points.

Every function takes one point ``x`` of shape (d,) (and, for the quadratic, its parameters)
and returns a scalar, so ``jax.grad``, ``jax.hessian`` and ``vmap`` over starts apply directly.
The known points live here, once, so tests and experiments share them.

- ``quadratic(x, (A, b)) = 1/2 x^T A x - b^T x``; :func:`make_quadratic` builds A with a chosen
  condition number kappa = L / mu (eigenvalues from mu = 1/kappa to L = 1).
- ``rosenbrock(x) = (1 - x_0)^2 + 100 (x_1 - x_0^2)^2``, minimiser (1, 1).
- ``beale``, ``himmelblau``, ``saddle`` (x^2 - y^2), ``monkey_saddle`` (x^3 - 3 x y^2),
  ``quartic`` (x^4 + y^4), ``double_well`` ((x^2 - 1)^2 + y^2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from mathml_jax.linalg.random_matrices import symmetric_with_spectrum
from mathml_jax.status import Kind

# the known critical points' types, as the words of mathml_jax.status.Kind
MINIMUM, MAXIMUM, SADDLE, DEGENERATE = (Kind.MINIMUM.word, Kind.MAXIMUM.word, Kind.SADDLE.word,
                                        Kind.DEGENERATE.word)


def quadratic(x: jax.Array, params: tuple[jax.Array, jax.Array]) -> jax.Array:
    """1/2 x^T A x - b^T x with ``params = (A, b)``, A (d, d) symmetric, b (d,)."""
    A, b = params
    return 0.5 * x @ (A @ x) - b @ x


@partial(jax.jit, static_argnames=("d", "dtype"))
def make_quadratic(key: jax.Array, d: int, kappa, dtype=jnp.float32):
    """A quadratic with Hessian spectrum evenly spaced in [1/kappa, 1] (so L = 1, mu = 1/kappa).

    A = Q diag(lambda) Q^T with Q Haar-orthogonal
    (:func:`~mathml_jax.linalg.random_matrices.symmetric_with_spectrum`); b is Gaussian.
    ``kappa`` may be traced (a ``vmap`` over several condition numbers is one compilation).

    Returns:
      (A, b): shapes (d, d) and (d,). The minimiser is A^{-1} b.
    """
    if d < 2:
        raise ValueError(f"make_quadratic needs d >= 2, got {d}")
    kq, kb = jax.random.split(key)
    lam = jnp.linspace(1.0 / kappa, 1.0, d).astype(dtype)
    A, _ = symmetric_with_spectrum(kq, lam)
    return A, jax.random.normal(kb, (d,), dtype)


ILL_KAPPA = 100.0
_ILL_A = np.array([[1.0 + 1.0 / ILL_KAPPA, 1.0 - 1.0 / ILL_KAPPA],
                   [1.0 - 1.0 / ILL_KAPPA, 1.0 + 1.0 / ILL_KAPPA]]) / 2.0
ILL_QUADRATIC_HESSIAN = _ILL_A  # eigenvalues 1 (along (1, 1)) and 1/kappa (along (1, -1))


def ill_conditioned_quadratic(x: jax.Array, params=None) -> jax.Array:
    """1/2 (x - m)^T A (x - m), m = (1, -1), A with eigenvalues 1 and 1/100 along the
    diagonals (rotated 45 degrees, so per-coordinate step sizes do not undo the conditioning)."""
    e = x - jnp.asarray([1.0, -1.0], x.dtype)
    a, c = (1.0 + 1.0 / ILL_KAPPA) / 2.0, (1.0 - 1.0 / ILL_KAPPA) / 2.0
    return 0.5 * (a * e[0] ** 2 + 2.0 * c * e[0] * e[1] + a * e[1] ** 2)


def rosenbrock(x: jax.Array, params=None) -> jax.Array:
    """(1 - x)^2 + 100 (y - x^2)^2: a curved, narrow valley; minimiser (1, 1), value 0."""
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def beale(x: jax.Array, params=None) -> jax.Array:
    """(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2; minimiser (3, 0.5)."""
    a, b = x[0], x[1]
    return ((1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2
            + (2.625 - a + a * b**3) ** 2)


def himmelblau(x: jax.Array, params=None) -> jax.Array:
    """(x^2 + y - 11)^2 + (x + y^2 - 7)^2: four minima (value 0), one maximum, four saddles."""
    return (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2


def saddle(x: jax.Array, params=None) -> jax.Array:
    """x^2 - y^2: one saddle point at the origin, unbounded below."""
    return x[0] ** 2 - x[1] ** 2


def monkey_saddle(x: jax.Array, params=None) -> jax.Array:
    """x^3 - 3 x y^2: one critical point, the origin, with a zero Hessian (degenerate)."""
    return x[0] ** 3 - 3.0 * x[0] * x[1] ** 2


def quartic(x: jax.Array, params=None) -> jax.Array:
    """x^4 + y^4: a minimum at the origin that the Hessian (zero there) cannot see."""
    return x[0] ** 4 + x[1] ** 4


def double_well(x: jax.Array, params=None) -> jax.Array:
    """(x^2 - 1)^2 + y^2: minima (+-1, 0), a saddle at the origin."""
    return (x[0] ** 2 - 1.0) ** 2 + x[1] ** 2


def quadratic_plus_cosines(x: jax.Array, A: jax.Array) -> jax.Array:
    """1/2 x^T A x + sum_i cos(x_i) + 1/4 sum_i x_i^4, for any dimension d.

    The origin is a critical point (every term is even) with Hessian A - I, so its type and
    spectrum are known in closed form: the high-dimensional case of the ``hessian`` experiment.
    """
    return 0.5 * x @ (A @ x) + jnp.sum(jnp.cos(x)) + 0.25 * jnp.sum(x**4)


# Himmelblau's critical points (rounded; the exact ones are roots of a polynomial system and are
# refined by Newton's method in the tests).
_HIMMELBLAU_POINTS = (
    ((3.0, 2.0), MINIMUM),
    ((-2.805118, 3.131312), MINIMUM),
    ((-3.779310, -3.283186), MINIMUM),
    ((3.584428, -1.848126), MINIMUM),
    ((-0.270845, -0.923039), MAXIMUM),
    ((0.086678, 2.884255), SADDLE),
    ((-3.073026, -0.081353), SADDLE),
    ((3.385154, 0.073852), SADDLE),
    ((-0.127961, -1.953715), SADDLE),
)


@dataclass(frozen=True)
class TestFunction:
    """A two-variable test function with what is known about it.

    Attributes:
      name: short name ("rosenbrock").
      fn: f(x, params=None) for x of shape (2,).
      minimisers: the global minimisers.
      critical_points: every critical point with its type (MINIMUM, MAXIMUM, SADDLE,
        DEGENERATE), where the function has finitely many.
      start: the standard starting point of the literature.
      xlim, ylim: the box the function is drawn on (and critical points are searched in).
    """

    __test__ = False  # not a pytest test class

    name: str
    fn: object
    minimisers: tuple[tuple[float, float], ...]
    critical_points: tuple[tuple[tuple[float, float], str], ...]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    min_value: float | None = 0.0
    notes: str = field(default="")


TEST_FUNCTIONS: dict[str, TestFunction] = {
    "ill_quadratic": TestFunction("ill_quadratic", ill_conditioned_quadratic, ((1.0, -1.0),),
                                  (((1.0, -1.0), MINIMUM),), (-2.0, 2.0), (-4.0, 4.0),
                                  (-4.0, 4.0), notes="condition number 100"),
    "rosenbrock": TestFunction("rosenbrock", rosenbrock, ((1.0, 1.0),), (((1.0, 1.0), MINIMUM),),
                               (-1.2, 1.0), (-2.0, 2.0), (-1.0, 3.0)),
    "beale": TestFunction("beale", beale, ((3.0, 0.5),), (((3.0, 0.5), MINIMUM),), (1.0, 1.0),
                          (-4.5, 4.5), (-4.5, 4.5),
                          notes="also a saddle at (0, 1) and degenerate points on y = 1"),
    "himmelblau": TestFunction("himmelblau", himmelblau,
                               tuple(p for p, t in _HIMMELBLAU_POINTS if t == MINIMUM),
                               _HIMMELBLAU_POINTS, (0.0, 0.0), (-5.0, 5.0), (-5.0, 5.0)),
    "saddle": TestFunction("saddle", saddle, (), (((0.0, 0.0), SADDLE),), (0.5, 1e-3),
                           (-2.0, 2.0), (-2.0, 2.0), min_value=None,
                           notes="unbounded below"),
    "monkey_saddle": TestFunction("monkey_saddle", monkey_saddle, (),
                                  (((0.0, 0.0), DEGENERATE),), (1.0, 1.0), (-2.0, 2.0),
                                  (-2.0, 2.0), min_value=None,
                                  notes="a saddle the Hessian test cannot classify"),
    "quartic": TestFunction("quartic", quartic, ((0.0, 0.0),), (((0.0, 0.0), DEGENERATE),),
                            (1.0, 1.0), (-2.0, 2.0), (-2.0, 2.0),
                            notes="a minimum the Hessian test cannot classify"),
    "double_well": TestFunction("double_well", double_well, ((1.0, 0.0), (-1.0, 0.0)),
                                (((1.0, 0.0), MINIMUM), ((-1.0, 0.0), MINIMUM),
                                 ((0.0, 0.0), SADDLE)), (0.1, 1.0), (-2.0, 2.0), (-2.0, 2.0)),
}


@cache
def switched(names: tuple[str, ...]):
    """f(x, i) = the i-th function of ``names`` at x, by ``lax.switch``.

    One kernel compiled for f then serves every function in ``names`` (the index is traced);
    the same tuple of names always gives the same (hashable) function object.
    """
    fns = [TEST_FUNCTIONS[n].fn for n in names]

    def f(x, i):
        return jax.lax.switch(i, fns, x)

    f.__name__ = f"switched_{'_'.join(names)}"
    return f


@partial(jax.jit, static_argnames=("f",))
def values_at(pts: jax.Array, index, *, f):
    """f(x, index) at every row x of ``pts`` (one vmap). With ``f`` from :func:`switched`, the
    index is traced, so one compilation serves every function of the switch."""
    return jax.vmap(f, in_axes=(0, None))(pts, index)
