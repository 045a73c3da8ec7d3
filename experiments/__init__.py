"""The experiments: one module and one YAML file each, found by name (no list to edit).

An experiment ``NAME`` is the module ``experiments/NAME.py`` plus ``configs/experiment/NAME.yaml``.
The module defines:

- ``SECTION``: the roadmap section it illustrates (a string);
- ``Config``: a dataclass, the schema of the YAML's ``NAME:`` section (fields made with
  :func:`experiments._schema.param`, so ranges and choices are checked before anything runs);
- ``Results``, ``compute(cfg, ctx) -> Results`` (the only phase that calls kernels),
  ``claims(cfg, results, ctx)``, optional ``metrics``/``KEY_METRICS``, ``FIGURES`` and ``TEXTS``:
  the three phases the runner (``experiments/_runner.py``) turns into a report; README "Adding an
  experiment" has the whole shape.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def available() -> list[str]:
    """Names of the experiments that have both a module and a YAML file."""
    here = Path(__file__).resolve().parent
    yamls = {p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml")}
    modules = {p.stem for p in here.glob("*.py") if not p.stem.startswith("_")}
    return sorted(yamls & modules)


def load(name: str) -> ModuleType:
    """Imports the module of experiment ``name``."""
    if name not in available():
        raise KeyError(f"unknown experiment {name!r}; available: {', '.join(available())}")
    return importlib.import_module(f"experiments.{name}")
