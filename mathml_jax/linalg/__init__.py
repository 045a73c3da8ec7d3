"""Linear-algebra kernels: random structured matrices, eigen-decompositions and power
iteration (more modules as the linear-algebra experiments grow)."""

from mathml_jax.linalg.eigen import (
    circle_image,
    diagonalisation_error,
    eigenpair_residuals,
    power_by_eigen,
    power_by_products,
)
from mathml_jax.linalg.gram_schmidt import (
    all_methods,
    classical_gram_schmidt,
    householder_qr,
    modified_gram_schmidt,
    orthogonality_loss,
)
from mathml_jax.linalg.linear_maps import (
    apply_matrix,
    linearity_defects,
    plane_maps,
    product_by_inner_products,
    translate,
)
from mathml_jax.linalg.norms import (
    axiom_defects,
    p_norm,
    parallelogram_defect,
    triangle_violation,
)
from mathml_jax.linalg.pca import (
    PCAResult,
    fix_signs,
    pca,
    pca_reconstruct,
    pca_reconstruct_ranks,
    pca_transform,
    sampled_pca_spectra,
)
from mathml_jax.linalg.power_iteration import (
    PowerState,
    power_init,
    power_iteration,
    power_iteration_batch,
    power_update,
    sin_angle,
)
from mathml_jax.linalg.random_matrices import (
    matrix_with_singular_values,
    random_orthogonal,
    symmetric_with_spectrum,
)
from mathml_jax.linalg.svd import (
    eckart_young_errors,
    randomized_svd,
    rank_k_approximation,
    thin_svd,
    truncation_residual_norms,
)
from mathml_jax.linalg.volume import (
    image_of_unit_square,
    monte_carlo_image_volume,
    monte_carlo_image_volumes,
    shoelace_signed_area,
)

__all__ = [
    "axiom_defects",
    "p_norm",
    "parallelogram_defect",
    "triangle_violation",
    "apply_matrix",
    "translate",
    "linearity_defects",
    "plane_maps",
    "product_by_inner_products",
    "image_of_unit_square",
    "monte_carlo_image_volume",
    "monte_carlo_image_volumes",
    "shoelace_signed_area",
    "all_methods",
    "classical_gram_schmidt",
    "householder_qr",
    "modified_gram_schmidt",
    "orthogonality_loss",
    "PCAResult",
    "fix_signs",
    "pca",
    "pca_reconstruct",
    "pca_reconstruct_ranks",
    "pca_transform",
    "sampled_pca_spectra",
    "eckart_young_errors",
    "randomized_svd",
    "rank_k_approximation",
    "thin_svd",
    "truncation_residual_norms",
    "PowerState",
    "circle_image",
    "diagonalisation_error",
    "eigenpair_residuals",
    "matrix_with_singular_values",
    "power_by_eigen",
    "power_by_products",
    "power_init",
    "power_iteration",
    "power_iteration_batch",
    "power_update",
    "random_orthogonal",
    "sin_angle",
    "symmetric_with_spectrum",
]
