"""The gallery's index, read from its files: ``index.md`` (this module) and ``index.html``
(:mod:`mathml_jax.gallery.html`).

Both are functions of what lies in the gallery folder (each experiment's ``metrics.json`` and
the figure files present) and of the experiment modules (``SECTION``, the module docstring, the
figure functions' docstrings), nothing else: no clock, no run. So they can be rewritten from a
committed gallery at any time (``python -m mathml_jax.gallery --index-only``) and a test can
compare the committed pages with what these functions return, byte for byte.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathml_jax.gallery.roadmap import parts_of

#: the suite in one line: the head of both pages
DESCRIPTION = ("The mathematics of machine learning as runnable, measured, checked experiments: "
               "every figure here is made by the command beside it and backed by claims checked "
               "against independent references.")
#: the command that writes the gallery (shown on both pages)
COMMAND = "python -m mathml_jax.gallery"
FIGURE_SUFFIXES = (".png", ".gif", ".svg")
_ABBREVIATIONS = ("e.g.", "i.e.", "vs.", "cf.")


def first_paragraph(doc: str | None) -> str:
    """The first paragraph of a docstring on one line ("" for none)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph: up to the first ``.``, ``!`` or
    ``?`` followed by a space and a capital letter (not after e.g./i.e./vs./cf.), else the
    whole paragraph."""
    text = first_paragraph(doc)
    for m in re.finditer(r"[.!?](?=\s+[A-Z])", text):
        head = text[: m.end()]
        if not head.endswith(_ABBREVIATIONS):
            return head
    return text


def module_summary(name: str, doc: str | None) -> str:
    """A module docstring's first paragraph without its leading "``name``: "."""
    text = first_paragraph(doc)
    prefix = f"``{name}``:"
    return text[len(prefix):].strip() if text.startswith(prefix) else text


@dataclass(frozen=True)
class Figure:
    file: str    # the file name in the experiment's folder
    point: str   # the first sentence of its drawing function's docstring ("" without one)


@dataclass
class Entry:
    """One experiment of the gallery: what the module says and what its folder holds."""

    name: str
    section: str
    part: str
    summary: str
    record: dict[str, Any] | None        # metrics.json; None when the folder has none
    figures: list[Figure] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # Markdown documents besides claims.md

    @property
    def command(self) -> str:
        overrides = (self.record or {}).get("overrides") or [f"experiment={self.name}"]
        return "python run.py " + " ".join(overrides)

    @property
    def made_with(self) -> str:
        return made_with(self.record or {})


def _drawer_doc(drawers: list[tuple[str, Any]], name: str, suffix: str) -> str | None:
    """The docstring of the function that drew ``name + suffix``. A name given twice is a
    still and its animation (``experiments._runner.drawers``): the plain function draws the
    still (``.png``), the ``(name, function)`` pair the animation (``.gif``)."""
    fns = [fn for n, fn in drawers if n == name]
    if len(fns) > 1:
        plain = [fn for fn in fns if fn.__name__ == name]
        paired = [fn for fn in fns if fn.__name__ != name]
        fns = (paired if suffix == ".gif" else plain) or fns
    return inspect.getdoc(fns[0])


def figures_of(module, folder: Path) -> list[Figure]:
    """The figure files in ``folder`` that ``module.FIGURES`` names, in its order."""
    from experiments._runner import drawers

    entries = drawers(module)
    out = []
    for name in dict.fromkeys(n for n, _ in entries):
        for suffix in FIGURE_SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                out.append(Figure(f"{name}{suffix}",
                                  first_sentence(_drawer_doc(entries, name, suffix))))
    return out


def load_entries(gallery: Path) -> list[Entry]:
    """Every registered experiment in roadmap order, with what ``gallery/<name>/`` holds."""
    import experiments
    from experiments._runner import drawers

    gallery = Path(gallery)
    modules = {n: experiments.load(n) for n in experiments.available()}
    sections = {n: m.SECTION for n, m in modules.items()}
    out = []
    for part, names in parts_of(sections, sections):
        for name in names:
            module, folder = modules[name], gallery / name
            metrics = folder / "metrics.json"
            record = json.loads(metrics.read_text()) if metrics.is_file() else None
            texts = [f"{n}.md" for n, _ in drawers(module, "TEXTS")
                     if (folder / f"{n}.md").is_file()]
            out.append(Entry(name, module.SECTION, part, module_summary(name, module.__doc__),
                             record, figures_of(module, folder), texts))
    return out


def _commit(commit: str | None, dirty: bool | None) -> str:
    if not commit:
        return "commit unknown"
    return f"commit {commit[:12]}" + (" with uncommitted changes" if dirty else "")


def made_with(record: dict[str, Any]) -> str:
    """"commit …, JAX …, cpu (…), float32, seed 0" of one run's metrics.json."""
    code = record.get("code_version") or {}
    device = record.get("device") or {}
    versions = record.get("versions") or {}
    where = device.get("platform", "?")
    if device.get("device") and device.get("device") != where:
        where += f" ({device['device']})"
    if device.get("device_count", 1) != 1:
        where += f", {device['device_count']} devices"
    precision = record.get("precision", "?")
    if record.get("matmul_precision", "highest") != "highest":
        precision += f" (matmul {record['matmul_precision']})"
    profile = record.get("profile", "default")
    return (f"{_commit(code.get('commit'), code.get('dirty'))}, "
            f"JAX {versions.get('jax', '?')}, {where}, {precision}, seed {record.get('seed', '?')}"
            + ("" if profile == "default" else f", profile {profile}"))


def common_made_with(entries: list[Entry]) -> str | None:
    """The made-with line every experiment of the gallery shares, or None."""
    lines = {e.made_with for e in entries if e.record is not None}
    return lines.pop() if len(lines) == 1 else None


def claim_counts(entries: list[Entry]) -> tuple[int, int, int]:
    """(experiments present, claims passed, claims in all)."""
    present = [e.record for e in entries if e.record is not None]
    return (len(present), sum(int(r.get("claims_passed", 0)) for r in present),
            sum(int(r.get("claims_total", 0)) for r in present))


def fmt_measured(x) -> str:
    """A claim's measured value as the claims tables write it."""
    from mathml_jax.report import _fmt

    return "" if x is None else _fmt(x)


def timing_text(record: dict[str, Any]) -> str:
    return (f"compile {record.get('compile_s', 0.0):.1f} s, run {record.get('run_s', 0.0):.1f} s,"
            f" {record.get('wall_s', 0.0):.1f} s in all")


# ------------------------------------------------------------------------------ index.md

def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _claims_md(record: dict[str, Any]) -> list[str]:
    rows = ["| claim | measured | expected | result |", "|---|---|---|---|"]
    for c in record.get("claims", []):
        stmt = c.get("statement", "") + (f" ({c['detail']})" if c.get("detail") else "")
        result = "PASS" if c.get("passed") else "**FAIL**"
        rows.append(f"| {_cell(stmt)} | {fmt_measured(c.get('measured'))} | "
                    f"{_cell(c.get('expected', ''))} | {result} |")
    return rows


def _entry_md(e: Entry) -> list[str]:
    out = [f'<a id="{e.name}"></a>', "", f"### `{e.name}`: {e.summary}", "", f"*{e.section}*", ""]
    if e.record is None:
        return out + [f"Not in the gallery yet: `{COMMAND} --only {e.name}` makes it.", ""]
    r = e.record
    links = " · ".join(f"[{f}]({e.name}/{f})" for f in ["claims.md", *e.texts, "metrics.json"])
    status = ("" if r.get("status", "ok") == "ok"
              else f" · **{r.get('status')}: {_cell(r.get('error', ''))}**")
    out += [f"Command: `{e.command}` · {r.get('claims_passed', 0)} of "
            f"{r.get('claims_total', 0)} claims passed{status} · {timing_text(r)}", "",
            f"Made with {e.made_with} · {links}", ""]
    for fig in e.figures:
        out += [f"**{fig.file}**" + (f": {fig.point}" if fig.point else ""), "",
                f"![{fig.file.rsplit('.', 1)[0]}]({e.name}/{fig.file})", ""]
    return out + _claims_md(r) + [""]


def markdown(gallery: Path, entries: list[Entry] | None = None) -> str:
    """The text of ``index.md`` for the gallery folder ``gallery``."""
    entries = load_entries(gallery) if entries is None else entries
    n, passed, total = claim_counts(entries)
    common = common_made_with(entries)
    head = ["# mathml-jax gallery", "", DESCRIPTION, "",
            f"Written by `{COMMAND}` from the files in this folder (not by hand): each "
            "experiment at its default config, its figures, `metrics.json` and `claims.md`. "
            f"`{COMMAND} --check` reruns them and lists any number that drifted; "
            "[index.html](index.html) is the same page for a browser.", "",
            f"{n} of {len(entries)} experiments, {passed} of {total} claims passed."
            + (f" All made with {common}." if common else ""), "", "## Contents", ""]
    by_part: dict[str, list[Entry]] = {}
    for e in entries:
        by_part.setdefault(e.part, []).append(e)
    for part, es in by_part.items():
        items = ", ".join(f"[{e.name}](#{e.name})" + (
            f" ({e.record.get('claims_passed', 0)}/{e.record.get('claims_total', 0)})"
            if e.record else " (missing)") for e in es)
        head.append(f"- **{part}**: {items}")
    body = []
    for part, es in by_part.items():
        body += ["", f"## {part}", ""]
        for e in es:
            body += _entry_md(e)
    return "\n".join(head + body).rstrip("\n") + "\n"
