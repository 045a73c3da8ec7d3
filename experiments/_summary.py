"""Turn a sweep folder into a table (CSV and Markdown) and a plot of a metric against a parameter.

Usage::

    python -m mathml_jax.sweep_summary results/sweeps/<timestamp> [--metric M] [--param P]
    python -m mathml_jax.sweep_summary            # the newest sweep under results/sweeps

One row per job: its number, status, the overrides it ran with, its key metrics,
"passed/total" claims, and one column per claim id (``pass`` or ``FAIL``, empty where a job
did not make that claim), so a claim lines up across jobs. A job that crashed, was
interrupted, is marked INCOMPLETE (its run was killed, or still runs) or has no
``metrics.json`` appears as a failed row, with the reason; the summary never stops at a
broken job.

The jobs are those ``sweep.json`` lists (written by the sweep when it starts): a sweep folder
reused by a later sweep shows that sweep's jobs only, and a job that never started shows as
such. A folder without ``sweep.json`` (an older sweep) shows every job folder in it.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathml_jax.writer import atomic_write, atomic_write_text


@dataclass
class JobRow:
    job: str
    status: str
    overrides: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    claims: str = ""
    claims_failed: int = 0
    #: claim id -> "pass" / "FAIL"
    by_id: dict[str, str] = field(default_factory=dict)
    error: str = ""
    #: the job ran with strict=true (a failed claim fails the sweep)
    strict: bool = False


@dataclass
class Summary:
    rows: list[JobRow]
    columns: list[str]
    markdown: str
    csv_path: Path
    md_path: Path
    plot_path: Path | None

    @property
    def n_jobs(self) -> int:
        return len(self.rows)

    @property
    def n_failed(self) -> int:
        return sum(r.status != "ok" for r in self.rows)

    @property
    def n_strict_failed(self) -> int:
        """Jobs run with strict=true that have a failed claim."""
        return sum(r.strict and r.claims_failed > 0 for r in self.rows)


def _read_overrides(job_dir: Path) -> dict[str, str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        return {}
    import yaml

    try:
        items = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError:
        return {}
    out = {}
    for item in items:
        k, _, v = str(item).partition("=")
        out[k.lstrip("+~")] = v
    return out


def _incomplete(row: JobRow, job_dir: Path) -> None:
    """The row of a job folder marked INCOMPLETE: why, from the marker."""
    from mathml_jax import interrupts

    info = interrupts.read_marker(job_dir)
    if info is None:
        return
    if interrupts.holder(job_dir) is not None:
        status, why = "running", f"still running (pid {info.get('pid')})"
    elif info.get("status") == "interrupted":
        status, why = "interrupted", f"interrupted: {info.get('reason', '')}"
    elif info.get("status") == "running" or not info:
        status, why = "incomplete", ("its process ended without finishing the folder "
                                     "(killed, e.g. by SIGKILL or out of memory)")
    else:
        status, why = str(info.get("status")), str(info.get("reason", ""))
    if row.status in ("ok", "missing"):
        row.status = status
    row.error = "; ".join(e for e in (f"{interrupts.MARKER}: {why}", row.error) if e)


def read_job(job_dir: Path) -> JobRow:
    """One row for one job folder, whatever state the folder is in."""
    row = JobRow(job=job_dir.name, status="missing", overrides=_read_overrides(job_dir))
    metrics_path = job_dir / "metrics.json"
    if not metrics_path.exists():
        row.error = "no metrics.json (the job crashed, was interrupted or never ran)"
        _incomplete(row, job_dir)
        return row
    try:
        rec = json.loads(metrics_path.read_text())
    except (json.JSONDecodeError, OSError) as e:
        row.status, row.error = "corrupt", f"unreadable metrics.json: {e}"
        return row
    row.status = rec.get("status", "ok")
    row.error = rec.get("error", "")
    if row.status == "interrupted" and rec.get("interrupted"):
        row.error = "finished on a partial count: " + ", ".join(rec["interrupted"])
    row.strict = (rec.get("config") or {}).get("strict") is True
    if not row.overrides:
        row.overrides = {k: v for k, _, v in (o.partition("=") for o in rec.get("overrides", []))}
    metrics = rec.get("metrics", {})
    keys = rec.get("key_metrics") or list(metrics)
    row.metrics = {k: metrics[k] for k in keys if k in metrics}
    row.metrics.update({k: v for k, v in metrics.items() if k not in row.metrics})
    passed, total = rec.get("claims_passed", 0), rec.get("claims_total", 0)
    row.claims = f"{passed}/{total}"
    row.claims_failed = total - passed
    row.by_id = {c["id"]: "pass" if c.get("passed") else "FAIL"
                 for c in rec.get("claims", []) if c.get("id")}
    _incomplete(row, job_dir)
    return row


def _job_dirs(sweep_dir: Path) -> list[Path]:
    dirs = [p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(dirs, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit()
                                       else 0, p.name))


#: the list of a sweep's jobs, written when it starts
SWEEP_FILE = "sweep.json"


def start_sweep(sweep_dir: Path, jobs: list[list[str]], subdir: str) -> None:
    """Records the jobs of a sweep about to start in ``sweep_dir/sweep.json`` (their folder
    names, when the sweep's subdir is the job number, and overrides), and removes the
    summary an earlier sweep in the folder left."""
    from mathml_jax.writer import write_json

    for p in [sweep_dir / "summary.csv", sweep_dir / "summary.md",
              *sweep_dir.glob("summary_*.png")]:
        p.unlink(missing_ok=True)
    by_num = subdir == "${hydra.job.num}"  # Hydra's default subdir: the job number
    write_json(sweep_dir / SWEEP_FILE, {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(),
        "subdir": subdir,
        "jobs": [{"folder": str(i) if by_num else None, "overrides": list(o)}
                 for i, o in enumerate(jobs)]})


def _listed_jobs(sweep_dir: Path) -> list[dict] | None:
    """The jobs ``sweep.json`` lists (None: no list, or one without folder names)."""
    try:
        jobs = json.loads((sweep_dir / SWEEP_FILE).read_text())["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not jobs or any(not isinstance(j, dict) or j.get("folder") is None for j in jobs):
        return None
    return jobs


def _launcher_notes(sweep_dir: Path, rows: list[JobRow]) -> list[JobRow]:
    """What the launcher recorded about a job (its worker process died, the job was rerun)."""
    try:
        events = json.loads((sweep_dir / "launcher.json").read_text())
    except (OSError, ValueError):
        return rows
    for r in rows:
        notes = [e.get("what", "") for e in events if str(e.get("job")) == r.job]
        if notes:
            r.error = "; ".join([*notes, r.error] if r.error else notes)
    return rows


def _rows(sweep_dir: Path, interrupted: str | None) -> list[JobRow]:
    listed = _listed_jobs(sweep_dir)
    if listed is None:
        return _launcher_notes(sweep_dir, [read_job(d) for d in _job_dirs(sweep_dir)])
    rows = []
    for j in listed:
        d = sweep_dir / j["folder"]
        if d.is_dir():
            rows.append(read_job(d))
            if interrupted and rows[-1].status == "missing":  # stopped before it began
                rows[-1].status, rows[-1].error = "interrupted", f"not run: {interrupted}"
            elif interrupted and rows[-1].status == "running":  # its worker is being stopped
                rows[-1].status = "interrupted"
                rows[-1].error = f"stopped unfinished: {interrupted}"
            continue
        over = {k.lstrip("+~"): v for k, _, v in (o.partition("=") for o in j["overrides"])}
        rows.append(JobRow(job=j["folder"], status="interrupted" if interrupted else "missing",
                           overrides=over, error=f"never started: {interrupted}" if interrupted
                           else "never started (no job folder)"))
    return _launcher_notes(sweep_dir, rows)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _as_number(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _union(lists) -> list[str]:
    out: list[str] = []
    for keys in lists:
        out += [k for k in keys if k not in out]
    return out


def _write_tables(sweep_dir: Path, rows: list[JobRow], columns: list[str],
                  table: list[dict]) -> tuple[Path, Path, str]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns)
    w.writeheader()
    w.writerows(table)
    csv_path = atomic_write_text(sweep_dir / "summary.csv", buf.getvalue())
    md = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for t in table:
        md.append("| " + " | ".join(_fmt(t[c]).replace("|", "\\|") for c in columns) + " |")
    failed = sum(r.status != "ok" for r in rows)
    md += ["", f"{len(rows)} jobs, {failed} failed, "
           f"{sum(r.claims_failed > 0 for r in rows)} with failed claims"]
    markdown = "\n".join(md)
    return csv_path, atomic_write_text(sweep_dir / "summary.md", markdown + "\n"), markdown


def summarize(sweep_dir: str | Path, metric: str | None = None, param: str | None = None,
              max_metrics: int = 6, interrupted: str | None = None) -> Summary:
    """Writes ``summary.csv``, ``summary.md`` and, if a numeric metric and a swept parameter
    exist, ``summary_<metric>_vs_<param>.png`` into ``sweep_dir``.

    Args:
      sweep_dir: the folder of one sweep (its job folders are its sub-folders).
      metric: the metric to plot (default: the first key metric of the first successful job).
      param: the swept parameter on the x axis (default: the first override that varies).
      max_metrics: how many metrics become columns (key metrics first; ``metric`` always).
      interrupted: why the sweep stopped early, if it did (jobs that never started say so).
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no sweep folder at {sweep_dir}")
    rows = _rows(sweep_dir, interrupted)
    if not rows:
        raise FileNotFoundError(f"{sweep_dir} holds no job folders")
    param_keys = _union(r.overrides for r in rows)
    varying = [k for k in param_keys if len({r.overrides.get(k) for r in rows}) > 1]
    if metric is None:
        metric = next((k for r in rows if r.status == "ok" for k in r.metrics
                       if _as_number(r.metrics[k]) is not None), None)
    shown = _union(r.metrics for r in rows)[:max_metrics]
    if metric and metric not in shown:
        shown.append(metric)
    claim_ids = _union(r.by_id for r in rows)
    columns = ["job", "status", *param_keys, *shown, "claims", *claim_ids, "error"]
    table = [{"job": r.job, "status": r.status, **{k: r.overrides.get(k, "") for k in param_keys},
              **{k: r.metrics.get(k, "") for k in shown}, "claims": r.claims,
              **{k: r.by_id.get(k, "") for k in claim_ids}, "error": r.error} for r in rows]
    csv_path, md_path, markdown = _write_tables(sweep_dir, rows, columns, table)
    plot_path = None
    x_param = param or (varying[0] if varying else None)
    if metric and x_param:
        plot_path = _plot(sweep_dir, rows, metric, x_param, varying)
    return Summary(rows, columns, markdown, csv_path, md_path, plot_path)


def _plot(sweep_dir: Path, rows: list[JobRow], metric: str, param: str,
          varying: list[str]) -> Path | None:
    from mathml_jax import plotting

    others = [k for k in varying if k != param]
    groups: dict[str, list[tuple[float, float]]] = {}
    categorical = False
    for r in rows:
        y = _as_number(r.metrics.get(metric)) if r.status == "ok" else None
        xv = r.overrides.get(param)
        if y is None or xv is None:
            continue
        x = _as_number(xv)
        categorical |= x is None
        label = ", ".join(f"{k}={r.overrides.get(k)}" for k in others) or metric
        groups.setdefault(label, []).append((xv if x is None else x, y))
    if not groups:
        return None
    fig, ax = plotting.figure(f"{metric} against {param}")
    # the groups are the jobs' other settings, a sequence: ordered colours, not the registry's
    for (label, pts), c in zip(groups.items(), plotting.ordered_colors(len(groups)),
                               strict=True):
        if not categorical:
            pts.sort()
        xs, ys = zip(*pts, strict=True)
        ax.plot([str(x) for x in xs] if categorical else xs, ys, "o-", label=label, color=c)
    if not categorical and all(x > 0 for p in groups.values() for x, _ in p):
        xs_all = [x for p in groups.values() for x, _ in p]
        if max(xs_all) / min(xs_all) > 20:
            ax.set_xscale("log")
    ys_all = [y for p in groups.values() for _, y in p]
    if min(ys_all) > 0 and max(ys_all) / min(ys_all) > 100:
        ax.set_yscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.legend()
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{metric}_vs_{param}")
    path = sweep_dir / f"summary_{safe}.png"
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=150))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mathml_jax.sweep_summary",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", nargs="?", help="a sweep folder (default: the newest one "
                    "under results/sweeps)")
    ap.add_argument("--metric", help="the metric to plot")
    ap.add_argument("--param", help="the swept parameter for the x axis")
    args = ap.parse_args(argv)
    sweep_dir = args.sweep_dir
    if sweep_dir is None:
        root = Path("results/sweeps")
        sweeps = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        if not sweeps:
            print("Error: no sweep folder given and none under results/sweeps.", file=sys.stderr)
            return 2
        sweep_dir = sweeps[-1]
    try:
        s = summarize(sweep_dir, metric=args.metric, param=args.param)
    except FileNotFoundError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    print(s.markdown)
    print(f"\nwrote {s.csv_path}, {s.md_path}" + (f", {s.plot_path}" if s.plot_path else ""))
    return 1 if s.n_failed or s.n_strict_failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
