"""Typed config schemas and their validation, before any computation.

Every experiment declares its section of the config as a dataclass named ``Config``; fields
carry their allowed range in metadata through :func:`param`. Validation merges the composed
section into ``OmegaConf.structured(Config)`` (types: "abc" is not an int), instantiates it
(``__post_init__`` cross-field checks run), then checks every field's range or choices. The
result is a plain dataclass instance: no ``DictConfig`` goes further than this module.

Any problem is a :class:`ConfigError` whose message is one paragraph naming the key, the
value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from mathml_jax.runtime import CACHE_OFF, MATMUL_PRECISIONS, PLATFORMS, PRECISIONS

PROFILES = ("default", "fast")
FIGURE_FORMATS = ("png", "pdf", "svg")


class ConfigError(ValueError):
    """A config value that is not allowed; the message names the key, value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(
            f"Invalid config value {key}={value!r}: {allowed}. Nothing was run. Change it on the "
            f"command line (e.g. python run.py {key.split('[')[0]}=...) or in the experiment's "
            "YAML file."
        )


def param(default: Any = dataclasses.MISSING, *, gt: float | None = None,
          ge: float | None = None, lt: float | None = None, le: float | None = None,
          choices: tuple[Any, ...] | None = None, help: str = "", length: int | None = None,
          finite: bool = True, unique: bool | None = None, tolerance: bool = False) -> Any:
    """A dataclass field with its allowed values in metadata.

    For list fields every element is checked, and ``length`` fixes how many there are (a 2-D
    scaling has two). A list's entries must differ (a repeated experiment or size would run
    twice) unless ``unique=False`` (layer widths [16, 16]); a fixed-length list is a vector,
    whose entries may repeat. Numbers must be finite unless ``finite=False`` (a p-norm's p may
    be inf).

    ``tolerance=True`` marks a bound one or more claims are checked against. It needs an upper
    bound (``le``/``lt``) that keeps the claim meaningful, and a run given another value than
    the default says so beside every claim it changes (``experiments._tolerances``).
    Example::

        lr: float = param(0.1, gt=0, help="learning rate")
        optimizer: str = param("sgd", choices=("sgd", "momentum", "adam"))
        batch_sizes: list[int] = param([1, 16, 128], ge=1)
    """
    if tolerance and le is None and lt is None:
        raise TypeError("a tolerance needs an upper bound (le= or lt=) that keeps its claim "
                        "meaningful")
    meta = {"gt": gt, "ge": ge, "lt": lt, "le": le, "choices": choices, "help": help,
            "length": length, "finite": finite,
            "unique": (length is None) if unique is None else unique, "tolerance": tolerance}
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def _describe(meta: dict[str, Any]) -> str:
    if meta.get("choices") is not None:
        return "allowed values are " + ", ".join(map(str, meta["choices"]))
    parts = []
    for k, word in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if meta.get(k) is not None:
            parts.append(f"{word} {meta[k]}")
    return "it must be " + " and ".join(parts)


def _ranges(meta: dict[str, Any]) -> str:
    """The allowed range alone (">= 1 and <= 10"), to follow another phrase; "" if none."""
    return _describe(meta).removeprefix("it must be ")


def annotation(f: dataclasses.Field) -> str:
    """A field's annotation as written, without spaces (annotations are postponed strings):
    "int", "int|None", "list[float]"."""
    return str(f.type).replace(" ", "")


def _check_value(key: str, value: Any, meta: dict[str, Any]) -> None:
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            raise ConfigError(key, value, _describe(meta))
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if meta.get("finite", True) and not math.isfinite(value):
        ranges = _ranges(meta)
        raise ConfigError(key, value, "it must be a finite number"
                          + (f" {ranges}" if ranges else ""))
    # finite=False: +inf is allowed beside the finite range (a p-norm's p = inf)
    upper = not (math.isinf(value) and value > 0 and not meta.get("finite", True))
    bad = ((meta.get("gt") is not None and not value > meta["gt"])
           or (meta.get("ge") is not None and not value >= meta["ge"])
           or (upper and meta.get("lt") is not None and not value < meta["lt"])
           or (upper and meta.get("le") is not None and not value <= meta["le"])
           or value != value)  # NaN
    if bad:
        raise ConfigError(key, value, _describe(meta) + (
            "" if meta.get("finite", True) else ", or inf"))


def _check_list(key: str, value: list, meta: dict[str, Any]) -> None:
    """A list field: non-empty, of its fixed length if any, every entry allowed, no repeats."""
    if not value:
        raise ConfigError(key, value, "it must be a non-empty list")
    n = meta.get("length")
    if n is not None and len(value) != n:
        what = f" ({meta['help']})" if meta.get("help") else ""
        raise ConfigError(key, value, f"it must be a list of exactly {n} values{what}")
    for i, v in enumerate(value):
        _check_value(f"{key}[{i}]", v, meta)
    if meta.get("unique", True):
        seen = [v for i, v in enumerate(value) if v in value[:i]]
        if seen:
            raise ConfigError(key, value, f"{seen[0]!r} is given twice; each entry runs "
                              "once, so list it once")


def check_ranges(obj: Any, prefix: str) -> None:
    """Checks every field of the dataclass ``obj`` against its ``param`` metadata."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(value):
            check_ranges(value, key)
        elif isinstance(value, list | tuple):
            _check_list(key, list(value), dict(f.metadata))
        else:
            _check_value(key, value, dict(f.metadata))


def _is_list_type(f: dataclasses.Field) -> bool:
    """Whether a field is a list."""
    return annotation(f).startswith(("list", "tuple"))


def _nested(f: dataclasses.Field) -> type | None:
    """The dataclass of a nested section (``figures: Figures``), else None."""
    factory = f.default_factory
    return factory if isinstance(factory, type) and dataclasses.is_dataclass(factory) else None


def _check_kinds(schema: type, section: Any, prefix: str) -> None:
    """A list given where the schema has a single value, or a single value where it has a list
    (``optimizers.optimizers=5``): said with the key before OmegaConf's own type message."""
    if not isinstance(section, DictConfig | dict):
        return
    for f in dataclasses.fields(schema):
        if f.name not in section:
            continue
        value = section[f.name]
        key = f"{prefix}.{f.name}" if prefix else f.name
        if _nested(f) is not None:
            _check_kinds(_nested(f), value, key)
            continue
        if str(f.type) == "Any":  # its own __post_init__ says what it takes
            continue
        is_list = isinstance(value, list | tuple) or OmegaConf.is_list(value)
        if _is_list_type(f) and value is not None and not is_list:
            example = f.default_factory() if f.default_factory is not dataclasses.MISSING \
                else None
            shown = ("[" + ", ".join(map(str, example)) + "]") if example else "[a, b]"
            raise ConfigError(key, value, f"it must be a list, e.g. {key}={shown}")
        if annotation(f) == "bool" and not isinstance(value, bool):
            # OmegaConf would take 2 or "yes" for true: a switch is written true or false
            raise ConfigError(key, value, "it must be true or false")
        if annotation(f) in ("int", "int|None") and isinstance(value, float) \
                and not isinstance(value, bool):
            # 1e12 is parsed as a float: a whole number is taken as the int it is (its range is
            # then checked as usual); 2.5 for a count is said plainly
            if not value.is_integer():
                ranges = _ranges(dict(f.metadata))
                raise ConfigError(key, value, "it must be a whole number"
                                  + (f" {ranges}" if ranges else ""))
            section[f.name] = int(value)
            continue
        if not _is_list_type(f) and (is_list or isinstance(value, dict | DictConfig)):
            value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
            ranges = _ranges(dict(f.metadata))
            raise ConfigError(key, value, "it must be a single value"
                              + (f" ({ranges})" if ranges else "") + ", not a list or section")


def _check_merged(schema: type, merged: DictConfig, prefix: str) -> None:
    """Every field's range on the typed but not yet instantiated config, so that a value out
    of range is reported under its own key before a ``__post_init__`` cross-field check
    (kl.width=inf: not "kl.separation must be at least 4 x width = inf")."""
    for f in dataclasses.fields(schema):
        key = f"{prefix}.{f.name}" if prefix else f.name
        node = merged.get(f.name)
        if isinstance(node, DictConfig) and _nested(f) is not None:
            _check_merged(_nested(f), node, key)
            continue
        value = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
        if isinstance(value, list | tuple):
            _check_list(key, list(value), dict(f.metadata))
        elif value is not None and not isinstance(value, dict):
            _check_value(key, value, dict(f.metadata))


_TYPE_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false",
               "str": "a word", "int|None": "a whole number or null",
               "float|None": "a number or null"}


def _type_error_message(schema: type, prefix: str, e: OmegaConfBaseException) -> ConfigError:
    """OmegaConf's type error, said with the key, the value and what the key allows."""
    key = getattr(e, "full_key", None) or "?"
    path = [part.split("[")[0] for part in key.split(".")]
    key = f"{prefix}.{key}" if prefix and not key.startswith(prefix) else key
    msg = str(e).splitlines()[0]
    value = getattr(e, "value", None)
    f, owner = None, schema
    for part in path:  # figures.dpi: through the nested section
        f = next((f for f in dataclasses.fields(owner) if f.name == part), None) \
            if owner is not None else None
        owner = _nested(f) if f is not None else None
    if f is None:
        return ConfigError(key, value, msg)
    meta = dict(f.metadata)
    kind = annotation(f)
    entry = kind[len("list["):-1] if kind.startswith("list[") else kind
    if meta.get("choices") is not None:
        allowed = _describe(meta)
    else:
        ranges = _ranges(meta)
        allowed = (f"it must be {_TYPE_WORDS.get(entry, entry)}"
                   + (" (each entry of the list)" if kind.startswith("list[") else "")
                   + (f" {ranges}" if ranges else ""))
    return ConfigError(key, value, f"wrong type ({msg.rstrip('.')}); {allowed}")


def build(schema: type, section: DictConfig | dict | None, prefix: str) -> Any:
    """Validates ``section`` against the dataclass ``schema``; returns the plain instance.

    Raises:
      ConfigError: a wrong type, an unknown key, or a value out of its allowed range.
    """
    _check_kinds(schema, section, prefix)
    try:
        base = OmegaConf.structured(schema)
        merged = OmegaConf.merge(base, section if section is not None else {})
        _check_merged(schema, merged, prefix)
        obj = OmegaConf.to_object(merged)
    except ConfigError:
        raise
    except ConfigKeyError as e:
        key = f"{prefix}.{e.key}" if prefix else str(e.key)
        raise ConfigError(key, (section or {}).get(e.key), "unknown key; the keys of "
                          f"{prefix or 'the config'} are: "
                          + ", ".join(f.name for f in dataclasses.fields(schema))) from None
    except OmegaConfBaseException as e:
        # to_object calls __post_init__; its ConfigError arrives wrapped by OmegaConf.
        cause = e.__cause__ or e.__context__
        if isinstance(cause, ConfigError):
            raise cause from None
        raise _type_error_message(schema, prefix, e) from None
    check_ranges(obj, prefix)
    return obj


@dataclass
class Figures:
    formats: list[str] = param(["png"], choices=FIGURE_FORMATS)
    dpi: int = param(150, ge=50, le=600)


@dataclass
class RunSettings:
    """The top-level keys every run has (``configs/config.yaml``)."""

    seed: int = param(0, ge=0, le=2**32 - 1, help="drives every random number via jax.random")
    platform: str = param("auto", choices=PLATFORMS)
    precision: str = param("float32", choices=PRECISIONS)
    matmul_precision: str = param("highest", choices=MATMUL_PRECISIONS,
                                  help="float32 matrix products: highest = full float32")
    profile: str = param("default", choices=PROFILES, help="fast shrinks every size for tests")
    strict: bool = param(False, help="a failed claim makes the exit status non-zero")
    figures: Figures = field(default_factory=Figures)
    # Any: a folder (str), None, or YAML's false; anything else gets the message below
    compilation_cache: Any = param(
        None, help="folder of JAX's persistent compilation cache; null/false/off: no cache")

    def __post_init__(self):
        # One spelling for "off" downstream: None.
        value = self.compilation_cache
        if value is None or value is False or (
                isinstance(value, str) and value.strip().lower() in CACHE_OFF):
            self.compilation_cache = None
        elif not isinstance(value, str) or not value.strip() or value.strip().lower() == "true":
            raise ConfigError("compilation_cache", value,
                              "give the folder of the persistent compilation cache (created if "
                              "missing, e.g. ~/.cache/mathml-jax/jax), or null, false or off "
                              "to compile every kernel afresh without a cache")
