"""The one writer of run outputs. Every file is written atomically: to a temporary file in the
same folder, flushed, then renamed over the target, so an interrupted run never leaves a
truncated ``metrics.json`` or a half-drawn PNG.

Layout of a job folder written by :func:`write_report`::

    metrics.json        metrics, claims, timings, device, precision, versions, resolved config
    claims.md           the claims table in Markdown
    <figure>.png        one file per figure (plus other formats on request)
    <animation>.gif     one file per animation
    series.npz          the compute phase's results: every figure is redrawn from these
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mathml_jax.report import Report


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Calls ``write(f)`` on a temporary binary file beside ``path``, then renames it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_gif(animation, path: str | os.PathLike, *, fps: int = 12, dpi: int = 100) -> Path:
    """Saves a matplotlib animation as a GIF (Pillow), atomically: the animation writer needs
    a file name, so it writes a temporary .gif beside the target, which is then renamed."""
    from matplotlib.animation import PillowWriter

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        animation.save(tmp, writer=PillowWriter(fps=fps), dpi=dpi)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray | np.generic):
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    text = json.dumps(_jsonable(obj), indent=2, sort_keys=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def report_record(report: Report, **context: Any) -> dict[str, Any]:
    """The content of metrics.json: the report plus run context (config, device, versions…)."""
    return {
        "experiment": report.experiment,
        "section": report.section,
        "status": "ok",
        "claims_passed": report.n_passed,
        "claims_total": len(report.claims),
        "metrics": report.metrics,
        "key_metrics": report.key_metrics,
        "claims": [c.as_dict() for c in report.claims],
        "timings": {k: {"compile_s": t.compile_s, "run_s": t.run_s}
                    for k, t in report.timings.items()},
        **context,
    }


def write_outputs(out_dir: str | os.PathLike, figures: dict, animations: dict, texts: dict,
                  *, formats: Iterable[str] = ("png",), dpi: int = 150) -> list[Path]:
    """Saves figures (each format), animations (GIF) and Markdown texts into ``out_dir``,
    closing the figures; returns the paths written."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        for fmt in formats:
            written.append(atomic_write(
                out / f"{name}.{fmt}", lambda f, fig=fig, fmt=fmt: fig.savefig(f, format=fmt,
                                                                             dpi=dpi)))
        plt.close(fig)
    for name, anim in animations.items():
        written.append(write_gif(anim, out / f"{name}.gif", dpi=min(dpi, 100)))
        plt.close(anim._fig)
    for name, text in texts.items():
        written.append(atomic_write_text(out / f"{name}.md", text))
    return written


def write_report(
    report: Report, out_dir: str | os.PathLike, *, formats: Iterable[str] = ("png",),
    dpi: int = 150, **context: Any,
) -> Path:
    """Writes the report's figures, series, claims table and metrics.json into ``out_dir``.

    metrics.json is written last, so its presence marks a complete job folder.
    """
    out = Path(out_dir)
    write_outputs(out, report.figures, report.animations, report.texts, formats=formats,
                  dpi=dpi)
    if report.results is not None:
        from mathml_jax import series

        series.save(out / "series.npz", report.results)
    atomic_write_text(out / "claims.md", f"# Claims: {report.experiment}\n\n"
                      f"{report.claims_table()}\n")
    return write_json(out / "metrics.json", report_record(report, **context))
