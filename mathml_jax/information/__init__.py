"""Information theory kernels: entropy, optimal questioning (Huffman), cross-entropy and KL."""

from mathml_jax.information.divergence import (
    cross_entropy,
    density_kl,
    fit_gaussian,
    gaussian_kl,
    kl_divergence,
    mixture_logpdf,
)
from mathml_jax.information.entropy import differential_entropy, entropy
from mathml_jax.information.questions import (
    binary_search_questions,
    huffman_code_lengths,
    play_poisson_games,
)

__all__ = [
    "binary_search_questions",
    "cross_entropy",
    "density_kl",
    "differential_entropy",
    "entropy",
    "fit_gaussian",
    "gaussian_kl",
    "huffman_code_lengths",
    "kl_divergence",
    "mixture_logpdf",
    "play_poisson_games",
]
