"""One experiment over several processes (hosts): ``jax.distributed`` and exact cross-process sums.

Where the processes come from, first match wins (:func:`spec_from_env`):

- ``MATHML_COORDINATOR`` (``host:port`` of process 0), ``MATHML_NUM_PROCESSES`` and
  ``MATHML_PROCESS_ID`` (0 .. n - 1), all three or none: any launcher, or by hand;
- Slurm: a job step of several tasks, started by ``srun`` (``SLURM_STEP_NUM_TASKS`` > 1, and
  the variables JAX's Slurm detection reads: ``SLURM_JOB_ID``, ``SLURM_STEP_NODELIST``,
  ``SLURM_NTASKS``, ``SLURM_PROCID``, ``SLURM_LOCALID``). JAX then finds the coordinator (the
  first node of the step, a port derived from the job id), the process count and each
  process's id, and gives process k of a node GPU ``SLURM_LOCALID`` only: start one task per
  GPU (``srun --ntasks-per-node=G --gpus-per-node=G``). A batch script's own shell (not a step
  of several tasks) and a sweep job of ``hydra/launcher=slurm`` (one task) run alone;
- otherwise one process: nothing to initialise.

:func:`initialize` calls ``jax.distributed.initialize`` with them; it must run before anything
starts a JAX backend (``jax.devices()``, the first computation). Afterwards every process sees
all processes' devices in ``jax.devices()`` and its own in ``jax.local_devices()``.

What is distributed: the streamed Monte Carlo counter
(:func:`mathml_jax.probability.streaming.stream` with ``share``): process i of n counts the
contiguous chunks :func:`chunk_range` gives it, on its own devices, and :func:`sum_exact`
adds the integer counts of all processes exactly: each Python int is sent as four uint32 limbs
(128 bits) through ``jax.experimental.multihost_utils.process_allgather`` (on CPU, JAX's
cross-process collectives are Gloo over TCP, the default of ``jax_cpu_collectives_implementation``
in JAX 0.10 and 0.12; NCCL on GPUs) and summed as Python ints on the host: no float ever holds a
count. Every process ends with the same totals. Everything else of a run (the other kernels,
claims, figures) runs in every process alike; only process 0 should write the run folder
(:func:`is_writer`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ENV_COORDINATOR = "MATHML_COORDINATOR"
ENV_NUM_PROCESSES = "MATHML_NUM_PROCESSES"
ENV_PROCESS_ID = "MATHML_PROCESS_ID"
_ENV = (ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID)
#: the variables JAX's Slurm detection reads (jax/_src/clusters/slurm_cluster.py)
_SLURM = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID",
          "SLURM_LOCALID")
_LIMB_BITS, _LIMBS = 32, 4  # a count travels as 4 uint32 limbs: any int in [0, 2^128)


class ClusterError(ValueError):
    """The ``MATHML_*`` variables do not describe a run over several processes; the message
    names the variable, its value and what is allowed."""


@dataclass(frozen=True)
class ClusterSpec:
    """How to start ``jax.distributed``; ``None`` fields are left to JAX's cluster detection."""

    source: str  # "MATHML_*" or "slurm"
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None


def _int_var(environ: Mapping[str, str], name: str) -> int:
    text = environ[name].strip()
    try:
        return int(text)
    except ValueError:
        raise ClusterError(f"{name}={text!r} is not an integer") from None


def spec_from_env(environ: Mapping[str, str] | None = None) -> ClusterSpec | None:
    """The processes this one belongs to, from ``MATHML_*`` or Slurm variables; ``None`` when
    it runs alone (see the module docstring for the order).

    Raises:
      ClusterError: some but not all ``MATHML_*`` variables set, or values out of range (one
        sentence naming the variable and what is allowed).
    """
    env = os.environ if environ is None else environ
    given = [k for k in _ENV if env.get(k, "").strip()]
    if given:
        missing = [k for k in _ENV if k not in given]
        if missing:
            raise ClusterError(f"{', '.join(given)} set but not {', '.join(missing)}: a run over "
                             f"several processes needs all of {', '.join(_ENV)}")
        n, i = _int_var(env, ENV_NUM_PROCESSES), _int_var(env, ENV_PROCESS_ID)
        host, _, port = env[ENV_COORDINATOR].strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ClusterError(f"{ENV_COORDINATOR}={env[ENV_COORDINATOR]!r} is not host:port "
                             "(process 0's address and a free port, e.g. node001:12355)")
        if n < 1:
            raise ClusterError(f"{ENV_NUM_PROCESSES}={n}: the number of processes is at least 1")
        if not 0 <= i < n:
            raise ClusterError(f"{ENV_PROCESS_ID}={i}: a process id is in 0..{n - 1} "
                             f"({ENV_NUM_PROCESSES}={n})")
        if n == 1:
            return None
        return ClusterSpec("MATHML_*", f"{host}:{port}", n, i)
    if all(env.get(k) for k in (*_SLURM, "SLURM_STEP_NUM_TASKS")) \
            and _int_var(env, "SLURM_STEP_NUM_TASKS") > 1:
        return ClusterSpec("slurm")
    return None


def initialize(spec: ClusterSpec | None = None, *, timeout_s: int = 300) -> bool:
    """Starts ``jax.distributed`` for ``spec`` (default: :func:`spec_from_env`) unless it is
    already running. Call before anything starts a JAX backend.

    Returns:
      True when this process is one of several (now or already initialised), else False.
    """
    import jax

    if jax.distributed.is_initialized():
        return True
    spec = spec_from_env() if spec is None else spec
    if spec is None:
        return False
    jax.distributed.initialize(coordinator_address=spec.coordinator,
                               num_processes=spec.num_processes, process_id=spec.process_id,
                               initialization_timeout=timeout_s)
    return True


def share() -> tuple[int, int]:
    """(this process's index, number of processes); (0, 1) when running alone."""
    import jax

    return jax.process_index(), jax.process_count()


def is_writer() -> bool:
    """Whether this process writes the run's outputs: process 0 (or the only process)."""
    return share()[0] == 0


def chunk_range(total: int, index: int, count: int) -> tuple[int, int]:
    """Chunks ``[first, end)`` of ``total`` that process ``index`` of ``count`` counts:
    contiguous, sizes differing by at most one, together exactly ``0 .. total - 1``."""
    if not 0 <= index < count:
        raise ValueError(f"process index {index} not in 0..{count - 1}")
    return total * index // count, total * (index + 1) // count


def _limbs(values: Sequence[int]):
    import numpy as np

    out = np.zeros((len(values), _LIMBS), np.uint32)
    for row, v in enumerate(values):
        v = int(v)
        if not 0 <= v < 1 << (_LIMB_BITS * _LIMBS):
            raise ValueError(f"sum_exact adds integers in [0, 2^128), got {v}")
        for j in range(_LIMBS):
            out[row, j] = (v >> (_LIMB_BITS * j)) & 0xFFFFFFFF
    return out


def _from_limbs(limbs) -> list[int]:
    return [sum(int(x) << (_LIMB_BITS * j) for j, x in enumerate(row)) for row in limbs]


def gather_exact(values: Sequence[int]) -> list[list[int]]:
    """Every process's ``values`` (non-negative ints, the same length everywhere), exactly:
    ``out[p]`` is process p's list. Alone: ``[values]``. A collective: every process calls it,
    in the same order."""
    _, count = share()
    if count == 1:
        return [[int(v) for v in values]]
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather(_limbs(values))  # (processes, n, limbs)
    return [_from_limbs(rows) for rows in gathered]


def sum_exact(values: Sequence[int]) -> list[int]:
    """Element-wise sums over all processes of ``values`` (non-negative ints), as Python ints:
    exact whatever their size (each below 2^128). A collective, like :func:`gather_exact`."""
    parts = gather_exact(values)
    return [sum(column) for column in zip(*parts, strict=True)]
