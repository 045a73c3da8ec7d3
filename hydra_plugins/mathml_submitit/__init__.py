"""Hydra's submitit launchers, made to finish every sweep (``hydra/launcher=local`` and
``hydra/launcher=slurm``; see :mod:`hydra_plugins.mathml_submitit.launcher`)."""
