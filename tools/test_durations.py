"""Measures every test's duration and writes tests/durations.json (seconds per test id), which
tests/conftest.py uses to order the collection for pytest-xdist (longest first, balanced
shares). Run it on a quiet machine after adding or changing heavy tests:

    python tools/test_durations.py            # the README's test command, timed
    python tools/test_durations.py -k lln     # a subset: its entries are updated, others kept

The numbers are relative costs for scheduling, not performance targets.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "durations.json"
LINE = re.compile(r"^\s*([0-9.]+)s (setup|call|teardown)\s+(\S+)")


def main(argv: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "auto",
           "--maxprocesses", "4", "--dist", "worksteal", "--durations=0",
           "--durations-min=0.05", "tests", *argv]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            seconds[m[3]] = seconds.get(m[3], 0.0) + float(m[1])
    if not seconds:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        return 1
    old = json.loads(OUT.read_text()) if OUT.exists() and argv else {}
    old.update({k: round(v, 2) for k, v in seconds.items()})
    OUT.write_text(json.dumps(dict(sorted(old.items())), indent=1) + "\n")
    print(f"{len(seconds)} tests timed ({sum(seconds.values()):.0f} s in all); "
          f"pytest exit {proc.returncode}; written to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
