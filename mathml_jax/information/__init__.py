"""Information theory kernels: entropy, optimal questioning (Huffman), cross-entropy and KL."""

from mathml_jax.information.entropy import differential_entropy, entropy
from mathml_jax.information.questions import (
    binary_search_questions,
    huffman_code_lengths,
    play_poisson_games,
)

__all__ = [
    "binary_search_questions",
    "differential_entropy",
    "entropy",
    "huffman_code_lengths",
    "play_poisson_games",
]
