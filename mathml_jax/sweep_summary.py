"""``python -m mathml_jax.sweep_summary [SWEEP_DIR] [--metric M] [--param P]``: the summary table
(one column per claim id) and plot of a sweep folder. The work is done by
:mod:`experiments._summary`, which reads Hydra's job folders; this is the documented entry
point."""

from experiments._summary import main

if __name__ == "__main__":
    raise SystemExit(main())
