"""Run a study's runs as cluster jobs through submitit: on Slurm, or on submitit's local
executor (the same path on one machine, to try it out and to test it).

Each run is one job that starts the same command as a local run (``runner.job_command``):
the search, resumed from its last checkpoint when the folder already holds one, its analyses,
then ``metrics.json``. So:

- a job that reaches its time limit or is preempted is requeued by submitit (the callable has
  a ``checkpoint`` method) and resumes where its checkpoint stopped;
- a job that fails otherwise (killed, node lost) is resubmitted up to ``retries`` times;
- a run whose ``metrics.json`` exists is never submitted again.

The job ids are kept in ``OUT/submitit/jobs.json``: a rerun after the submitting process died
waits for the runs that Slurm still has queued or running instead of submitting them twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from ...errors import ConfigError, PgnasError, unknown_name
from .spec import Job, StudySpec

EXECUTORS = ("local", "slurm", "submitit-local")
_CLUSTER = {"slurm": "slurm", "submitit-local": "local"}
#: Slurm states of a job that is still going to finish by itself.
_ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING"}
JOBS_FILE = "jobs.json"


class StudyRun:
    """The picklable callable a job runs: one study run as a subprocess (its output appended
    to the run's log). ``checkpoint`` makes submitit requeue it on timeout or preemption;
    the rerun resumes from the run's own checkpoint."""

    def __init__(self, args: list[str], log: str, threads: int):
        self.args, self.log, self.threads = args, log, threads

    def __call__(self) -> int:
        threads = str(self.threads)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        with open(self.log, "a") as f:
            code = subprocess.run(self.args, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise RuntimeError(f"study run exited with {code}; see {self.log}")
        return code

    def checkpoint(self):
        import submitit

        return submitit.helpers.DelayedSubmission(self)


@dataclass
class SubmititExecutor:
    """Where and how the runs are submitted: ``cluster`` is ``slurm`` or ``local``;
    ``parameters`` go to ``submitit.AutoExecutor.update_parameters`` (``timeout_min``,
    ``gpus_per_node``, ``cpus_per_task``, ``mem_gb``, ``slurm_partition``, ``slurm_account``...)."""

    cluster: str
    parameters: dict = field(default_factory=dict)
    retries: int = 2
    max_requeues: int = 20  # timeouts/preemptions a job may be requeued after (submitit: 3)
    max_parallel: int | None = None
    poll_s: float = 2.0

    def run_all(
        self, spec: StudySpec, tier: str, out: Path, todo: list[Job], progress: bool
    ) -> None:
        """Submit every unfinished run (at most ``max_parallel`` at a time), resubmit a failed
        one up to ``retries`` times; raise PgnasError naming the runs that never finished."""
        from .runner import METRICS_FILE, run_path

        finished = lambda j: (run_path(out, j) / METRICS_FILE).is_file()
        executor = self._executor(out, spec.name)
        ids = _load_ids(out)
        running = {j.name: (j, job) for j in todo if (job := self._reattach(out, ids.get(j.name)))}
        queue = [j for j in todo if j.name not in running]
        tries = {j.name: 0 for j in todo}
        failed = []
        desc = f"study {spec.name} ({tier}, {self.cluster})"
        bar = tqdm(total=len(todo), desc=desc, disable=not progress)
        while queue or running:
            while queue and len(running) < (self.max_parallel or len(todo)):
                j = queue.pop(0)
                tries[j.name] += 1
                job = self._submit(executor, spec, tier, out, j)
                running[j.name], ids[j.name] = (j, job), job.job_id
                _save_ids(out, ids)
            done = [name for name, (_, job) in running.items() if job.done()]
            if not done:
                time.sleep(self.poll_s)
            for name in done:
                j, job = running.pop(name)
                _settle(job)
                if finished(j):
                    bar.update(1)
                elif tries[name] <= self.retries:
                    queue.append(j)  # resumes from the run's checkpoint
                else:
                    failed.append(f"{name} (see {run_path(out, j).parent / (name + '.log')})")
        bar.close()
        if failed:
            raise PgnasError(
                f"study {spec.name}: {len(failed)} runs failed after {self.retries + 1} "
                f"attempts: {'; '.join(failed)}; submitit's logs are in {out / 'submitit'}"
            )

    def _executor(self, out: Path, name: str):
        try:
            import submitit
        except ImportError as e:
            raise PgnasError("--executor slurm needs submitit: pip install 'pgnas[cluster]'") from e
        requeues = {f"{c}_max_num_timeout": self.max_requeues for c in ("slurm", "local")}
        executor = submitit.AutoExecutor(out / "submitit", cluster=self.cluster, **requeues)
        try:
            executor.update_parameters(name=f"pgnas-{name}", **self.parameters)
        except (NameError, AssertionError) as e:  # submitit's own checks, one line each
            raise ConfigError("--executor-options", self.parameters, str(e).splitlines()[0]) from e
        return executor

    def _submit(self, executor, spec: StudySpec, tier: str, out: Path, j: Job):
        from .runner import job_command, run_path

        run_path(out, j).parent.mkdir(parents=True, exist_ok=True)
        log = run_path(out, j).parent / f"{j.name}.log"
        threads = int(self.parameters.get("cpus_per_task") or 1)
        return executor.submit(StudyRun(job_command(spec, tier, out, j), str(log), threads))

    def _reattach(self, out: Path, job_id: str | None):
        """The Slurm job of a previous submission still queued or running, or None."""
        if self.cluster != "slurm" or not job_id:
            return None
        import submitit

        job = submitit.SlurmJob(folder=out / "submitit", job_id=job_id)
        return job if job.state in _ACTIVE else None


def _settle(job) -> None:
    """Collect a finished job; a run's success is judged by its metrics.json, not the job."""
    try:
        job.result()
    except Exception:  # noqa: BLE001 - a failed job is resubmitted or reported by run_all
        pass


def _load_ids(out: Path) -> dict:
    path = out / "submitit" / JOBS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_ids(out: Path, ids: dict) -> None:
    path = out / "submitit" / JOBS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ids, indent=1))


def add_arguments(p) -> None:
    """The executor options of ``pgnas study``."""
    p.add_argument(
        "--executor",
        default="local",
        help="local (processes here) | slurm (a Slurm job per run, through submitit) | "
        "submitit-local (the Slurm path run on this machine)",
    )
    p.add_argument("--slurm-partition", help="the Slurm partition")
    p.add_argument("--slurm-time", type=int, help="minutes per job (default 1440)")
    p.add_argument("--slurm-gpus", type=int, help="GPUs per job (default 1 on slurm)")
    p.add_argument("--slurm-cpus", type=int, help="CPUs (and torch threads) per job (default 4)")
    p.add_argument(
        "--executor-options",
        help="a YAML file of submitit parameters (slurm_account, mem_gb, slurm_qos, retries...)",
    )


def from_args(args) -> SubmititExecutor | None:
    """The executor ``pgnas study``'s options ask for; None for local processes."""
    if args.executor not in EXECUTORS:
        raise ConfigError("--executor", args.executor, f"one of {', '.join(EXECUTORS)}")
    if args.executor == "local":
        return None
    slurm = args.executor == "slurm"
    # The defaults, then the options file, then the flags given on the command line.
    params = {"timeout_min": 1440, "gpus_per_node": int(slurm), "cpus_per_task": 4 if slurm else 1}
    own = {"retries": 2, "max_requeues": 20}  # ours; the rest of the file is submitit's
    if args.executor_options:
        extra = _read_options(args.executor_options)
        own.update({k: int(extra.pop(k)) for k in list(own) if k in extra})
        params.update(extra)
    flags = {
        "timeout_min": args.slurm_time,
        "gpus_per_node": args.slurm_gpus,
        "cpus_per_task": args.slurm_cpus,
        "slurm_partition": args.slurm_partition,
    }
    params.update({k: v for k, v in flags.items() if v is not None})
    # Slurm queues every run at once unless --jobs says otherwise; here, one run per core.
    parallel = args.jobs or (None if slurm else max(1, os.cpu_count() or 1))
    _check_parameters(params)
    return SubmititExecutor(
        _CLUSTER[args.executor], params, own["retries"], own["max_requeues"], parallel
    )


def _check_parameters(params: dict) -> None:
    """Refuse an unknown submitit parameter before anything is written (did you mean...)."""
    try:
        import submitit
    except ImportError as e:
        raise PgnasError("--executor slurm needs submitit: pip install 'pgnas[cluster]'") from e
    known = set(submitit.AutoExecutor._typed_parameters())
    for prefix, ex in (("slurm", submitit.SlurmExecutor), ("local", submitit.LocalExecutor)):
        known |= {f"{prefix}_{k}" for k in ex._valid_parameters()}
    for name in params:
        if name not in known:
            raise unknown_name("--executor-options", name, known)


def _read_options(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError("--executor-options", path, "a YAML file of submitit parameters")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError("--executor-options", path, "a YAML mapping (parameter: value)")
    return data
