"""``python -m mathml_jax.gallery``: writes the gallery, rewrites its index, or checks that its
numbers reproduce. ``--help`` lists the options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser(names: list[str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mathml_jax.gallery",
        description="Runs every experiment at its default config and writes its figures, "
        "metrics.json and claims.md into the gallery folder, with index.md and index.html "
        "written from those files.",
        epilog="Experiments: " + ", ".join(names))
    p.add_argument("--out", type=Path, default=Path("results/gallery"),
                   help="the gallery folder (default: results/gallery)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--only", nargs="+", metavar="NAME",
                      help="run only these experiments (the index still covers every folder)")
    mode.add_argument("--check", nargs="*", metavar="NAME",
                      help="rerun these experiments (default: all) into a temporary folder and "
                      "list every number that drifted from the gallery's metrics.json; exit 1 "
                      "on drift")
    mode.add_argument("--index-only", action="store_true",
                      help="rewrite index.md and index.html from the gallery's files, run nothing")
    return p


def main(argv: list[str] | None = None) -> int:
    import experiments

    names = experiments.available()
    parser = _parser(names)
    args = parser.parse_args(argv)
    unknown = [n for n in (args.only or []) + (args.check or []) if n not in names]
    if unknown:
        print(f"Error: unknown experiment {', '.join(map(repr, unknown))}; available: "
              f"{', '.join(names)}.", file=sys.stderr)
        return 2
    from mathml_jax.gallery import build

    if args.index_only:
        if not args.out.is_dir():
            print(f"Error: {args.out} is not a folder: nothing to index.", file=sys.stderr)
            return 2
        for path in build.write_index(args.out):
            print(path)
        return 0
    if args.check is not None:
        from mathml_jax.gallery.check import drift_table

        status, drifts, notes = build.check(args.out, args.check or None)
        print(drift_table(drifts))
        if notes:
            print("\nmade with something else (not drift, but the likely cause of one):")
            print("\n".join(f"  {note}" for note in notes))
        return status
    status, _ = build.build(args.out, args.only)
    print(f"gallery written to {args.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
