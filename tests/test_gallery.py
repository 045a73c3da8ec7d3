"""The gallery: complete (one entry per registered experiment, every figure present), its
index.md and index.html exactly what ``python -m mathml_jax.gallery`` writes from the committed
files, ordered like the roadmap, and the HTML page loaded in a real headless browser."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import threading
import types
from pathlib import Path

import pytest
from conftest import ROOT

import experiments
from experiments._runner import drawers
from mathml_jax.gallery import ROADMAP, UnknownSection, ordered, place
from mathml_jax.gallery.__main__ import main
from mathml_jax.gallery.build import build, install
from mathml_jax.gallery.html import page
from mathml_jax.gallery.index import (
    figures_of,
    first_sentence,
    load_entries,
    markdown,
    module_summary,
)

GALLERY = ROOT / "results" / "gallery"
EXPERIMENTS = experiments.available()


# ------------------------------------------------------------------------ the roadmap's order

def test_every_registered_experiment_has_a_place_in_the_roadmap_order():
    """A new experiment whose SECTION is not in ROADMAP fails here, loudly, naming it."""
    unplaced = []
    for name in EXPERIMENTS:
        try:
            place(experiments.load(name).SECTION)
        except UnknownSection as e:
            unplaced.append(f"{name}: {e}")
    assert not unplaced, "\n".join(unplaced)


def test_roadmap_order_follows_the_essay():
    with pytest.raises(UnknownSection, match="not in the roadmap order"):
        place("Topology / Manifolds")
    parts = [part for part, _ in ROADMAP]
    assert parts[:4] == ["Calculus", "Linear algebra", "Multivariable calculus",
                         "Probability theory"]
    sections = {n: experiments.load(n).SECTION for n in EXPERIMENTS}
    sections["zz_network"] = "Beyond the mathematical foundations: a neural network"
    sections["later_one"] = "Calculus / Integration: a later one"
    order = ordered(sections)
    assert order[-1] == "zz_network"  # the essay's last part comes last
    assert order.index("derivative") < order.index("integration") < order.index("later_one") \
        < order.index("vectors")
    # the longest prefix wins: sgd is placed after the law of large numbers, not with it
    assert order.index("lln") < order.index("sgd") < order.index("entropy")
    assert place(sections["later_one"])[1] == "Calculus"


# ------------------------------------------------------------------------------ index texts

def test_first_sentence_is_the_figures_point():
    assert first_sentence("Secants turn into the tangent. More text.\n\nArgs: x") == \
        "Secants turn into the tangent."
    assert first_sentence("Ratios (e.g. Adam vs. SGD) fall. Then more.") == \
        "Ratios (e.g. Adam vs. SGD) fall."
    assert first_sentence("One sentence,\nover two lines at 0.5 and 1.5") == \
        "One sentence, over two lines at 0.5 and 1.5"
    assert first_sentence(None) == ""
    assert module_summary("gd", "``gd``: gradient descent.\n\nMore.") == "gradient descent."


def test_a_still_and_its_animation_of_one_name_get_their_own_functions_point(tmp_path):
    def paths(cfg, r):
        """The paths, drawn once."""

    def paths_animation(cfg, r):
        """The paths, growing step by step."""

    def other(cfg, r):
        pass

    module = types.SimpleNamespace(FIGURES=(paths, other, ("paths", paths_animation)))
    for f in ("paths.png", "paths.gif", "other.png", "stray.png"):
        (tmp_path / f).write_bytes(b"x")
    figs = figures_of(module, tmp_path)
    assert [(f.file, f.point) for f in figs] == [
        ("paths.png", "The paths, drawn once."), ("paths.gif", "The paths, growing step by step."),
        ("other.png", "")]


def test_pages_escape_every_text_and_mark_failures(tmp_path):
    """A statement with markup and a failed claim: escaped in the HTML, FAIL in both pages; an
    experiment without a folder is listed as missing."""
    name = EXPERIMENTS[0]
    record = {"experiment": name, "status": "ok", "claims_passed": 0, "claims_total": 1,
              "overrides": [f"experiment={name}", "seed=3"], "seed": 3, "precision": "float32",
              "claims": [{"id": "x", "statement": "<script>alert(1)</script> a | b",
                          "measured": 2.5, "expected": "<= 1", "passed": False,
                          "reference": "R & D"}],
              "compile_s": 1.0, "run_s": 2.0, "wall_s": 3.5}
    (tmp_path / name).mkdir()
    (tmp_path / name / "metrics.json").write_text(json.dumps(record))
    entries = load_entries(tmp_path)
    html, md = page(tmp_path, entries), markdown(tmp_path, entries)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "R &amp; D" in html and '<tr class="fail">' in html
    assert f"python run.py experiment={name} seed=3" in html and "seed=3" in md
    assert "a \\| b" in md and "**FAIL**" in md and "0 of 1 claims passed" in md
    assert sum(e.record is None for e in entries) == len(EXPERIMENTS) - 1
    assert md.count("(missing)") == len(EXPERIMENTS) - 1


def test_unknown_experiment_is_a_one_line_error(capsys):
    assert main(["--only", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: unknown experiment 'nope'") and "\n" not in err
    assert main(["--check", "eigen", "nope2"]) == 2
    assert "'nope2'" in capsys.readouterr().err


def test_index_only_rewrites_both_pages_from_the_files(tmp_path, capsys):
    name = EXPERIMENTS[0]
    (tmp_path / name).mkdir()
    (tmp_path / name / "metrics.json").write_text(json.dumps(
        {"experiment": name, "status": "ok", "claims_passed": 0, "claims_total": 0}))
    assert main(["--index-only", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "index.md").read_text(encoding="utf-8") == markdown(tmp_path)
    assert (tmp_path / "index.html").read_text(encoding="utf-8") == page(tmp_path)
    assert main(["--index-only", "--out", str(tmp_path / "absent")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_install_keeps_figures_texts_and_metrics_only(tmp_path):
    job, dest = tmp_path / "job", tmp_path / "gallery" / "x"
    job.mkdir()
    for f in ("a.png", "b.gif", "claims.md", "table.md", "metrics.json", "series.npz",
              "error.txt", "run.log"):
        (job / f).write_text(f)
    dest.mkdir(parents=True)
    (dest / "old.png").write_text("a figure the experiment no longer draws")
    install(job, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["a.png", "b.gif", "claims.md",
                                                       "metrics.json", "table.md"]


def test_a_crashing_experiment_keeps_its_old_folder_and_fails_the_build(tmp_path, monkeypatch):
    name = "expected_value"

    def boom(cfg, ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments.load(name), "compute", boom)
    (tmp_path / name).mkdir()
    (tmp_path / name / "claims.md").write_text("the previous run's")
    stream = io.StringIO()
    status, outcomes = build(tmp_path, [name], stream=stream)
    assert status == 1 and outcomes[0].record["status"] == "error"
    assert "[1/1] expected_value ... CRASHED: RuntimeError: boom" in stream.getvalue()
    assert [p.name for p in (tmp_path / name).iterdir()] == ["claims.md"]
    assert "Not in the gallery yet" in (tmp_path / "index.md").read_text()


# --------------------------------------------------------------------- the committed gallery

def test_committed_gallery_has_one_entry_per_registered_experiment():
    """One folder per registered experiment (no other), each with metrics.json of that
    experiment's successful run, claims.md and a file for every name its FIGURES gives."""
    folders = sorted(p.name for p in GALLERY.iterdir() if p.is_dir())
    assert folders == sorted(EXPERIMENTS), "python -m mathml_jax.gallery rewrites the gallery"
    problems = []
    for name in EXPERIMENTS:
        folder = GALLERY / name
        record = json.loads((folder / "metrics.json").read_text())
        if record.get("experiment") != name or record.get("status") != "ok":
            problems.append(f"{name}: metrics.json of {record.get('experiment')}, "
                            f"status {record.get('status')}")
        if not (folder / "claims.md").is_file():
            problems.append(f"{name}: no claims.md")
        for fig, _ in drawers(experiments.load(name)):
            if not any((folder / f"{fig}{s}").is_file() for s in (".png", ".gif")):
                problems.append(f"{name}: no figure {fig}")
    assert not problems, "\n".join(problems)


def test_committed_index_is_what_the_command_writes():
    """index.md and index.html, byte for byte, as ``--index-only`` writes them from the
    committed files (run it after changing a docstring, a SECTION or the pages' code)."""
    entries = load_entries(GALLERY)
    assert (GALLERY / "index.md").read_text(encoding="utf-8") == markdown(GALLERY, entries), \
        "index.md is stale: python -m mathml_jax.gallery --index-only"
    assert (GALLERY / "index.html").read_text(encoding="utf-8") == page(GALLERY, entries), \
        "index.html is stale: python -m mathml_jax.gallery --index-only"


# ------------------------------------------------------------------------------ the browser

BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")

# Loads the gallery page and a control page with a broken image in same-origin frames; when
# each has loaded (its load event waits for every eager image), lists the images that did not
# load and the experiments' sections found, into #result (read back with --dump-dom).
HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="gallery" src="site/index.html" width="1200" height="900"></iframe>
<iframe id="control" src="control.html" width="400" height="300"></iframe>
<script>
var out = {};
function look(id) {
  var d = document.getElementById(id).contentDocument, imgs = Array.from(d.images);
  out[id] = {images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.getAttribute("src"); }),
    ids: Array.from(d.querySelectorAll("[id]")).map(function (e) { return e.id; })};
  if (out.gallery && out.control)
    document.getElementById("result").textContent = JSON.stringify(out);
}
["gallery", "control"].forEach(function (id) {
  document.getElementById(id).addEventListener("load", function () { look(id); });
});
</script></body></html>
"""


def _chromium() -> str | None:
    for c in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        if shutil.which(c):
            return shutil.which(c)
    return None


def _serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def test_gallery_page_loads_every_image_in_a_headless_browser(tmp_path):
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("MATHML_REQUIRE_BROWSER") == "1":
            pytest.fail("MATHML_REQUIRE_BROWSER=1 but no chromium is installed")
        pytest.skip("no chromium found (Debian: apt-get install chromium)")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(page(GALLERY), encoding="utf-8")
    for name in EXPERIMENTS:  # the page's relative links resolve to the committed files
        if (GALLERY / name).is_dir():
            (site / name).symlink_to(GALLERY / name, target_is_directory=True)
    shutil.copy(next(GALLERY.glob("*/*.png")), tmp_path / "good.png")
    (tmp_path / "control.html").write_text(
        '<img id="good" src="good.png"><img id="bad" src="absent.png">')
    (tmp_path / "harness.html").write_text(HARNESS)
    server = _serve(tmp_path)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        dom = _browser(chromium, tmp_path / "profile-1", "--virtual-time-budget=30000",
                       "--dump-dom", f"{url}/harness.html")
        shot = tmp_path / "gallery.png"
        _browser(chromium, tmp_path / "profile-2", "--window-size=1280,2000",
                 "--hide-scrollbars", f"--screenshot={shot}", f"{url}/site/index.html")
    finally:
        server.shutdown()
    text = dom.stdout.split('<pre id="result">', 1)[-1].split("</pre>", 1)[0]
    assert text.startswith("{"), f"the harness did not finish: {text[:200]!r} {dom.stderr[-500:]}"
    result = json.loads(text)
    # the harness sees a broken image when there is one
    assert result["control"]["broken"] == ["absent.png"], result["control"]
    gallery = result["gallery"]
    assert gallery["images"] >= len(EXPERIMENTS) and gallery["broken"] == [], gallery["broken"]
    missing = [n for n in EXPERIMENTS if n not in gallery["ids"]]
    assert not missing, f"sections missing from the page: {missing}"
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("MATHML_GALLERY_SCREENSHOT"):
        shutil.copy(shot, os.environ["MATHML_GALLERY_SCREENSHOT"])
