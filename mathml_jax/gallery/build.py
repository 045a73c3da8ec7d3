"""Running the gallery: every experiment at its default config, in this process, one after the
other, each into a scratch folder and then into ``<gallery>/<name>/``; the check reruns them
into a temporary folder and compares.

In-process, through the runner (``experiments._runner.execute``, what ``python run.py`` and the
notebook API call), rather than one ``python run.py`` per experiment: every job sets its own
platform, precision and matmul precision (``mathml_jax.runtime.configure``) and the figure
style is fixed at import, so nothing carries from one job to the next (two full galleries,
in-process in opposite orders, gave bit-identical numbers), and the gallery saves the start-up
of a Python with JAX, Hydra and matplotlib per experiment: measured on the 2-core machine,
``python run.py experiment=coin`` takes 3.0 s, the same job in process 0.7 s (warm compilation
cache both), so about a minute over the whole gallery.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

#: files of a job folder the gallery keeps, besides metrics.json. Not series.npz: the series of
#: all experiments weigh ~10 MB (gradient's and optimizers' 2.5 MB each), as much as every
#: figure together, and the command under each figure makes them again in seconds
KEPT_SUFFIXES = (".png", ".gif", ".svg", ".pdf", ".md")


@dataclass
class Outcome:
    """One experiment's run: the runner's status (0 done, 1 crashed, 2 bad input), its
    metrics.json (None when it wrote none) and the seconds the whole job took."""

    name: str
    status: int
    record: dict[str, Any] | None
    seconds: float

    @property
    def summary(self) -> str:
        r = self.record
        if r is None:
            return f"no result (status {self.status})"
        if r.get("status", "ok") != "ok":
            return f"CRASHED: {r.get('error', '')}"
        return (f"{r['claims_passed']} of {r['claims_total']} claims, compile "
                f"{r.get('compile_s', 0.0):.1f} s, run {r.get('run_s', 0.0):.1f} s, "
                f"{self.seconds:.1f} s in all")


def names_in_order(names: Iterable[str] | None = None) -> list[str]:
    """``names`` (default: every registered experiment) in roadmap order."""
    import experiments
    from mathml_jax.gallery.roadmap import ordered

    names = experiments.available() if names is None else list(names)
    return ordered({n: experiments.load(n).SECTION for n in names})


def run_experiment(name: str, out_dir: Path, overrides: Iterable[str] = (),
                   progress: Callable[[str, int, int], None] | None = None) -> Outcome:
    """Runs experiment ``name`` (default config plus ``overrides``) into ``out_dir``, as
    ``python run.py experiment=NAME OVERRIDES...`` would."""
    from experiments._api import compose
    from experiments._runner import BadInput, execute

    overrides = list(overrides)
    t0 = time.perf_counter()
    try:
        cfg = compose(name, *overrides)
    except BadInput as e:
        print(f"Error: {e}", file=sys.stderr)
        return Outcome(name, 2, None, time.perf_counter() - t0)
    status, _ = execute(cfg, name, out_dir, overrides=[f"experiment={name}", *overrides],
                        progress=progress or (lambda *_: None))
    metrics = Path(out_dir) / "metrics.json"
    record = json.loads(metrics.read_text()) if metrics.is_file() else None
    return Outcome(name, status, record, time.perf_counter() - t0)


def install(job: Path, dest: Path) -> None:
    """Replaces ``dest`` by the gallery's part of the job folder ``job``: figures, texts,
    claims.md and metrics.json."""
    staged = dest.with_name(f".{dest.name}.new")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for p in sorted(job.iterdir()):
        if p.is_file() and (p.suffix in KEPT_SUFFIXES or p.name == "metrics.json"):
            shutil.copy2(p, staged / p.name)
    shutil.rmtree(dest, ignore_errors=True)
    staged.rename(dest)


class Progress:
    """``[ 3/24] eigen ... 9 of 9 claims, compile 2.1 s, run 0.4 s, 3.0 s in all`` on stderr,
    one line per experiment; on a terminal the line shows the experiment's own progress while
    it runs."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.stream, self.head = total, stream or sys.stderr, ""

    def start(self, i: int, name: str) -> None:
        self.head = f"[{i:>{len(str(self.total))}}/{self.total}] {name} ..."
        print(self.head, end="", file=self.stream, flush=True)

    def step(self, label: str, done: int, total: int) -> None:
        if total > 1 and self.stream.isatty():
            print(f"\r{self.head} {label} {100 * done / total:3.0f}%\x1b[K", end="",
                  file=self.stream, flush=True)

    def done(self, text: str) -> None:
        end = "\x1b[K\n" if self.stream.isatty() else "\n"
        print(f"\r{self.head} {text}" if self.stream.isatty() else f" {text}", end=end,
              file=self.stream, flush=True)


def timing_table(outcomes: list[Outcome]) -> str:
    """Per experiment: claims, compile, run and whole-job seconds; then the total."""
    lines = [f"{'experiment':<20} {'claims':>9} {'compile s':>10} {'run s':>8} {'job s':>8}"]
    for o in outcomes:
        r = o.record or {}
        claims = f"{r.get('claims_passed', 0)}/{r.get('claims_total', 0)}" if r else "-"
        lines.append(f"{o.name:<20} {claims:>9} {r.get('compile_s', 0.0):>10.1f} "
                     f"{r.get('run_s', 0.0):>8.1f} {o.seconds:>8.1f}")
    total = sum(o.seconds for o in outcomes)
    lines.append(f"{'total':<20} {'':>9} {'':>10} {'':>8} {total:>8.1f}  ({total / 60:.1f} min)")
    return "\n".join(lines)


def write_index(gallery: Path) -> tuple[Path, Path]:
    """(Re)writes ``index.md`` and ``index.html`` of ``gallery`` from its files alone."""
    from mathml_jax.gallery import html, index
    from mathml_jax.writer import atomic_write_text

    gallery = Path(gallery)
    entries = index.load_entries(gallery)
    return (atomic_write_text(gallery / "index.md", index.markdown(gallery, entries)),
            atomic_write_text(gallery / "index.html", html.page(gallery, entries)))


def build(gallery: Path, names: Iterable[str] | None = None,
          stream: TextIO | None = None) -> tuple[int, list[Outcome]]:
    """Runs ``names`` (default: every experiment) at their default config into ``gallery``,
    then rewrites its index. An experiment that crashes keeps its previous folder.

    Returns:
      (status, outcomes): status 0 when every experiment ran and every claim passed, else 1.
    """
    gallery = Path(gallery)
    gallery.mkdir(parents=True, exist_ok=True)
    order = names_in_order(names)
    progress = Progress(len(order), stream)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="mathml-gallery-") as tmp:
        for i, name in enumerate(order, 1):
            progress.start(i, name)
            o = run_experiment(name, Path(tmp) / name, progress=progress.step)
            if o.record is not None and o.record.get("status", "ok") == "ok":
                install(Path(tmp) / name, gallery / name)
            progress.done(o.summary)
            outcomes.append(o)
    write_index(gallery)
    print(timing_table(outcomes), file=stream or sys.stderr)
    bad = [o for o in outcomes if o.status != 0 or o.record is None
           or o.record.get("claims_passed") != o.record.get("claims_total")]
    return (1 if bad else 0), outcomes


def check(gallery: Path, names: Iterable[str] | None = None,
          stream: TextIO | None = None) -> tuple[int, list, list[str]]:
    """Reruns ``names`` (default: every experiment) into a temporary folder, with the overrides
    each committed run was made with, and compares each fresh metrics.json and figure list with
    the committed ones (:mod:`mathml_jax.gallery.check`). The gallery is not touched.

    Returns:
      (status, drifts, notes): status 1 when anything drifted (or a run is missing or crashed),
      else 0; notes say where the runs' commit, JAX or device differ (the likely reason).
    """
    from mathml_jax.gallery.check import Drift, compare, context_differences

    gallery, stream = Path(gallery), stream or sys.stderr
    order = names_in_order(names)
    progress = Progress(len(order), stream)
    drifts: list[Drift] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mathml-gallery-check-") as tmp:
        for i, name in enumerate(order, 1):
            progress.start(i, name)
            committed_file = gallery / name / "metrics.json"
            if not committed_file.is_file():
                drifts.append(Drift(name, "metrics.json", "missing", "-", "exact"))
                progress.done("not in the gallery: nothing to compare with")
                continue
            committed = json.loads(committed_file.read_text())
            overrides = [o for o in committed.get("overrides", [])
                         if not o.startswith("experiment=")]
            job = Path(tmp) / name
            o = run_experiment(name, job, overrides, progress=progress.step)
            if o.record is None or o.record.get("status", "ok") != "ok":
                drifts.append(Drift(name, "status", committed.get("status"),
                                    (o.record or {}).get("status", "no result"), "exact"))
                progress.done(o.summary)
                continue
            found = compare(name, committed, o.record)
            figs = [sorted(p.name for p in folder.glob("*") if p.suffix in (".png", ".gif"))
                    for folder in (gallery / name, job)]
            if figs[0] != figs[1]:
                found.append(Drift(name, "figures", figs[0], figs[1], "exact"))
            context = context_differences(committed, o.record)
            notes += [f"{name}: " + "; ".join(context)] if context else []
            drifts += found
            progress.done(f"{o.summary}; " + (f"{len(found)} drift(s)" if found else "no drift"))
    return (1 if drifts else 0), drifts, notes
