"""Redraws every figure of a finished run from its saved files alone: no kernel runs.

    python -m mathml_jax.redraw RUN_DIR [--formats png pdf svg] [--dpi 150]

``RUN_DIR`` is a job folder (``results/runs/<experiment>/<time>``), a sweep folder (every job
in it), or any folder above them: every job folder found below it (a folder holding
``metrics.json`` and ``series.npz``) is redrawn in place. The experiment's config comes from
``metrics.json`` (``experiment_config``), its results from ``series.npz``; the figures are the
experiment module's own figure functions, which draw with matplotlib only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from omegaconf import OmegaConf

import experiments
from experiments._runner import draw
from experiments._schema import FIGURE_FORMATS, build


def job_folders(root: Path) -> list[Path]:
    """The job folders at or below ``root`` that hold a finished run (a folder still marked
    INCOMPLETE was interrupted or killed: its files are not a finished run's)."""
    root = Path(root)
    found = [p.parent for p in sorted(root.rglob("series.npz"))
             if (p.parent / "metrics.json").is_file()
             and not (p.parent / "INCOMPLETE").exists()]
    return found


def load_run(job: Path):
    """(experiment module, its config, its results) of a finished job folder."""
    from mathml_jax import series

    record = json.loads((job / "metrics.json").read_text())
    module = experiments.load(record["experiment"])
    cfg = build(module.Config, OmegaConf.create(record.get("experiment_config", {})),
                prefix=record["experiment"])
    return module, cfg, series.load(job / "series.npz", module.Results), record


def redraw(job: Path, formats=None, dpi=None) -> list[Path]:
    """Redraws the figures, animations and texts of one job folder; returns the files written."""
    from mathml_jax.writer import write_outputs

    module, cfg, results, record = load_run(job)
    fig_cfg = record.get("config", {}).get("figures", {})
    formats = list(formats or fig_cfg.get("formats", ["png"]))
    dpi = int(dpi or fig_cfg.get("dpi", 150))
    figures, animations, texts = draw(module, cfg, results)
    return write_outputs(job, figures, animations, texts, formats=formats, dpi=dpi)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mathml_jax.redraw",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a job, sweep or results folder")
    parser.add_argument("--formats", nargs="+", choices=FIGURE_FORMATS, default=None,
                        help="figure formats (default: those the run was made with)")
    parser.add_argument("--dpi", type=int, default=None, help="raster resolution")
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        print(f"Error: {args.run_dir} is not a folder. Give a run folder such as "
              "results/runs/sgd/<time>, or a sweep folder.", file=sys.stderr)
        return 2
    jobs = job_folders(args.run_dir)
    if not jobs:
        print(f"Error: no finished run below {args.run_dir} (a run folder holds metrics.json "
              "and series.npz).", file=sys.stderr)
        return 2
    for job in jobs:
        written = redraw(job, args.formats, args.dpi)
        print(f"{job}: {len(written)} file(s) redrawn")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
