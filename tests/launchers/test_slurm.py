"""The srun launcher against a live single-node Slurm: exit codes, streamed output, job ids,
timeouts that leave no job in the queue, and two validations at once under -n 2."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from junit_kit import outcomes, properties
from slurm_kit import SlurmCluster

from pytest_spilot.launchers.base import Job
from pytest_spilot.siteconfig import SiteConfig

PLAN = """
version: 1
defaults: {location: srun, timeout_s: 60}
validations:
  - name: passing
    run: 'echo "SPS=1234 on $(hostname -s) in job $SLURM_JOB_ID"; echo to-stderr >&2'
    metrics: {sps: {regex: 'SPS=([0-9]+)'}}
    acceptance: [{metric: sps, op: ">=", value: 1000}]
  - name: failing
    location: slurm
    run: 'echo about to fail; exit 3'
  - name: too_slow
    timeout_s: 2
    run: 'echo started; sleep 41.5; echo never'
"""

PARALLEL = """
version: 1
defaults: {location: srun, timeout_s: 60}
validations:
  - {name: first, run: 'sleep 2; echo done'}
  - {name: second, run: 'sleep 2; echo done'}
"""


def srun_launcher():
    return {launcher.name: launcher for launcher in SiteConfig().grid_launchers()}["srun"]


def test_srun_launcher_keeps_exit_code_output_and_job_id(
    slurm_env: SlurmCluster, tmp_path: Path
) -> None:
    launcher = srun_launcher()
    log = tmp_path / "job.log"
    job = Job(["sh", "-c", 'echo "in $SLURM_JOB_ID"; exit 3'], tmp_path, log, 60, name="t")
    result = launcher.run(job)
    assert result.exit_code == 3 and result.job_id and result.job_id.isdigit()
    assert f"in {result.job_id}\n" in log.read_text()
    assert "Exited with exit code 3" in log.read_text()  # srun's own line, in the same log
    assert slurm_env.settled_queue() == []


def test_validations_through_srun(pytester: pytest.Pytester, slurm_env: SlurmCluster) -> None:
    pytester.makefile(".yaml", **{"validations/grid": PLAN})
    junit = pytester.path / "out.xml"
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "validations", "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )
    assert outcomes(junit) == {
        "passing::run": "passed",
        "passing::sps>=1000": "passed",
        "failing::run": "failed",
        "too_slow::run": "failed",
    }, result.stdout.str()
    passing = properties(junit, "passing::run")
    job_id = passing["job_id"]
    assert job_id.isdigit() and passing["location"] == "srun"
    assert f"in job {job_id}" in Path(passing["log"]).read_text()
    assert "to-stderr" in Path(passing["log"]).read_text()
    failing = properties(junit, "failing::run")
    assert failing["exit_code"] == "3" and failing["job_id"] != job_id
    assert failing["location"] == "slurm"
    assert "about to fail" in Path(failing["log"]).read_text()
    slow = properties(junit, "too_slow::run")
    assert slow["exit_code"] == "124" and slow["job_id"].isdigit()
    # The timed-out job was cancelled in Slurm: nothing queued, nothing running.
    assert slurm_env.squeue_ids() == []
    assert not any("sleep 41.5" in cmd for _, cmd in slurm_env.leftover_processes())
    assert time.monotonic() - started < 40
    state = json.loads((pytester.path / ".spilot" / "dev.json").read_text())
    assert state["validations"]["validations/grid.yaml::passing"]["run"]["job_id"] == job_id


def test_two_slurm_validations_at_once(pytester: pytest.Pytester, slurm_env: SlurmCluster) -> None:
    assert slurm_env.cpus >= 2
    pytester.makefile(".yaml", **{"validations/parallel": PARALLEL})
    result = pytester.runpytest_subprocess("-n", "2", "validations")
    result.assert_outcomes(passed=2)
    runs = json.loads((pytester.path / ".spilot" / "dev.json").read_text())["validations"]
    spans = [
        (datetime.fromisoformat(r["run"]["started"]), datetime.fromisoformat(r["run"]["finished"]))
        for r in runs.values()
    ]
    assert len(spans) == 2
    (a_start, a_end), (b_start, b_end) = spans
    overlap = (min(a_end, b_end) - max(a_start, b_start)).total_seconds()
    assert overlap > 1.0, f"the two Slurm jobs did not run at the same time: {spans}"
    assert len({r["run"]["job_id"] for r in runs.values()}) == 2
