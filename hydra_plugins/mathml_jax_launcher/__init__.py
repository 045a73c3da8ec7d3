"""mathml-jax's Hydra launcher plugin: :class:`~.robust_joblib.RobustJoblibLauncher`."""
