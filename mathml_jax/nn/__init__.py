"""A small neural network, where the earlier pieces meet: layers sigma(A x + b) (linear maps and
a nonlinearity), the chain rule (backpropagation), the Hessian of the loss (its spectrum, by
matrix-free Lanczos), and stochastic optimisation (minibatch SGD, Adam).

- :mod:`~mathml_jax.nn.mlp`: the network, its cross-entropy, its parameters as one vector;
- :mod:`~mathml_jax.nn.data`: two moons (with the Bayes posterior) and the digits split;
- :mod:`~mathml_jax.nn.train`: minibatch training, seeds x optimisers in one ``vmap``;
- :mod:`~mathml_jax.nn.backprop`: the chain rule by hand in NumPy float64 (the reference);
- :mod:`~mathml_jax.nn.spectrum` and :mod:`~mathml_jax.nn.stability`: the Hessian's extreme
  eigenvalues, trace and density, and the edge of stability.
"""

from mathml_jax.nn.backprop import np_backprop, np_loss, np_unravel
from mathml_jax.nn.data import digits_split, two_moons, two_moons_bayes_posterior
from mathml_jax.nn.mlp import (
    ACTIVATIONS,
    accuracy,
    cross_entropy,
    flat_loss,
    init_mlp,
    logits,
    num_params,
    ravel,
)
from mathml_jax.nn.train import History, class_probabilities, train, train_seeds

__all__ = [
    "ACTIVATIONS", "History", "accuracy", "class_probabilities", "cross_entropy", "digits_split",
    "flat_loss", "init_mlp", "logits", "np_backprop", "np_loss", "np_unravel", "num_params",
    "ravel", "train", "train_seeds", "two_moons", "two_moons_bayes_posterior",
]
