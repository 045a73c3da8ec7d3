"""The memory and time guard: what a config needs, estimated before any allocation.

Every experiment module ends with ``footprint(cfg, target) -> Footprint``: pure Python
arithmetic on its config (no JAX, no allocation) that says how many bytes its largest live
arrays take at the run's precision, which config keys drive that size, and, where the work is
long, a rough time from a per-item cost measured on this machine. :func:`check_footprint` asks
it before the experiment's ``compute`` runs and:

- refuses (:class:`OverBudget`, exit 2 like every other bad input) a config whose memory
  estimate exceeds what the machine has: the message names the key(s) and values, the estimate,
  what is available, and the largest value of the driving key that fits (or the chunk key);
- never refuses a count of a kernel that streams (Monte Carlo counts, multi-start descent, grid
  classification): its memory is one chunk plus what is kept (``Footprint.streams``), and only
  its time is estimated;
- logs a warning with the time estimate when the work is long (over :data:`WARN_SECONDS`), and
  refuses only beyond a generous limit (:data:`DEFAULT_TIME_LIMIT_S`, one day on this machine's
  rates), which ``MATHML_TIME_LIMIT`` raises (``MATHML_TIME_LIMIT=inf`` never refuses).

What "available" means (:func:`available_memory`): ``MATHML_MEMORY_BUDGET`` when set (e.g.
``2GB``, ``512MiB``, ``1.5e9``: taken as is); else, on a GPU, the device's free memory
(``bytes_limit - bytes_in_use`` from ``Device.memory_stats()``) times :data:`SAFETY`; else
the host's available RAM (``MemAvailable`` of ``/proc/meminfo``, capped by a cgroup memory
limit) times :data:`SAFETY`. Estimates are of the right order (a factor of about 2), not exact:
the safety fraction leaves room for XLA's temporaries that the estimates do not count.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

log = logging.getLogger("mathml_jax")

#: the fraction of free memory a run may plan to fill (the rest: XLA's temporaries, Python,
#: the figures, and whatever else the machine runs)
SAFETY = 0.8
#: a time estimate above this many seconds is logged before the work starts
WARN_SECONDS = 60.0
#: estimated work above this many seconds is refused (``MATHML_TIME_LIMIT`` overrides)
DEFAULT_TIME_LIMIT_S = 24 * 3600.0
#: below this a memory estimate is not worth a refusal (Python and JAX themselves take more),
#: unless MATHML_MEMORY_BUDGET sets the budget
MIN_CHECKED_BYTES = 64 * 2**20
#: int32 indices (chunk numbers, fori_loop bounds, array dimensions) stay below this
INT32_MAX = 2**31 - 1

_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "t": 1e12, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SECONDS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


class OverBudget(ValueError):
    """A config that cannot fit the machine (or would run past the time limit); the message is
    one paragraph for the user: the keys, the estimate, what is available, how to shrink it."""


class Target(NamedTuple):
    """What an estimate depends on besides the config: bytes per float of the run's precision
    and the platform ("cpu", "gpu")."""

    itemsize: int = 4
    platform: str = "cpu"


@dataclass(frozen=True)
class Footprint:
    """An experiment's estimate for one config.

    Attributes:
      bytes: peak memory of its largest live arrays (bytes, at the run's precision).
      keys: the config keys that drive ``bytes`` (full names, ``"svd.tall_rows"``); a refusal
        gives the largest fitting value of the one furthest above its default.
      what: those arrays in words ("the tall_rows x tall_cols matrix and its SVD").
      seconds: rough time of the work (0: short, not estimated).
      rate: how ``seconds`` was made: the per-item cost and where it was measured.
      streams: the big counts stream in chunks: ``bytes`` is one chunk plus what is kept, and
        a count is never refused for being large.
      shrink: further advice for a refusal (a chunk key to set).
      time_keys: the keys that drive ``seconds`` (default: ``keys``).
      rate_platform: where the per-item costs were measured; on another platform the time is
        only logged, never refused.
    """

    bytes: float
    keys: tuple[str, ...]
    what: str
    seconds: float = 0.0
    rate: str = ""
    streams: bool = False
    shrink: str = ""
    time_keys: tuple[str, ...] = ()
    rate_platform: str = "cpu"


# ----------------------------------------------------------------------------- arithmetic

def size(*shapes: Any, itemsize: int) -> float:
    """Bytes of arrays of the given shapes (tuples of ints) at ``itemsize`` bytes per entry."""
    return float(sum(math.prod(float(d) for d in s) for s in shapes)) * itemsize


class Part(NamedTuple):
    """The arrays live at once in one phase of an experiment: their bytes, the config keys
    that drive them (full names), and what they are, in words."""

    bytes: float
    keys: tuple[str, ...]
    what: str


def estimate(*parts: Part, seconds: float = 0.0, rate: str = "", streams: bool = False,
             shrink: str = "", time_keys: tuple[str, ...] = (),
             rate_platform: str = "cpu") -> Footprint:
    """The Footprint of phases that run one after another (each frees its arrays before the
    next starts, or keeps only small results): the peak is the largest phase, whose keys and
    description the Footprint carries."""
    top = max(parts, key=lambda p: p.bytes)
    return Footprint(bytes=top.bytes, keys=top.keys, what=top.what, seconds=seconds, rate=rate,
                     streams=streams, shrink=shrink, time_keys=time_keys,
                     rate_platform=rate_platform)


#: Costs of kinds of work on this machine (2 CPU cores, jaxlib 0.10.2, float32), for the rough
#: times of the estimates. Unloaded (results/benchmark-cpu.md and results/gallery/*/metrics.json,
#: made here): a 1024 x 1024 matmul 214 GFLOP/s; a thin SVD of 4000 x 1000 0.49 s (1.2e-10
#: m n^2); eig of 60 x 60 1.3 ms. Under load (load average 8 on the 2 cores, other jobs
#: running; best of 3 after a warm-up): matmul 67 GFLOP/s; a general eig of 300 x 300 0.25 s
#: (9e-9 n^3), eigh of 500 x 500 0.10 s; thin SVD of 2000 x 500 3.2 s (JAX) and 0.9 s (NumPy);
#: sum(sin(x) x + 1) over 1e7 entries 0.20 s; 1e7 normal draws 0.49 s. The constants sit
#: between the two, rounded up: an estimate is meant to within a factor of a few. An
#: accelerator is much faster: there a time made from these is only logged, never a reason to
#: refuse (Footprint.rate_platform).
S_PER_FLOP = 1e-11        # dense matrix products (1e11 flop/s)
S_PER_EIG_N3 = 1e-8       # general eigendecomposition, times n^3
S_PER_EIGH_N3 = 1e-9      # symmetric eigendecomposition, times n^3
S_PER_SVD_MN2 = 3e-10     # thin SVD of m x n (m >= n), times m n^2
S_PER_ELEMENT = 5e-9      # one elementwise step with a transcendental function, per entry
S_PER_DRAW = 1e-8         # one random normal draw

#: the memory one chunk of a streamed batch (Monte Carlo samples, multi-start descent, grid
#: classification) is planned to take: a streamed phase counts min(its whole batch, this)
STREAM_CHUNK_BYTES = 2**28


def streamed(whole_bytes: float) -> float:
    """Bytes of a phase that streams its batch in chunks: one chunk at most."""
    return min(float(whole_bytes), float(STREAM_CHUNK_BYTES))


def work_seconds(units: float, per_unit_s: float) -> float:
    """Rough seconds of ``units`` of work at a per-unit cost measured on this machine."""
    return float(units) * per_unit_s


def parse_bytes(text: str) -> float:
    """``"2GB"``, ``"512MiB"``, ``"1.5e9"``, ``"3g"`` -> bytes."""
    m = re.fullmatch(r"\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", str(text).lower())
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"MATHML_MEMORY_BUDGET={text!r}: give bytes, e.g. 2GB, 512MiB or 1.5e9")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_seconds(text: str) -> float:
    """``"90"``, ``"30m"``, ``"12h"``, ``"3d"``, ``"inf"`` -> seconds."""
    t = str(text).strip().lower()
    if t in ("inf", "none", "off"):
        return math.inf
    m = re.fullmatch(r"([0-9.]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)", t)
    if not m or m.group(2) not in _SECONDS:
        raise ValueError(f"MATHML_TIME_LIMIT={text!r}: give a duration, e.g. 3600, 30m, 12h, 3d "
                         "or inf")
    return float(m.group(1)) * _SECONDS[m.group(2)]


def show_bytes(b: float) -> str:
    """Bytes for people: ``75 GB``, ``1.5 GB``, ``300 MB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            v = b / scale
            return f"{v:.2g} {unit}" if v < 10 else f"{v:.0f} {unit}"
    return f"{b:.0f} bytes"


def show_seconds(s: float) -> str:
    """Seconds for people: ``40 s``, ``3.2 min``, ``5.1 h``, ``2.9 days``."""
    for unit, scale, start in (("days", 86400, 2 * 86400), ("h", 3600, 3600),
                               ("min", 60, 60)):
        if s >= start:
            return f"{s / scale:.2g} {unit}"
    return f"{s:.2g} s"


def show_value(v: Any) -> str:
    """A config value as a user types it (``1e+12`` for a huge float count)."""
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1e6:
        return f"{v:.3g}"
    return str(v)


# ---------------------------------------------------------------------- the machine's memory

def _meminfo_available() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError):
        return None


def _cgroup_available() -> float | None:
    """What a cgroup (v2) memory limit leaves, when this process has one."""
    try:
        limit = open("/sys/fs/cgroup/memory.max").read().strip()
        used = open("/sys/fs/cgroup/memory.current").read().strip()
    except OSError:
        return None
    if limit == "max":
        return None
    return max(float(limit) - float(used), 0.0)


def _device_available() -> float | None:
    """Free memory of the first local device (GPU), only when JAX's backends already run (the
    runner's setup started them): asking earlier would start them, and grab GPU memory, in a
    process that may only validate."""
    try:
        from jax._src import xla_bridge

        if not xla_bridge.backends_are_initialized():
            return None
        import jax

        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # no backend, or a platform without memory_stats
        return None
    if not stats or "bytes_limit" not in stats:
        return None
    return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))


def available_memory() -> tuple[float, str]:
    """(bytes a run may use, where that number comes from)."""
    env = os.environ.get("MATHML_MEMORY_BUDGET")
    if env:
        return parse_bytes(env), "MATHML_MEMORY_BUDGET"
    dev = _device_available()
    if dev is not None:
        return SAFETY * dev, f"{SAFETY:.0%} of the device's free memory"
    ram = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if not ram:
        return math.inf, "unknown (no /proc/meminfo)"
    return SAFETY * min(ram), f"{SAFETY:.0%} of the available RAM"


def time_limit() -> float:
    env = os.environ.get("MATHML_TIME_LIMIT")
    return parse_seconds(env) if env else DEFAULT_TIME_LIMIT_S


# ---------------------------------------------------------------------------- the check

def _field(key: str) -> str:
    return key.split(".", 1)[1] if "." in key else key


def _with(cfg: Any, name: str, value: Any) -> Any:
    """``cfg`` with field ``name`` set to ``value`` (a list: every entry above it lowered)."""
    old = getattr(cfg, name)
    if isinstance(old, list):
        value = [min(v, value) for v in old]
    return dataclasses.replace(cfg, **{name: value})


def _number(v: Any) -> float | None:
    """A numeric field's size: the number, or a list's largest entry (None otherwise)."""
    if isinstance(v, list):
        v = max(v) if v and all(isinstance(x, int | float) for x in v) else None
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _default(cfg: Any, name: str) -> Any:
    for f in dataclasses.fields(cfg):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


def primary_key(cfg: Any, keys: tuple[str, ...]) -> str:
    """Of the keys that drive an estimate, the one furthest above its schema default (the one
    the user most likely raised); the first on a tie."""
    def ratio(key):
        now, default = _number(getattr(cfg, _field(key), None)), _number(_default(cfg, _field(key)))
        return now / default if now is not None and default else 0.0
    return max(keys, key=ratio)


def _round_down(v: float) -> float:
    """``v`` rounded down to two significant digits (52629 -> 52000)."""
    if v < 100:
        return math.floor(v)
    scale = 10 ** (math.floor(math.log10(v)) - 1)
    return math.floor(v / scale) * scale


def largest_fitting(footprint, cfg: Any, key: str, target: Target, limit: float,
                    measure: str = "bytes") -> Any:
    """The largest value of ``key`` (an int or float field, or the largest entries of a list)
    for which ``footprint(cfg, target).<measure>`` stays within ``limit``, to two significant
    digits; None when no value does (another key drives the size) or the field is not a
    number."""
    name = _field(key)
    current = getattr(cfg, name, None)
    top = _number(current)
    if top is None or top <= 1:
        return None
    is_int = isinstance(current, int) or (isinstance(current, list) and
                                          all(isinstance(v, int) for v in current))

    def fits(v):
        """Within the limit (None: a value the experiment's own checks reject)."""
        try:
            fp = footprint(_with(cfg, name, int(v) if is_int else float(v)), target)
        except OverBudget:
            return False
        except Exception:
            return None
        return getattr(fp, measure) <= limit

    meta = next((f.metadata for f in dataclasses.fields(cfg) if f.name == name), {})
    lo, hi = max(1.0, float(meta.get("ge") or meta.get("gt") or 1)), top
    while lo < hi and fits(lo) is None:  # the smallest value the config's checks accept
        lo *= 2
    if lo >= hi or not fits(lo):
        return None
    for _ in range(80):  # bisection on a log scale
        if hi / lo < 1.001:
            break
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if fits(mid) is True else (lo, mid)
    v = _round_down(lo)
    if fits(v) is not True:
        v = lo
    return int(v) if is_int else float(v)


def _keys_shown(cfg: Any, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={show_value(getattr(cfg, _field(k), '?'))}" for k in keys)


def memory_message(fp: Footprint, cfg: Any, available: float, source: str,
                   fit: Any) -> str:
    where = source if source == "MATHML_MEMORY_BUDGET" else \
        f"{source}; MATHML_MEMORY_BUDGET sets it"
    head = (f"{_keys_shown(cfg, fp.keys)}: this run needs about {show_bytes(fp.bytes)} of "
            f"memory ({fp.what}); this machine has {show_bytes(available)} available "
            f"({where}).")
    key = primary_key(cfg, fp.keys)
    if fit is not None:
        how = f" The largest {key} that fits is about {show_value(fit)}"
        others = [k for k in fp.keys if k != key]
        how += f"; or lower {' or '.join(others)}." if others else "."
    else:
        how = f" Lower {' or '.join(fp.keys)}."
    extra = f" {fp.shrink}" if fp.shrink else ""
    return head + how + extra + " Nothing was run."


def time_message(fp: Footprint, cfg: Any, limit: float, fit: Any) -> str:
    keys = _time_keys(fp, cfg)
    how = (f" The largest {keys[0]} within the limit is about {show_value(fit)}."
           if fit is not None else f" Lower {' or '.join(keys)}.")
    return (f"{_keys_shown(cfg, keys)}: this run would take about {show_seconds(fp.seconds)} "
            f"on this machine ({fp.rate}), over the limit of {show_seconds(limit)}.{how} "
            "To run it anyway, raise the limit: MATHML_TIME_LIMIT=7d (or inf). Nothing was run.")


def _time_keys(fp: Footprint, cfg: Any) -> tuple[str, ...]:
    """The keys a time message names: the primary one first, at most three."""
    keys = fp.time_keys or fp.keys
    first = primary_key(cfg, keys)
    return (first, *[k for k in keys if k != first])[:3]


def auto_platform() -> str:
    """What ``platform=auto`` will be, guessed without starting JAX (which would grab GPU
    memory in a process that only validates): "gpu" where an NVIDIA device file and a CUDA
    plugin of jaxlib are both present, else "cpu"."""
    import glob
    import importlib.util

    def found(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except ImportError:  # a parent package that is not installed
            return False

    plugin = any(found(m) for m in ("jax_cuda12_plugin", "jax_cuda13_plugin",
                                    "jax_plugins.xla_cuda12", "jax_plugins.xla_cuda13"))
    return "gpu" if plugin and glob.glob("/dev/nvidia[0-9]*") else "cpu"


def target_of(settings: Any, platform: str | None = None) -> Target:
    """The estimate's target from the run settings (precision) and the platform in use
    (``platform``: the runtime's, when known; else the settings', "auto" guessed by
    :func:`auto_platform`)."""
    itemsize = 8 if getattr(settings, "precision", "float32") == "float64" else 4
    plat = platform or getattr(settings, "platform", "cpu") or "cpu"
    return Target(itemsize, auto_platform() if plat == "auto" else plat)


def check_footprint(module: Any, exp_cfg: Any, settings: Any, *,
                    platform: str | None = None) -> Footprint | None:
    """Estimates what ``exp_cfg`` needs with ``module.footprint`` and refuses it when it cannot
    fit (memory) or would run past the time limit; logs the time estimate of long work.

    Call it after the runtime is configured (so a GPU's own memory is known) and before
    ``compute``. Returns the Footprint (None for a module without ``footprint``).

    Raises:
      OverBudget: with the one-paragraph message for the user.
    """
    fn = getattr(module, "footprint", None)
    if fn is None:
        return None
    target = target_of(settings, platform)
    fp = fn(exp_cfg, target)
    available, source = available_memory()
    floor = 0.0 if source == "MATHML_MEMORY_BUDGET" else MIN_CHECKED_BYTES
    if fp.bytes > max(available, floor):
        fit = largest_fitting(fn, exp_cfg, primary_key(exp_cfg, fp.keys), target, available)
        raise OverBudget(memory_message(fp, exp_cfg, available, source, fit))
    limit = time_limit()
    if fp.seconds > limit and fp.rate_platform == target.platform:
        fit = largest_fitting(fn, exp_cfg, _time_keys(fp, exp_cfg)[0], target, limit,
                              measure="seconds")
        raise OverBudget(time_message(fp, exp_cfg, limit, fit))
    if fp.seconds > WARN_SECONDS:
        text = (f"{_keys_shown(exp_cfg, _time_keys(fp, exp_cfg))}: estimated about "
                f"{show_seconds(fp.seconds)} of work ({fp.rate})")
        if text not in _WARNED:  # validated twice in one process (up front, then by the job)
            _WARNED.add(text)
            log.warning("%s", text)
    return fp


_WARNED: set[str] = set()
