"""Hydra's joblib launcher, made robust to a worker process that dies.

Hydra's own ``JoblibLauncher`` runs a sweep's jobs in one ``joblib.Parallel`` call: when a
worker process dies (``kill -9``, the out-of-memory killer), joblib raises
``TerminatedWorkerError`` for the whole call, so the sweep ends in a traceback, with no
summary, the other running jobs lost and the rest never started.

:class:`RobustJoblibLauncher` runs the jobs on joblib's process pool (loky, the backend
Hydra's launcher forces) job by job: when a worker dies, the jobs that finished are kept,
the jobs that had not started go on in a fresh pool, and each job that was running then
(the one that died, and any others the broken pool took down) is rerun once, alone. A job
whose worker dies again, alone, is recorded as failed with the reason (its folder gets a
metrics.json with status "error"; the summary shows it), and the sweep goes on. Every
loss is written to ``<sweep dir>/launcher.json``.

It takes the joblib launcher's config (``hydra/launcher=joblib``); of joblib's options it uses
``n_jobs`` (the pool's size; -1: every CPU core).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra_plugins.hydra_joblib_launcher._core import execute_job
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from omegaconf import OmegaConf

log = logging.getLogger(__name__)

#: the sweep folder's record of the worker processes that died, and what became of their jobs
EVENTS = "launcher.json"
_STARTED = ".launcher"


def _run(num: int, overrides: Sequence[str], started: str, *args: Any) -> JobReturn:
    """One job, in a worker process: first says it started (with the worker's pid)."""
    Path(started).mkdir(parents=True, exist_ok=True)
    (Path(started) / str(num)).write_text(str(os.getpid()))
    return execute_job(num, overrides, *args)


def _why(e: BaseException) -> str:
    codes = re.search(r"exit codes of the workers are (\{[^}]*\})", str(e))
    return f"{type(e).__name__}" + (f", exit codes {codes.group(1)}" if codes else "")


class RobustJoblibLauncher(JoblibLauncher):
    """``JoblibLauncher`` whose sweep survives a worker process that dies (module docstring)."""

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        from joblib import effective_n_jobs

        setup_globals()
        assert self.config is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        self.sweep_dir = Path(str(self.config.hydra.sweep.dir))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        self.jobs = {initial_job_idx + i: list(o) for i, o in enumerate(job_overrides)}
        n_jobs = effective_n_jobs(self.joblib.get("n_jobs") or -1)
        log.info("RobustJoblibLauncher(n_jobs=%d) is launching %d jobs, sweep output dir: %s",
                 n_jobs, len(self.jobs), self.sweep_dir)
        for num, o in self.jobs.items():
            log.info("\t#%d : %s", num, " ".join(filter_overrides(o)))
        self.args = (self.hydra_context, self.config, self.task_function,
                     Singleton.get_state())
        results, lost, fresh = {}, [], list(self.jobs)
        while fresh:
            done, died = self._round(fresh, n_jobs)
            results.update(done)
            rest = [n for n in fresh if n not in done]
            if died is None or not rest:
                break
            now_lost = [n for n in rest if (self.sweep_dir / _STARTED / str(n)).exists()]
            for n in now_lost:
                self._event(n, f"its worker process died while it ran ({_why(died)}): rerun "
                               "alone")
            if not now_lost and not done:  # no job even starts: give up on them
                results.update({n: self._failed(n, died, "before it started") for n in rest})
                break
            lost += now_lost
            fresh = [n for n in rest if n not in now_lost]
        for n in lost:
            done, died = self._round([n], 1)
            if n in done:
                results[n] = done[n]
                self._event(n, "rerun alone: done")
            else:
                results[n] = self._failed(n, died, "again, running alone")
        return [results[n] for n in sorted(self.jobs)]

    def _round(self, nums: list[int], workers: int) -> tuple[dict, BaseException | None]:
        """Runs jobs ``nums`` on a pool of ``workers`` processes: (their JobReturns by number,
        for those that finished; the error of a worker that died, or None)."""
        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import BrokenProcessPool

        started = str(self.sweep_dir / _STARTED)
        for n in nums:
            (Path(started) / str(n)).unlink(missing_ok=True)
        pool = get_reusable_executor(max_workers=max(1, min(workers, len(nums))))
        futures = {pool.submit(_run, n, self.jobs[n], started, *self.args): n for n in nums}
        done, died = {}, None
        try:
            for f in as_completed(futures):
                try:
                    done[futures[f]] = f.result()
                except BrokenProcessPool as e:
                    died = e
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the workers stop with the sweep
            pool.shutdown(wait=False, kill_workers=True)
            raise
        return done, died

    def _event(self, num: int, what: str) -> None:
        from mathml_jax.writer import write_json

        path = self.sweep_dir / EVENTS
        try:
            events = json.loads(path.read_text())
        except (OSError, ValueError):
            events = []
        events.append({"job": num, "overrides": self.jobs[num], "what": what,
                       "at": time.strftime("%Y-%m-%dT%H:%M:%S")})
        write_json(path, events)
        log.warning("job #%d: %s", num, what)

    def _failed(self, num: int, e: BaseException | None, when: str) -> JobReturn:
        """A job whose worker process died: recorded in its folder (metrics.json, status
        "error", with the reason; the INCOMPLETE marker stays) and returned as done with
        status 1, so the sweep goes on to its summary."""
        from mathml_jax.writer import write_json

        reason = (f"its worker process died {when} ({_why(e) if e else 'unknown'}; killed, "
                  "e.g. by kill -9 or for lack of memory)")
        subdir = OmegaConf.to_container(self.config.hydra.sweep, resolve=False).get("subdir")
        if subdir == "${hydra.job.num}":
            folder = self.sweep_dir / str(num)
            folder.mkdir(parents=True, exist_ok=True)
            write_json(folder / "metrics.json", {
                "experiment": next((o.split("=", 1)[1] for o in self.jobs[num]
                                    if o.startswith("experiment=")), ""),
                "status": "error", "error": reason, "claims_passed": 0, "claims_total": 0,
                "metrics": {}, "overrides": self.jobs[num]})
        log.error("job #%d failed: %s", num, reason)
        return JobReturn(overrides=self.jobs[num], status=JobStatus.COMPLETED,
                         _return_value=1)
