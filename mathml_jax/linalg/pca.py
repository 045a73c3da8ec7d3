"""Principal component analysis through the SVD of the centred data.

X_c = X - mean = U diag(s) V^T; the principal directions are the rows of V^T, the explained
variances are s_i^2 / (n - 1) (the eigenvalues of the sample covariance X_c^T X_c / (n - 1)),
the coordinates (scores) are X_c V = U diag(s).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mathml_jax.linalg import lapack


class PCAResult(NamedTuple):
    """mean (d,), components (k, d) with orthonormal rows, explained_variance (k,),
    explained_variance_ratio (k,), singular_values (k,)."""

    mean: jax.Array
    components: jax.Array
    explained_variance: jax.Array
    explained_variance_ratio: jax.Array
    singular_values: jax.Array


def fix_signs(components):
    """Flips each row so its largest-magnitude entry is positive (the convention of
    scikit-learn's ``svd_flip`` with ``u_based_decision=False``); makes directions comparable."""
    idx = jnp.argmax(jnp.abs(components), axis=1)
    signs = jnp.sign(jnp.take_along_axis(components, idx[:, None], axis=1))
    return components * jnp.where(signs == 0, 1, signs)


@partial(jax.jit, static_argnames=("num_components",))
def pca(x, *, num_components: int) -> PCAResult:
    """PCA of the rows of ``x`` (n, d) keeping ``num_components`` directions (sign-fixed)."""
    n, d = x.shape
    if not 1 <= num_components <= min(n, d):
        raise ValueError(f"num_components={num_components} must be in 1..{min(n, d)}")
    mean = jnp.mean(x, axis=0)
    _, s, vt = lapack.svd(x - mean, full_matrices=False)
    var = s**2 / (n - 1)
    k = num_components
    return PCAResult(mean, fix_signs(vt[:k]), var[:k], var[:k] / jnp.sum(var), s[:k])


@jax.jit
def pca_transform(x, result: PCAResult):
    """Scores z = (x - mean) V_k: coordinates in the principal directions, shape (n, k)."""
    return (x - result.mean) @ result.components.T


@jax.jit
def pca_reconstruct(z, result: PCAResult):
    """x_hat = mean + z V_k^T: back from k coordinates to the data space."""
    return result.mean + z @ result.components


@partial(jax.jit, static_argnames=("num_samples",))
def sampled_pca_spectra(keys, cov_sqrt, *, num_samples: int):
    """For each key, draws ``num_samples`` Gaussian rows with covariance cov_sqrt cov_sqrt^T and
    returns the full PCA (all d components): (explained variances (t, d), components (t, d, d)).
    One ``vmap`` over the keys (independent trials)."""
    d = cov_sqrt.shape[0]

    def one(key):
        x = jax.random.normal(key, (num_samples, d), cov_sqrt.dtype) @ cov_sqrt.T
        r = pca(x, num_components=d)
        return r.explained_variance, r.components

    return jax.vmap(one)(keys)


@jax.jit
def pca_reconstruct_ranks(x, result: PCAResult, ks):
    """Reconstructions of ``x`` (n, d) from its first k principal coordinates for every k in
    ``ks`` (an integer array, traced: one compile for all k), shape (len(ks), n, d).
    Keeping the first k of all coordinates is a mask, so no shape depends on k."""
    z = pca_transform(x, result)
    keep = jnp.arange(result.components.shape[0])[None, :] < ks[:, None]  # (len(ks), kmax)
    return jax.vmap(lambda m: pca_reconstruct(z * m, result))(keep.astype(x.dtype))
