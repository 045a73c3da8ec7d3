"""Eigen-decompositions from ``jnp.linalg`` and what they are for: residuals of A v = lambda v,
diagonalisation A = V diag(lambda) V^-1, and powers of A through it."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from mathml_jax.linalg import lapack


@jax.jit
def eigenpair_residuals(a, eigenvalues, eigenvectors):
    """||A v_i - lambda_i v_i|| / ||v_i|| for every column v_i of ``eigenvectors`` (real or
    complex). Returns shape (n,)."""
    a = a.astype(eigenvectors.dtype)
    r = a @ eigenvectors - eigenvectors * eigenvalues[None, :]
    return jnp.linalg.norm(r, axis=0) / jnp.linalg.norm(eigenvectors, axis=0)


@jax.jit
def diagonalisation_error(a, eigenvalues, eigenvectors):
    """||A - V diag(lambda) V^-1||_F / ||A||_F (the solve avoids forming V^-1)."""
    v = eigenvectors
    rebuilt = lapack.solve(v.T, (v * eigenvalues[None, :]).T).T
    return jnp.linalg.norm(a - rebuilt) / jnp.linalg.norm(a)


@partial(jax.jit, static_argnames=("k",))
def power_by_eigen(eigenvalues, eigenvectors, *, k: int):
    """A^k = V diag(lambda^k) V^-1: k-th power through the diagonalisation (real part, for a
    real A)."""
    v = eigenvectors
    return jnp.real(lapack.solve(v.T, (v * (eigenvalues**k)[None, :]).T).T)


@partial(jax.jit, static_argnames=("k",))
def power_by_products(a, *, k: int):
    """A^k by k - 1 repeated multiplications A (A (... A)) in a ``fori_loop``."""
    return jax.lax.fori_loop(1, k, lambda _, p: a @ p, a)


@jax.jit
def circle_image(a, angles):
    """The image A x of the unit-circle points x = (cos t, sin t): shape (len(angles), 2)."""
    x = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)
    return x @ a.T
