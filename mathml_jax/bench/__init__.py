"""Benchmarks: timing statistics, ceilings and the NumPy/SciPy baselines of the ``benchmark``
experiment."""
