"""``index.html``: the gallery as one self-contained static page a teacher can browse.

Plain HTML and a little inline CSS, built with the standard library: no script, no network (no
CDN font or style), images referenced relatively (``<name>/<figure>.png``) and loaded eagerly
(a lazy image off screen would never load in a headless check). Large type and figures as wide
as the page, for a projector. Every text from a file or a docstring is escaped. Like
``index.md`` it is a function of the gallery's files and the experiment modules only
(:func:`mathml_jax.gallery.index.load_entries`).
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from mathml_jax.gallery.index import (
    COMMAND,
    DESCRIPTION,
    Entry,
    claim_counts,
    common_made_with,
    fmt_measured,
    load_entries,
    timing_text,
)

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 19px; line-height: 1.45; color: #1a1a1a; background: #fff; margin: 0; }
header, nav, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
h1 { font-size: 2.1em; margin: 0 0 .2em; }
h2 { font-size: 1.6em; border-bottom: 3px solid #1f4e79; padding-bottom: .15em; margin-top: 1.6em; }
h3 { font-size: 1.3em; margin: 1.4em 0 .2em; }
.lead { font-size: 1.15em; }
.meta, .section, .links { color: #444; }
.section { font-style: italic; margin: 0 0 .4em; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .92em;
  background: #f2f4f7; padding: 0 .25em; border-radius: 3px; }
.command code { font-size: 1em; background: #e8eef6; padding: .15em .4em; }
nav ol { padding-left: 1.2em; }
nav li { margin: .25em 0; }
nav .count { color: #555; font-size: .9em; }
article { border-top: 1px solid #ddd; margin-top: 1.6em; }
h2 + article { border-top: none; margin-top: 0; }
figure { margin: 1.2em 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #e3e3e3; }
figcaption { margin-top: .35em; font-size: 1.02em; }
table.claims { border-collapse: collapse; width: 100%; margin: 1em 0 .6em; font-size: .88em; }
table.claims th, table.claims td { border-bottom: 1px solid #ddd; padding: .3em .5em;
  text-align: left; vertical-align: top; }
table.claims td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
table.claims .ref { color: #555; font-size: .9em; }
td.result { font-weight: bold; white-space: nowrap; }
tr.pass td.result { color: #1b7a1b; }
tr.fail td.result { color: #fff; background: #b3261e; }
tr.fail { background: #fbeaea; }
.failed { color: #b3261e; font-weight: bold; }
footer { color: #555; padding-bottom: 40px; margin-top: 2em; }
"""


def _text(s: object) -> str:
    """Escaped text, with reStructuredText's ``code`` and Markdown's `code` as <code>."""
    out = escape(" ".join(str(s).split()))
    return re.sub(r"``(.+?)``|`([^`]+?)`", lambda m: f"<code>{m.group(1) or m.group(2)}</code>",
                  out)


def _slug(part: str) -> str:
    return "part-" + re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-")


def _claims(record: dict) -> list[str]:
    rows = ['<table class="claims">',
            "<thead><tr><th>claim (independent reference)</th><th>measured</th>"
            "<th>expected</th><th>result</th></tr></thead>", "<tbody>"]
    for c in record.get("claims", []):
        ok = bool(c.get("passed"))
        stmt = c.get("statement", "") + (f" ({c['detail']})" if c.get("detail") else "")
        ref = f'<div class="ref">{_text(c["reference"])}</div>' if c.get("reference") else ""
        rows.append(f'<tr class="{"pass" if ok else "fail"}"><td>{_text(stmt)}{ref}</td>'
                    f'<td class="num">{escape(fmt_measured(c.get("measured")))}</td>'
                    f'<td class="num">{escape(str(c.get("expected", "")))}</td>'
                    f'<td class="result">{"PASS" if ok else "FAIL"}</td></tr>')
    return rows + ["</tbody>", "</table>"]


def _entry(e: Entry) -> list[str]:
    name = escape(e.name)
    out = [f'<article class="experiment" id="{name}">',
           f"<h3><code>{name}</code>: {_text(e.summary)}</h3>",
           f'<p class="section">{_text(e.section)}</p>']
    if e.record is None:
        return out + [f"<p class=\"failed\">Not in the gallery yet: <code>{escape(COMMAND)} "
                      f"--only {name}</code> makes it.</p>", "</article>"]
    r = e.record
    passed, total = r.get("claims_passed", 0), r.get("claims_total", 0)
    verdict = f"{passed} of {total} claims passed"
    if passed != total or r.get("status", "ok") != "ok":
        verdict = f'<span class="failed">{verdict} ({_text(r.get("status", ""))}' \
                  f'{": " + _text(r["error"]) if r.get("error") else ""})</span>'
    links = " · ".join(f'<a href="{name}/{escape(f)}">{escape(f)}</a>'
                       for f in ["claims.md", *e.texts, "metrics.json"])
    out += [f'<p class="command">Reproduce: <code>{escape(e.command)}</code></p>',
            f'<p class="meta">{verdict} · {escape(timing_text(r))} · made with '
            f"{escape(e.made_with)}</p>",
            f'<p class="links">{links}</p>']
    for fig in e.figures:
        alt = escape(fig.point or fig.file)
        caption = f"<b>{escape(fig.file)}</b>" + (f": {_text(fig.point)}" if fig.point else "")
        out += ["<figure>", f'<img src="{name}/{escape(fig.file)}" alt="{alt}" loading="eager">',
                f"<figcaption>{caption}</figcaption>", "</figure>"]
    return out + _claims(r) + ["</article>"]


def page(gallery: Path, entries: list[Entry] | None = None) -> str:
    """The text of ``index.html`` for the gallery folder ``gallery``."""
    entries = load_entries(gallery) if entries is None else entries
    n, passed, total = claim_counts(entries)
    common = common_made_with(entries)
    by_part: dict[str, list[Entry]] = {}
    for e in entries:
        by_part.setdefault(e.part, []).append(e)
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>mathml-jax gallery</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
           "<header>", "<h1>mathml-jax gallery</h1>", f'<p class="lead">{escape(DESCRIPTION)}</p>',
           f'<p class="meta">{n} of {len(entries)} experiments, {passed} of {total} claims passed.'
           + (f" All made with {escape(common)}." if common else "") + "</p>", "</header>",
           '<nav id="contents">', "<h2>Contents</h2>", "<ol>"]
    for part, es in by_part.items():
        out.append(f'<li><a href="#{_slug(part)}">{escape(part)}</a><ul>')
        for e in es:
            count = (f"{e.record.get('claims_passed', 0)}/{e.record.get('claims_total', 0)} claims"
                     if e.record else "missing")
            out.append(f'<li><a href="#{escape(e.name)}"><code>{escape(e.name)}</code></a>: '
                       f'{_text(e.summary)} <span class="count">({count})</span></li>')
        out.append("</ul></li>")
    out += ["</ol>", "</nav>", "<main>"]
    for part, es in by_part.items():
        out += [f'<section class="part" id="{_slug(part)}">', f"<h2>{escape(part)}</h2>"]
        for e in es:
            out += _entry(e)
        out.append("</section>")
    out += ["</main>", "<footer>",
            f"<p>Written by <code>{escape(COMMAND)}</code> from the files beside this page; "
            f"<code>{escape(COMMAND)} --check</code> reruns every experiment and lists what "
            'drifted. The same page as Markdown: <a href="index.md">index.md</a>.</p>',
            "</footer>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
