"""Hydra's submitit launchers (``hydra-submitit-launcher``, the ``slurm`` extra), made to finish
a sweep whatever one job does.

The stock launchers wait for the jobs with ``[job.results()[0] for job in jobs]``: a job whose
process died (killed, out of memory, past its time limit, a node lost) raises there, so the
sweep stops with a traceback, the later jobs are not waited for and no summary is written; and
a job whose exception Hydra caught comes back as a failed ``JobReturn``, which Hydra's sweeper
re-raises, with the same result (while submitit itself reports that job as completed). Here
every job is waited for, a failure is logged with its reason and handed back as a completed
job returning 1, and the sweep's summary then shows the job as failed: the summary trusts only
the job's folder (``metrics.json`` with its status, or no ``metrics.json``: failed), never
submitit's state. The configs ``configs/hydra/launcher/local.yaml`` and ``slurm.yaml`` name these
classes.

This module is imported by Hydra's plugin scan in every process: without the extra installed
it defines nothing (and says nothing); ``submitit`` is imported only when a sweep launches.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus

log = logging.getLogger(__name__)

#: what a job that failed without a word of its own returns to the sweep (the CLI's EXIT_FAILED)
FAILED = 1


def settle(job: Any, overrides: Sequence[str], number: int) -> JobReturn:
    """The result of finished submitit ``job`` (sweep job ``number``), never an exception: a
    completed ``JobReturn`` as it came, anything else logged with its reason and turned into a
    completed ``JobReturn`` whose value is :data:`FAILED`."""
    try:
        ret = job.results()[0]
    except Exception as e:  # noqa: BLE001 - the process died or left no readable result
        said = " ".join(str(e).split("\n")[:2]).strip()
        log_file = getattr(getattr(job, "paths", None), "stderr", None)
        reason = f"{type(e).__name__}: {said}" + (f" (its log: {log_file})" if log_file else "")
        ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=reason)
    if ret.status == JobStatus.COMPLETED:
        return ret
    value = ret._return_value
    reason = value if isinstance(value, str) else f"{type(value).__name__}: {value}"
    log.error("job #%d (%s) failed: %s; the summary lists it as failed", number,
              " ".join(overrides), reason)
    return JobReturn(overrides=list(overrides), cfg=ret.cfg, hydra_cfg=ret.hydra_cfg,
                     working_dir=ret.working_dir, task_name=ret.task_name,
                     status=JobStatus.COMPLETED, _return_value=FAILED)


try:
    from hydra.core.singleton import Singleton
    from hydra.core.utils import filter_overrides
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher as _stock
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
except ImportError:  # the slurm extra is not installed: no launcher to offer
    _stock = None

if _stock is not None:
    from omegaconf import OmegaConf

    class _Settling:
        """The stock launcher's ``launch``, with every job settled (:func:`settle`)."""

        _EXECUTOR: str
        params: dict
        config: Any

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            import submitit

            executor = submitit.AutoExecutor(
                cluster=self._EXECUTOR, folder=self.params["submitit_folder"],
                **{f"{self._EXECUTOR}_max_num_timeout": self.params[k]
                   for k in ("max_num_timeout",) if k in self.params})
            generic = set(OmegaConf.structured(BaseQueueConf).keys())
            executor.update_parameters(**{
                k if k in generic else f"{self._EXECUTOR}_{k}": v
                for k, v in self.params.items() if k not in ("submitit_folder",
                                                             "max_num_timeout")})
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir}")
            sweep_dir.mkdir(parents=True, exist_ok=True)
            if "mode" in self.config.hydra.sweep:
                os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
            numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
            for number, overrides in zip(numbers, job_overrides, strict=True):
                log.info(f"\t#{number} : {' '.join(filter_overrides(overrides))}")
            state = Singleton.get_state()
            jobs = executor.map_array(
                self, [list(o) for o in job_overrides], ["hydra.sweep.dir"] * len(numbers),
                list(numbers), [f"job_id_for_{n}" for n in numbers], [state] * len(numbers))
            return [settle(job, overrides, number)
                    for job, overrides, number in zip(jobs, job_overrides, numbers, strict=True)]

    class LocalLauncher(_Settling, _stock.LocalLauncher):
        """submitit's local executor: every job its own process on this machine."""

    class SlurmLauncher(_Settling, _stock.SlurmLauncher):
        """One Slurm job per sweep job (a job array), submitted with sbatch."""
