"""``python -m mathml_jax.redraw RUN_DIR``: redraws every figure of a finished run (single job
or sweep) from its saved files alone. The work is done by :mod:`experiments._redraw`, where the
experiments' figure functions live; this is the documented entry point."""

from experiments._redraw import main

if __name__ == "__main__":
    raise SystemExit(main())
