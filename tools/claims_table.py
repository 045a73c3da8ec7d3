"""One table of a folder of runs: experiment, claims passed/total, failed claims, seconds.

    python tools/claims_table.py RUNS_DIR [--out table.md]

RUNS_DIR holds one folder per experiment (``hydra.run.dir=RUNS_DIR/<name>``), as
``tools/gpu_check.sh`` writes them. A run without ``metrics.json`` (it crashed or timed out)
is a row too, with the last line of its log. Exit status 1 when any run failed a claim or did
not finish.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def rows(runs: Path) -> list[dict]:
    out = []
    for d in sorted(p for p in runs.iterdir() if p.is_dir()):
        metrics = d / "metrics.json"
        if not metrics.exists():
            log = runs / f"{d.name}.log"
            last = log.read_text().strip().splitlines()[-1:] if log.exists() else ["no log"]
            out.append(dict(name=d.name, ok=False, claims="-", failed=f"no metrics.json: "
                            f"{last[0][:150] if last else ''}", compile_s=None, run_s=None,
                            wall_s=None, device="", matmul=""))
            continue
        rec = json.loads(metrics.read_text())
        failed = [c["statement"] for c in rec.get("claims", []) if not c["passed"]]
        if rec.get("status") == "error":
            failed.insert(0, f"crashed: {rec.get('error', '')[:150]}")
        dev = rec.get("device", {})
        out.append(dict(name=d.name, ok=not failed,
                        claims=f"{rec.get('claims_passed', 0)}/{rec.get('claims_total', 0)}",
                        failed="; ".join(failed), compile_s=rec.get("compile_s"),
                        run_s=rec.get("run_s"), wall_s=rec.get("wall_s"),
                        device=f"{dev.get('platform', '')} {dev.get('device', '')}".strip(),
                        matmul=f"{rec.get('matmul_precision', '')} "
                               f"(eps {rec.get('eps', float('nan')):.2g})"))
    return out


def markdown(table: list[dict]) -> str:
    def s(x):
        return "" if x is None else f"{x:.1f}"

    lines = ["| experiment | claims passed | failed claims | compile s | run s | total s | device "
             "| matmul precision |", "|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['name']} | {r['claims']} | {r['failed'] or '-'} | {s(r['compile_s'])} "
                     f"| {s(r['run_s'])} | {s(r['wall_s'])} | {r['device']} | {r['matmul']} |")
    n_ok = sum(r["ok"] for r in table)
    lines.append(f"\n{n_ok} of {len(table)} experiments passed every claim.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    table = rows(args.runs)
    text = markdown(table)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if table and all(r["ok"] for r in table) else 1


if __name__ == "__main__":
    raise SystemExit(main())
