"""Platform and precision for one job, applied explicitly at the start of every job.

JAX's precision is a process-wide flag (``jax_enable_x64``); a sweep runs many jobs in one
process, so every job sets it itself instead of inheriting the previous job's value.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

PLATFORMS = ("auto", "cpu", "gpu")
PRECISIONS = ("float32", "float64")

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

    def as_dict(self) -> dict[str, str | int]:
        return dict(self.__dict__)


def quiet_startup(platform: str) -> None:
    """Before JAX starts its backends: restrict it to the requested platform.

    Only effective before the first JAX computation in the process; afterwards the platform
    is chosen per job through the default device instead.
    """
    if platform == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")


def configure(platform: str = "auto", precision: str = "float32") -> RuntimeInfo:
    """Applies ``precision`` and ``platform`` for the current job and says what is in use.

    Args:
      platform: "auto" (JAX's default backend), "cpu" or "gpu".
      precision: "float32" or "float64"; sets ``jax_enable_x64`` accordingly.

    Raises:
      PlatformUnavailable: ``platform="gpu"`` and JAX sees no GPU.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {PLATFORMS}, got {platform!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    quiet_startup(platform)
    import jax

    jax.config.update("jax_enable_x64", precision == "float64")
    if platform == "auto":
        devices = jax.devices()
        jax.config.update("jax_default_device", None)
    else:
        try:
            devices = jax.devices(platform)
        except RuntimeError as e:
            raise PlatformUnavailable(
                f"platform={platform} was requested but JAX finds no {platform.upper()} device "
                f"(JAX sees: {', '.join(sorted({d.platform for d in jax.devices()}))}). Install "
                "a CUDA-enabled JAX (pip install -U \"jax[cuda12]\") or use platform=cpu."
            ) from e
        jax.config.update("jax_default_device", devices[0])
    return RuntimeInfo(
        platform=devices[0].platform,
        device=str(devices[0].device_kind),
        device_count=len(devices),
        precision=precision,
        jax_version=jax.__version__,
    )


def float_dtype():
    """The floating dtype of the current precision setting."""
    import jax
    import jax.numpy as jnp

    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


@dataclass(frozen=True)
class RunContext:
    """What every experiment's ``run`` gets besides its own config: plain values only."""

    seed: int
    profile: str
    runtime: RuntimeInfo

    @property
    def key(self):
        """The root PRNG key of the run; experiments split it, never reuse it."""
        import jax

        return jax.random.key(self.seed)

    @property
    def dtype(self):
        return float_dtype()

    @property
    def precision(self) -> str:
        return self.runtime.precision

    @property
    def fast(self) -> bool:
        return self.profile == "fast"
