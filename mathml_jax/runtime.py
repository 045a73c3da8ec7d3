"""Platform, precision and matmul precision for one job, applied at the start of every job.

JAX's precision is a process-wide flag (``jax_enable_x64``), and so is the precision of float32
matrix products (``jax_default_matmul_precision``); a sweep runs many jobs in one process, so
every job sets both itself instead of inheriting the previous job's values.

Round-off bounds use the unit of the arithmetic actually in use, which the job *measures*
(:func:`matmul_mantissa_bits`): on a CPU, or with ``matmul_precision=highest``, a float32 matrix
product keeps float32's 23 mantissa bits; with ``default`` an NVIDIA GPU rounds its inputs to
TF32 (10 bits) and a TPU to bfloat16 (7 bits). :attr:`RunContext.eps` is then 2^-bits.

Compiled kernels are kept on disk by JAX's persistent compilation cache
(:func:`configure_compilation_cache`), so a second ``python run.py`` loads them instead of
compiling them again.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mathml_jax.timing import Timer

PLATFORMS = ("auto", "cpu", "gpu")
PRECISIONS = ("float32", "float64")
#: ``jax_default_matmul_precision`` values offered: "highest" is full float32 (the default of
#: this suite); "default" lets the backend choose (TF32 on NVIDIA GPUs since Ampere, bfloat16
#: passes on TPUs); the others name a reduced arithmetic explicitly.
MATMUL_PRECISIONS = ("highest", "high", "default", "tensorfloat32", "bfloat16")
#: spellings of "no persistent compilation cache" accepted for ``compilation_cache`` (besides
#: YAML's null); ``false`` arrives from Hydra as the string "False" in a string field
CACHE_OFF = ("off", "false", "none", "null", "no")

log = logging.getLogger("mathml_jax")

# JAX logs a warning for every backend it probes and cannot start (TPU, a CUDA plugin that is
# absent); that is start-up noise for a user of this suite, not information.
for _name in ("jax._src.xla_bridge", "jax._src.compiler", "absl"):
    logging.getLogger(_name).setLevel(logging.ERROR)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class PlatformUnavailable(RuntimeError):
    """The requested platform has no device in this process."""


@dataclass(frozen=True)
class RuntimeInfo:
    platform: str
    device: str
    device_count: int
    precision: str
    jax_version: str
    matmul_precision: str = "highest"
    #: mantissa bits a matrix product keeps of its inputs, measured per input dtype
    matmul_bits: tuple[tuple[str, int], ...] = ()

    def eps_for(self, dtype) -> float:
        """The round-off unit 2^-p of arithmetic on ``dtype`` that includes matrix products:
        p is the fewer of the dtype's mantissa bits and what a matrix product keeps."""
        import jax.numpy as jnp

        nmant = int(jnp.finfo(dtype).nmant)
        bits = dict(self.matmul_bits).get(jnp.dtype(dtype).name, nmant)
        return float(2.0 ** -min(bits, nmant))

    def as_dict(self) -> dict[str, str | int]:
        out = dict(self.__dict__)
        out["matmul_bits"] = dict(self.matmul_bits)
        return out


def quiet_startup(platform: str) -> None:
    """Before JAX starts its backends: restrict it to the requested platform.

    Only effective before the first JAX computation in the process; afterwards the platform
    is chosen per job through the default device instead.
    """
    if platform == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")


def matmul_mantissa_bits(dtype) -> int:
    """Mantissa bits a matrix product on the default device keeps of ``dtype`` inputs, measured.

    Row k of a (p x 4) @ (4 x 4) product has the single non-zero term (1 + 2^-k) * 1, which is
    exact in ``dtype``; an arithmetic that rounds its inputs to p bits returns 1 for every
    k > p. The answer is the largest k whose product came back exact (23 for float32 on a CPU
    or at ``highest``, 10 for TF32, 7 for bfloat16, 52 for float64).
    """
    import jax.numpy as jnp
    import numpy as np

    nmant = int(jnp.finfo(dtype).nmant)
    k = np.arange(1, nmant + 1, dtype=np.float64)
    a = np.zeros((nmant, 4))
    a[:, 0] = 1.0 + 2.0**-k
    b = np.ones((4, 4))
    # NumPy casts and slices: the device runs one compiled program (the product), not five
    out = np.asarray(jnp.matmul(a.astype(dtype), b.astype(dtype)), np.float64)[:, 0]
    exact = out == a[:, 0]
    return int(nmant if exact.all() else np.argmin(exact))


def configure_compilation_cache(folder: str | os.PathLike | None) -> str | None:
    """Points JAX's persistent compilation cache at ``folder`` (``None``: no cache) and returns
    the absolute folder in use, or ``None`` when the cache is off.

    Every kernel is cached, however quickly it compiled (JAX's default keeps only those that
    took over a second, and most kernels of this suite compile in well under one): a second
    run of the same command then loads its executables instead of compiling them.

    JAX opens its cache folder once per process, at the first compilation after a folder is
    set, and keeps it; a job whose folder differs from the one in use (a sweep over
    ``compilation_cache``, or a notebook that set its own) resets JAX's cache first, through
    the public ``jax.experimental.compilation_cache.compilation_cache.reset_cache``. Compiled
    kernels already in memory stay in use either way.

    A folder that cannot be created or written (a read-only home, a path through a file) is
    not an error: a warning says so and the job runs without a persistent cache.
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    path = None
    if folder is not None:
        candidate = Path(folder).expanduser().absolute()
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=candidate, prefix=".write-test-"):
                pass
            path = str(candidate)
        except OSError as e:
            log.warning("compilation_cache=%s cannot be used (%s: %s); this job runs without "
                        "a persistent compilation cache (every kernel is compiled).", folder,
                        type(e).__name__, e.strerror or e)
    if (jax.config.jax_compilation_cache_dir != path
            or jax.config.jax_enable_compilation_cache != (path is not None)):
        jax_cache.reset_cache()
        jax.config.update("jax_compilation_cache_dir", path)
        # off: JAX does not even compute cache keys
        jax.config.update("jax_enable_compilation_cache", path is not None)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def configure(platform: str = "auto", precision: str = "float32",
              matmul_precision: str = "highest") -> RuntimeInfo:
    """Applies ``precision``, ``matmul_precision`` and ``platform`` for the current job and says
    what is in use, including the measured mantissa bits of matrix products.

    Args:
      platform: "auto" (JAX's default backend), "cpu" or "gpu".
      precision: "float32" or "float64"; sets ``jax_enable_x64`` accordingly.
      matmul_precision: one of :data:`MATMUL_PRECISIONS`; sets
        ``jax_default_matmul_precision`` (float32 products; float64 ones are always full).

    Raises:
      PlatformUnavailable: ``platform="gpu"`` and JAX sees no GPU.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {PLATFORMS}, got {platform!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if matmul_precision not in MATMUL_PRECISIONS:
        raise ValueError(f"matmul_precision must be one of {MATMUL_PRECISIONS}, "
                         f"got {matmul_precision!r}")
    quiet_startup(platform)
    import jax
    import numpy as np

    jax.config.update("jax_enable_x64", precision == "float64")
    jax.config.update("jax_default_matmul_precision", matmul_precision)
    if platform == "auto":
        devices = jax.local_devices()  # this process's (several under jax.distributed)
        jax.config.update("jax_default_device", None)
    else:
        try:
            devices = jax.local_devices(backend=platform)
        except RuntimeError as e:
            raise PlatformUnavailable(
                f"platform={platform} was requested but JAX finds no {platform.upper()} device "
                f"(JAX sees: {', '.join(sorted({d.platform for d in jax.devices()}))}). Install "
                "a CUDA-enabled JAX (pip install -U \"jax[cuda12]\") or use platform=cpu."
            ) from e
        jax.config.update("jax_default_device", devices[0])
    dtypes = (np.float32, np.float64) if precision == "float64" else (np.float32,)
    return RuntimeInfo(
        platform=devices[0].platform,
        device=str(devices[0].device_kind),
        device_count=len(devices),
        precision=precision,
        jax_version=jax.__version__,
        matmul_precision=matmul_precision,
        matmul_bits=tuple((np.dtype(d).name, matmul_mantissa_bits(d)) for d in dtypes),
    )


def float_dtype(precision: str):
    """The floating dtype of ``precision`` ("float32" or "float64")."""
    import jax.numpy as jnp

    return jnp.float64 if precision == "float64" else jnp.float32


def _cast_floats(tree, dtype):
    import jax
    import jax.numpy as jnp

    def cast(x):
        if isinstance(x, float):
            return jnp.asarray(x, dtype)
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.asarray(x, dtype)
        return x

    return jax.tree.map(cast, tree)


def at_precision(precision: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` computed in ``precision`` whatever the job's: floating array
    arguments are cast to it, JAX's 64-bit mode is set for the call only, and the outputs come
    back as host NumPy arrays. The one place an experiment changes precision: a float64
    reference inside a float32 run, or a float32 study inside a float64 one."""
    import jax
    import numpy as np

    with jax.enable_x64(precision == "float64"):
        dtype = float_dtype(precision)
        out = fn(*_cast_floats(args, dtype), **kwargs)
        return jax.tree.map(np.asarray, jax.device_get(out))


def in_float64(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """:func:`at_precision` in float64: the helper every float64 reference goes through."""
    return at_precision("float64", fn, *args, **kwargs)


def _no_progress(label: str, done: int, total: int) -> None:
    return None


def _new_timer() -> Timer:
    from mathml_jax.timing import Timer

    return Timer()


@dataclass(frozen=True)
class RunContext:
    """What every experiment's compute phase gets besides its own config: the job's seed,
    profile and runtime (platform, precision, the round-off unit) as values, the timer that
    collects its timings and the progress callback for long work.

    The dtype is the job's precision as a value, not read back from JAX's global flag: the
    runner sets the flag from the same value at the start of every job.
    """

    seed: int
    profile: str
    runtime: RuntimeInfo
    timer: Timer = field(default_factory=_new_timer, compare=False)
    #: ``progress(label, done, total)``: called as long work advances (the CLI draws a bar)
    progress: Callable[[str, int, int], None] = _no_progress

    @property
    def key(self):
        """The root PRNG key of the run; experiments split it, never reuse it."""
        import jax

        return jax.random.key(self.seed)

    @property
    def dtype(self):
        return float_dtype(self.runtime.precision)

    @property
    def eps(self) -> float:
        """The round-off unit of this job's arithmetic, matrix products included: float32 or
        float64 eps, or the TF32/bfloat16 unit where the products use it. Every bound that is a
        multiple of eps uses this (see :meth:`RuntimeInfo.eps_for`)."""
        return self.runtime.eps_for(self.dtype)

    def eps_for(self, dtype) -> float:
        """:attr:`eps` for another dtype (a float32 study inside a float64 run, or back)."""
        return self.runtime.eps_for(dtype)

    def timed(self, name: str, jitted, *args: Any, **static: Any) -> Any:
        """Runs a jitted kernel through the run's timer (compile and run timed apart)."""
        return self.timer.timed(name, jitted, *args, **static)

    @property
    def precision(self) -> str:
        return self.runtime.precision

    @property
    def fast(self) -> bool:
        return self.profile == "fast"
