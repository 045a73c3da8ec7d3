"""Property-based: every invalid value of every key of every experiment is one clear refusal.

For each experiment, Hypothesis draws an invalid value for EVERY key of its schema (and the
top-level keys): a wrong type, a value out of range, NaN and +-inf, a count too large, a
fraction where a whole number is needed, an empty list, a repeated entry, a list of the wrong
length, a list entry out of range, a single value for a list and a list for a single value,
the section replaced by a scalar or null, and an unknown key added with ``+``. Each drawn value
is rendered as the user would type it, parsed by Hydra's own override parser and applied to the
experiment's composed config by Hydra's own override code, then validated as ``run.py`` does
before any work. Each must be refused with: one paragraph (no traceback, no blank line) that
names the key, shows the value and says what is allowed.

Examples are not shrunk (each example already names every drawn value, labelled by key; a
shrink would re-validate every key hundreds of times). MATHML_PROPERTY_EXAMPLES sets how many
examples per experiment (2 in CI; more to search harder). A second property sends drawn
command lines through ``prevalidate`` itself (Hydra's compose) in an empty folder: exit
status 2, the same message rules, and nothing created.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import experiments
from experiments._runner import BadInput, validate
from experiments._schema import Figures, RunSettings

NAMES = experiments.available()
EXAMPLES = int(os.environ.get("MATHML_PROPERTY_EXAMPLES", "2"))
#: words Hydra or OmegaConf read as something other than a plain string
_RESERVED = {"true", "false", "null", "none", "inf", "nan", "yes", "no", "on", "off", "y",
             "n"}
WORDS = st.from_regex(r"\A[a-z][a-z_]{1,7}\Z").filter(lambda w: w not in _RESERVED)
#: what a message says about what is allowed, in one of the suite's phrasings
ALLOWED = re.compile(r"must|allowed|the keys of|the top-level keys|reads only|is a section|"
                     r"true or false|give the folder|given twice|a list of exactly|at least|"
                     r"at most|one entry per")


def _default(f: dataclasses.Field):
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _render(v) -> str:
    """A value as typed on the command line (Hydra's override grammar)."""
    if isinstance(v, list):
        return "[" + ",".join(_render(x) for x in v) + "]"
    if v is None:
        return "null"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return str(v)


def _kind(f: dataclasses.Field) -> str:
    t = str(f.type).replace(" ", "")
    return ("list" if t.startswith("list") else "bool" if t == "bool" else
            "int" if t.startswith("int") else "float" if t.startswith("float") else
            "str" if t == "str" else "any")


def _bad_number(meta: dict, integer: bool) -> st.SearchStrategy:
    """Numbers outside the field's range (or not numbers of the right kind)."""
    options = [st.sampled_from([math.nan, math.inf, -math.inf]) if meta.get("finite", True)
               else st.sampled_from([math.nan, -math.inf])]
    lo = meta.get("gt") if meta.get("gt") is not None else meta.get("ge")
    hi = meta.get("lt") if meta.get("lt") is not None else meta.get("le")
    if lo is not None:
        below = lo if meta.get("gt") is not None else lo - (1 if integer else abs(lo) * 1e-3 + 1e-9)
        options.append(st.floats(float(lo - 1e6), float(below), allow_nan=False).map(
            lambda x: math.floor(x) if integer else x).filter(
            lambda x: x <= below and (meta.get("ge") is None or x < meta["ge"])
            and (meta.get("gt") is None or x <= meta["gt"])))
    if hi is not None:
        above = float(hi + (1 if integer else abs(hi) * 1e-3 + 1e-9))
        top = float(above + abs(above) * 10 + 10)
        options.append(st.one_of(st.sampled_from([10 ** 12, 10 ** 15, 2 ** 63]).filter(
            lambda x: x > hi), st.floats(above, top, allow_nan=False).map(
            lambda x: math.ceil(x) if integer else x).filter(
            lambda x: x > hi or (meta.get("lt") is not None and x >= hi))))
    if integer:
        options.append(st.floats(0.01, 0.99).map(lambda x: round(3 + x, 2)))  # 3.47 of a count
    return st.one_of(options)


def bad_values(f: dataclasses.Field) -> st.SearchStrategy:
    """Invalid values for the schema field ``f`` (a scalar of its type out of its range, or a
    value of the wrong shape or type)."""
    meta, kind, default = dict(f.metadata), _kind(f), _default(f)
    words = WORDS.filter(lambda w: meta.get("choices") is None or w not in meta["choices"])
    if kind == "bool":
        return st.one_of(st.sampled_from([2, -1, 0.5]), words)
    if kind == "str":
        return st.one_of(words, st.lists(words, min_size=2, max_size=3, unique=True))
    if kind in ("int", "float"):
        number = _bad_number(meta, kind == "int")
        return st.one_of(number, words, st.lists(st.integers(1, 9), min_size=2, max_size=3))
    if kind != "list":
        return st.nothing()
    entry = (words if meta.get("choices") is not None
             else _bad_number(meta, str(f.type).replace(" ", "") == "list[int]"))
    good = list(default)
    options = [st.just([]),  # empty
               st.tuples(st.integers(0, len(good) - 1), entry).map(  # one entry bad
                   lambda ie: good[:ie[0]] + [ie[1]] + good[ie[0] + 1:]),
               st.sampled_from(good).map(lambda x: x)]  # a single value for a list
    if meta.get("unique", True) and len(good) >= 1:
        options.append(st.integers(0, len(good) - 1).map(lambda i: good + [good[i]]))
    if meta.get("length") is not None:
        n = meta["length"]
        options.append(st.integers(1, n + 2).filter(lambda k: k != n).map(
            lambda k: (good * 3)[:k]))
    return st.one_of(options)


def _fields(schema) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(schema) if _kind(f) != "any"
            and not (dataclasses.is_dataclass(f.default_factory)
                     if f.default_factory is not dataclasses.MISSING else False)]


def overrides_for(name: str) -> list[tuple[str, dataclasses.Field | None, st.SearchStrategy]]:
    """(key, field, strategy of bad values) for every key of experiment ``name`` and every
    top-level key; the shape errors (section replaced, unknown key) have no field."""
    out = [(f"{name}.{f.name}", f, bad_values(f)) for f in _fields(experiments.load(name).Config)]
    out += [(f.name, f, bad_values(f)) for f in _fields(RunSettings)]
    out += [(f"figures.{f.name}", f, bad_values(f)) for f in _fields(Figures)]
    out += [(name, None, st.one_of(WORDS, st.just(None), st.integers(0, 9))),
            ("figures", None, st.one_of(WORDS, st.just(None))),
            (f"+{name}.no_such_key", None, st.just(1)),
            ("+no_such_top", None, st.just(1))]
    return out


# ------------------------------------------------------------------------------ fast path

class _Composed(dict):
    def __repr__(self) -> str:  # Hypothesis prints the arguments of a failing example
        return f"<composed configs of {len(self)} experiments>"


@pytest.fixture(scope="module")
def composed():
    """The composed config of every experiment (fast profile), made once."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(experiments.CONFIG_DIR), version_base="1.3"):
        return _Composed({n: compose("config", overrides=[f"experiment={n}", "profile=fast"])
                          for n in NAMES})


def _apply(cfg, line: str):
    """Hydra's own parsing and application of one override ``line`` to ``cfg``."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from experiments._cli import composition_error

    parsed = OverridesParser.create().parse_overrides([line])
    cfg = copy.deepcopy(cfg)
    try:
        ConfigLoaderImpl._apply_overrides_to_config(parsed, cfg)
    except Exception as e:  # noqa: BLE001 - Hydra refused it: the CLI turns it into BadInput
        raise composition_error(e, [line]) from None
    return cfg, parsed[0].value()


def _shown(value) -> list[str]:
    """The ways a message may show ``value``."""
    out = {str(value), repr(value), _render(value)}
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        out.add(str(int(value)))
    if isinstance(value, int) and not isinstance(value, bool):
        out.add(repr(float(value)))  # an int given to a float key is shown as the float
    if isinstance(value, list):  # a list is shown whole, or the entry that is wrong
        out |= {str(value), repr(value)} | {repr(v) for v in value} | {str(v) for v in value}
        out |= {repr(float(v)) for v in value if isinstance(v, int) and not isinstance(v, bool)}
    return [s for s in out if s]


def assert_clear_refusal(message: str, key: str, value) -> None:
    assert "Traceback" not in message and "\n\n" not in message.strip(), message
    assert "\n" not in message.strip(), f"not one paragraph:\n{message}"
    bare = key.lstrip("+")
    assert bare in message or bare.rsplit(".", 1)[-1] in message, (key, message)
    if not key.startswith("+"):
        assert any(s in message for s in _shown(value)), (key, value, message)
    assert ALLOWED.search(message), f"does not say what is allowed: {message}"


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_key_refuses_every_kind_of_invalid_value(name, data, composed):
    """Every key of the experiment and the top level, each with a drawn invalid value."""
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(experiments.CONFIG_DIR), version_base="1.3"):
        for key, _, strategy in overrides_for(name):
            value = data.draw(strategy, label=key)
            line = f"{key}={_render(value)}"
            try:
                cfg, parsed_value = _apply(composed[name], line)
                validate(cfg, name)
            except BadInput as e:
                assert_clear_refusal(str(e), key, value)
                continue
            raise AssertionError(f"accepted: python run.py experiment={name} {line}")


def test_strategies_reach_every_key_of_every_experiment():
    """The property above draws for every key: none is skipped for lack of a strategy."""
    for name in NAMES:
        keys = {k for k, _, _ in overrides_for(name)}
        schema = {f"{name}.{f.name}" for f in dataclasses.fields(experiments.load(name).Config)}
        assert schema <= keys, f"{name}: no invalid values drawn for {sorted(schema - keys)}"


# ------------------------------------------------------------------------ through the CLI

@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_prevalidate_refuses_drawn_bad_command_lines_and_creates_nothing(data, tmp_path_factory,
                                                                         monkeypatch, capsys):
    """The whole path a user takes (Hydra's compose included): exit 2, the message on stderr,
    and the folder it ran in is still empty."""
    from experiments._cli import prevalidate

    name = data.draw(st.sampled_from(NAMES), label="experiment")
    options = overrides_for(name)
    key = data.draw(st.sampled_from([k for k, _, _ in options]), label="key")
    strategy = next(s for k, _, s in options if k == key)
    value = data.draw(strategy, label="value")
    where = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(where)
    line = f"{key}={_render(value)}"
    with pytest.raises(SystemExit) as exit_:
        prevalidate([f"experiment={name}", "profile=fast", line])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, (line, err)
    assert err.startswith("Error: "), err
    assert_clear_refusal(err.removeprefix("Error: "), key, value)
    assert not any(where.iterdir()), f"{line} created {list(where.iterdir())}"
