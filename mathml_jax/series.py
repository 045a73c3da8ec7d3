"""The results of a compute phase as a flat set of named arrays, and back: what a run saves as
its series (``series.npz``) and what a redraw loads.

A results object is a dataclass whose fields are NumPy arrays, Python scalars (float, int, bool,
str), lists or tuples of scalars, or dicts with string keys whose values are again any of these
(one level per method, optimiser or function, nested as deep as needed). It is flattened to
``{"field": array, "field/key": array, "field/key/key2": array}``; loading reverses it. Nothing
is pickled, so a saved run opens in any NumPy.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

SEP = "/"
_SCALAR_TAG = "__scalar__"  # a 0-d array saved for a Python scalar (versus a 0-d ndarray)


def _flatten(prefix: str, value: Any, out: dict[str, np.ndarray]) -> None:
    if isinstance(value, dict):
        if not value:
            out[prefix + SEP + "__empty__"] = np.zeros(0)
        for k, v in value.items():
            if not isinstance(k, str) or SEP in k or not k:
                raise ValueError(f"results field {prefix!r}: dict keys must be non-empty "
                                 f"strings without {SEP!r}, got {k!r}")
            _flatten(prefix + SEP + k, v, out)
        return
    if isinstance(value, bool | int | float | str | np.generic):
        out[prefix] = np.asarray(value)
        out[prefix + SEP + _SCALAR_TAG] = np.zeros(0)
        return
    arr = np.asarray(value)
    if arr.dtype == object:
        raise ValueError(f"results field {prefix!r} is not a rectangular array of numbers or "
                         f"strings (dtype object); use a dict of arrays for ragged data")
    out[prefix] = arr


def to_arrays(results: Any) -> dict[str, np.ndarray]:
    """``{name: array}`` of a results dataclass (see the module docstring for the layout)."""
    if not dataclasses.is_dataclass(results):
        raise TypeError(f"results must be a dataclass instance, got {type(results).__name__}")
    out: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(results):
        _flatten(f.name, getattr(results, f.name), out)
    return out


def _unflatten(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    scalars = {k[: -len(SEP + _SCALAR_TAG)] for k in arrays if k.endswith(SEP + _SCALAR_TAG)}
    for key, arr in arrays.items():
        parts = key.split(SEP)
        if parts[-1] in (_SCALAR_TAG, "__empty__"):
            node = tree
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            continue
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = arr.item() if key in scalars else arr
    return tree


def from_arrays(cls: type, arrays: dict[str, np.ndarray]) -> Any:
    """The results dataclass ``cls`` rebuilt from :func:`to_arrays`' output."""
    tree = _unflatten(dict(arrays))
    names = {f.name for f in dataclasses.fields(cls)}
    missing = names - tree.keys()
    if missing:
        raise ValueError(f"saved series lack the field(s) {sorted(missing)} of {cls.__name__}: "
                         "the run was made by another version of the experiment")
    return cls(**{k: v for k, v in tree.items() if k in names})


def save(path, results: Any) -> None:
    """Writes ``results`` to ``path`` as a compressed ``.npz`` (atomically)."""
    from mathml_jax.writer import atomic_write

    arrays = to_arrays(results)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def load(path, cls: type) -> Any:
    with np.load(path, allow_pickle=False) as z:
        return from_arrays(cls, {k: z[k] for k in z.files})
