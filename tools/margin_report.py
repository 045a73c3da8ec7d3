"""Every claim's margin, for every experiment, profile and precision: which claims are fragile.

A claim's margin is how far its measurement is from failing, as a fraction of its tolerance
(``Claim.margin``): 1 on the expected value, 0 on the bound. A claim passing with a margin
under ``MIN_MARGIN`` (10%) passes here and fails on the next machine. Usage::

    python tools/margin_report.py                                  # default and fast, float32
    python tools/margin_report.py --profiles fast --precisions float32 float64 -j 2
    python tools/margin_report.py --experiments svd eigen --out margins.md

Each (experiment, profile, precision) job runs in its own process through the same path as
``python run.py`` (``experiments._cli.execute``), on the CPU unless ``--platform`` says
otherwise. Prints the smallest margins and every fragile or failed claim; writes the whole
table as Markdown with ``--out``. Exit status 1 when any claim failed or is fragile.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

JOB = """
import json, sys
sys.path.insert(0, {root!r})
from hydra import compose, initialize_config_dir
import experiments
from experiments._cli import execute
with initialize_config_dir(config_dir=str(experiments.CONFIG_DIR), version_base="1.3"):
    cfg = compose("config", overrides={overrides!r}, return_hydra_config=True)
status, report = execute(cfg, {name!r}, {out!r}, overrides={overrides!r})
claims = [] if report is None else [
    dict(id=c.id, statement=c.statement, passed=c.passed, margin=c.margin, measured=c.measured,
         expected=c.expected) for c in report.claims]
print("@@" + json.dumps(dict(status=status, claims=claims)))
"""


def run_one(name: str, profile: str, precision: str, platform: str, extra: list[str]) -> dict:
    overrides = [f"experiment={name}", f"profile={profile}", f"precision={precision}",
                 f"platform={platform}", *extra]
    with tempfile.TemporaryDirectory() as out:
        code = JOB.format(root=str(ROOT), overrides=overrides, name=name, out=out)
        env = dict(os.environ)
        if platform == "cpu":
            env.setdefault("JAX_PLATFORMS", "cpu")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("@@"):
            return dict(json.loads(line[2:]), name=name, profile=profile, precision=precision)
    return dict(status=-1, claims=[], name=name, profile=profile, precision=precision,
                error=proc.stderr[-1500:])


def main(argv: list[str] | None = None) -> int:
    import experiments
    from mathml_jax.report import MIN_MARGIN

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", nargs="*", default=None, help="default: all")
    ap.add_argument("--profiles", nargs="+", default=["default", "fast"])
    ap.add_argument("--precisions", nargs="+", default=["float32"])
    ap.add_argument("--platform", default="cpu")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="jobs at once")
    ap.add_argument("--show", type=int, default=15, help="smallest margins to print")
    ap.add_argument("--out", type=Path, default=None, help="write the full table (Markdown)")
    ap.add_argument("overrides", nargs="*", help="extra key=value overrides for every job")
    args = ap.parse_args(argv)
    names = args.experiments or experiments.available()
    jobs = [(n, p, q) for n in names for p in args.profiles for q in args.precisions]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda j: run_one(*j, args.platform, args.overrides), jobs))

    rows, bad = [], []
    for r in results:
        where = f"{r['name']} [{r['profile']}, {r['precision']}]"
        if r["status"] not in (0, 1) or not r["claims"]:
            bad.append(f"{where}: the run did not finish (status {r['status']}) "
                       f"{r.get('error', '')}")
            continue
        for c in r["claims"]:
            m = c["margin"]
            rows.append((math.inf if m is None else m, where, c))
    rows.sort(key=lambda x: x[0])
    fragile = [x for x in rows if x[0] < MIN_MARGIN]
    table = ["| margin | result | run | claim id | claim | measured | expected |",
             "|---|---|---|---|---|---|---|"]
    for m, where, c in rows:
        res = "FAIL" if not c["passed"] else ("FRAGILE" if m < MIN_MARGIN else "PASS")
        ms = "yes/no" if m == math.inf else f"{m:.3f}"
        stmt = c["statement"].replace("|", "\\|")  # |det A| must not end a table cell
        table.append(f"| {ms} | {res} | {where} | {c['id']} | {stmt} | {c['measured']:.4g} | "
                     f"{c['expected']} |")
    if args.out:
        args.out.write_text(
            f"# Claim margins\n\n{len(rows)} claims in {len(results)} runs; smallest margin "
            f"first. Fragile: margin under {MIN_MARGIN:.0%} of the tolerance.\n\n"
            + "\n".join(table) + "\n")
    print(f"{len(rows)} claims in {len(results)} runs "
          f"({', '.join(args.profiles)} x {', '.join(args.precisions)}, {args.platform})")
    print(f"{'margin':>8}  {'result':<7} run / claim")
    for m, where, c in rows[: args.show]:
        res = "FAIL" if not c["passed"] else ("FRAGILE" if m < MIN_MARGIN else "PASS")
        print(f"{m:8.3f}  {res:<7} {where}: {c['id']}: {c['statement'][:100]}")
    for line in bad:
        print("ERROR  ", line)
    print(f"{len(fragile)} claim(s) under a {MIN_MARGIN:.0%} margin (failed ones included); "
          f"{len(bad)} run(s) did not finish")
    return 1 if fragile or bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
