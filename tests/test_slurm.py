"""`pgnas study --executor slurm` against a real one-node Slurm started by the test (Debian's
`slurm-wlm`: slurmctld and slurmd on localhost, as root). A job preempted mid-run is requeued
by submitit under the same job id and its run resumes; the table equals a local run's; a
second invocation submits nothing. Skipped where Slurm's daemons are not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

SPEC = """description: a two-run study for the Slurm test
grid: {posterior.l2: [1, 20]}
tiers:
  quick:
    preset: digits
    overrides: [train.epochs=2, data.train_size=200, "method.baselines=[]", search.candidates=4,
                "supernet.options={widths: [4, 8, 8], stem_channels: 4}"]
    seeds: [0]
  laptop: {preset: digits, seeds: [0]}
"""

CONF = """ClusterName=pgnas-test
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/jobcomp.txt
AccountingStorageType=accounting_storage/none
NodeName={host} CPUs={cpus} RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""

#: This Slurm has no accounting database (slurmdbd + MariaDB), so plain `sacct`, which
#: submitit polls, answers "accounting storage is disabled"; `--completion` reads the same
#: fields from the job-completion log instead.
SACCT = '#!/bin/sh\nexec {sacct} --completion "$@"\n'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    daemons = [shutil.which(d, path="/usr/sbin:/usr/bin") for d in ("slurmctld", "slurmd")]
    if not all(daemons) or not shutil.which("sbatch") or os.geteuid() != 0:
        pytest.skip("needs Debian's slurm-wlm (slurmctld, slurmd, sbatch) and root")
    pytest.importorskip("submitit")
    root = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool", "bin"):
        (root / d).mkdir()
    conf = root / "slurm.conf"
    host = socket.gethostname()
    ports = {"ctld_port": _free_port(), "d_port": _free_port()}
    conf.write_text(CONF.format(host=host, root=root, cpus=os.cpu_count(), **ports))
    (root / "bin" / "sacct").write_text(SACCT.format(sacct=shutil.which("sacct")))
    (root / "bin" / "sacct").chmod(0o755)
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{root / 'bin'}:{os.environ['PATH']}"}
    procs = [
        subprocess.Popen(
            [exe, "-D", "-f", str(conf)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        for exe in daemons
    ]
    try:
        deadline = time.time() + 60
        while "idle" not in _out(["sinfo", "-h", "-o", "%T"], env):
            assert time.time() < deadline, (root / "slurmctld.log").read_text()[-2000:]
            time.sleep(1)
        yield env
    finally:
        for p in procs:  # the two daemons this fixture started
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def _out(args, env) -> str:
    return subprocess.run(args, env=env, capture_output=True, text=True).stdout


def _study(spec: Path, out: Path, env: dict, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "pgnas_core", "study", str(spec), "--tier", "quick"]
    args += ["--out", str(out), "--no-progress", *extra]
    env = {**env, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _without_timings(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["config", "seed", "method", "metric"]
    return table[~table["metric"].str.contains("seconds")].sort_values(keys).reset_index(drop=True)


def _preempt_first_job_once_running(out: Path, env: dict, proc: subprocess.Popen) -> str:
    """Send the first job the signal Slurm sends before a preemption (USR2) once its run has
    started; return the job id."""
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        ids_file = out / "submitit" / "jobs.json"
        ids = json.loads(ids_file.read_text()) if ids_file.is_file() else {}
        for name, job_id in sorted(ids.items()):
            started = (out / "runs" / name / "config.yaml").is_file()
            if (
                started
                and _out(["squeue", "-h", "-j", job_id, "-o", "%T"], env).strip() == "RUNNING"
            ):
                subprocess.run(["scancel", "--signal=USR2", job_id], env=env, check=True)
                return job_id
        time.sleep(0.5)
    raise AssertionError("no job started running")


def test_a_preempted_slurm_job_is_requeued_and_resumes(slurm, tmp_path):
    spec = tmp_path / "two.yaml"
    spec.write_text(SPEC)
    cluster, local = tmp_path / "slurm", tmp_path / "local"
    opts = ["--executor", "slurm", "--slurm-gpus", "0", "--slurm-cpus", "1", "--slurm-time", "30"]
    proc = _study(spec, cluster, slurm, *opts)
    preempted = _preempt_first_job_once_running(cluster, slurm, proc)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    log = "".join(
        (cluster / "submitit" / f"{preempted}_0_log.{x}").read_text() for x in ("out", "err")
    )
    assert "this job is preempted" in log and f"Requeued job {preempted}" in log, log[-3000:]
    assert log.count("Job completed successfully") == 1  # the requeued job finished the run
    ids = json.loads((cluster / "submitit" / "jobs.json").read_text())
    assert len(ids) == 2 and preempted in ids.values()  # requeued under its own id

    ref = _study(spec, local, slurm)
    _, err = ref.communicate(timeout=900)
    assert ref.returncode == 0, err
    pd.testing.assert_frame_equal(
        _without_timings(pd.read_csv(local / "results.csv")),
        _without_timings(pd.read_csv(cluster / "results.csv")),
    )

    before = sorted(p.name for p in (cluster / "submitit").iterdir())
    again = _study(spec, cluster, slurm, *opts)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert sorted(p.name for p in (cluster / "submitit").iterdir()) == before  # no new job
