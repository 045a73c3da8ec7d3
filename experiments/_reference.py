"""The configuration reference: every key of every experiment with its type, default, fast
profile value and allowed values, generated from the schemas (the ``Config`` dataclasses and
:class:`~experiments._schema.RunSettings`) and the YAML files.

The README holds its output between two markers; ``python -m experiments._reference --write``
rewrites that block, and a test checks it is current::

    python -m experiments._reference            # print the Markdown
    python -m experiments._reference --write    # update README.md in place
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

import experiments
from experiments._schema import RunSettings, annotation

README = Path(experiments.__file__).resolve().parent.parent / "README.md"
START = "<!-- config-reference:start (python -m experiments._reference --write) -->"
END = "<!-- config-reference:end -->"
_COMMENT = re.compile(r"^\s+(\w+):.*?#\s*(.+?)\s*$")


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def allowed(meta: dict[str, Any], kind: str) -> str:
    """The allowed values of a field, in words, from its ``param`` metadata."""
    parts = ["true or false"] if kind == "bool" else []
    if meta.get("choices") is not None:
        parts.append("one of " + ", ".join(map(str, meta["choices"])))
    bounds = [f"{w} {_fmt(meta[k])}" for k, w in (("gt", ">"), ("ge", "≥"), ("lt", "<"),
                                                    ("le", "≤")) if meta.get(k) is not None]
    if bounds:
        parts.append(" and ".join(bounds) + ("" if meta.get("finite", True) else ", or inf"))
    if kind.startswith("list"):
        n = meta.get("length")
        parts.append(f"exactly {n} entries" if n else "non-empty" + (
            ", no repeats" if meta.get("unique", True) else ""))
    if meta.get("tolerance"):
        parts.append("a claim's bound: a change is noted beside the claims it moves")
    return "; ".join(parts)


def _yaml(name: str) -> tuple[dict, dict, dict]:
    """(default-profile values, fast-profile values, comments) of experiment ``name``."""
    import experiments._runner  # noqa: F401 - registers the by_profile resolver

    path = experiments.CONFIG_DIR / "experiment" / f"{name}.yaml"
    raw = OmegaConf.load(path)
    comments = {m[1]: m[2] for line in path.read_text().splitlines()
                if (m := _COMMENT.match(line))}
    values = []
    for profile in ("default", "fast"):
        root = OmegaConf.create({"profile": profile, name: raw.get(name, {})})
        values.append(OmegaConf.to_container(root, resolve=True)[name])
    return values[0], values[1], comments


def _rows(schema: type, prefix: str, default: dict, fast: dict, comments: dict) -> list[str]:
    rows = []
    for f in dataclasses.fields(schema):
        nested = f.default_factory if isinstance(f.default_factory, type) else None
        if nested is not None and dataclasses.is_dataclass(nested):
            rows += _rows(nested, f"{prefix}{f.name}.", default.get(f.name, {}),
                          fast.get(f.name, {}), comments)
            continue
        base = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        d = default.get(f.name, base)
        fv = fast.get(f.name, d)
        kind = annotation(f)
        what = f.metadata.get("help") or comments.get(f.name, "")
        cells = [f"`{prefix}{f.name}`", kind, f"`{_fmt(d)}`",
                 "" if fv == d else f"`{_fmt(fv)}`", allowed(dict(f.metadata), kind), what]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows


HEAD = ("| key | type | default | `profile=fast` | allowed | what it is |\n"
        "|---|---|---|---|---|---|")


def reference() -> str:
    """The Markdown of the whole reference (top-level keys, then each experiment)."""
    top = OmegaConf.to_container(OmegaConf.load(experiments.CONFIG_DIR / "config.yaml"))
    top.pop("hydra", None)
    top.pop("defaults", None)
    top["compilation_cache"] = "~/.cache/mathml-jax/jax"  # ${oc.env:MATHML_JAX_CACHE_DIR,...}
    parts = ["#### Top-level keys (every experiment)", "", HEAD,
             *_rows(RunSettings, "", top, top, {}), ""]
    for name in experiments.available():
        default, fast, comments = _yaml(name)
        schema = experiments.load(name).Config
        parts += [f"#### `{name}`", "", HEAD, *_rows(schema, f"{name}.", default, fast, comments),
                  ""]
    return "\n".join(parts).rstrip() + "\n"


def readme_block(text: str) -> str:
    """The generated block of the README ``text`` (between the markers)."""
    i, j = text.index(START) + len(START), text.index(END)
    return text[i:j].strip("\n") + "\n"


def write(path: Path = README) -> None:
    text = path.read_text()
    i, j = text.index(START) + len(START), text.index(END)
    path.write_text(text[:i] + "\n" + reference() + text[j:])


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
        print(f"updated the configuration reference in {README}")
    else:
        print(reference(), end="")
