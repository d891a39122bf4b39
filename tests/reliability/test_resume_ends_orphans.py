"""Harness and reaper both SIGKILLed: the job lives on; the resumed run ends it (from the
journal's ``job_started`` line) before it runs the validation again, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_spilot.core.journal import process_alive
from pytest_spilot.core.state import read_state

PLAN = """\
validations:
  - name: slow
    run: |
      echo $$ > "$SPILOT_RUN_DIR/pid"
      sleep "${SLOW_S:-60}"
      echo ran >> "$SPILOT_PLAN_DIR/ran.txt"
"""


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def reaper_of(pid: int) -> int:
    for child in children(pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"pytest_spilot.launchers.reaper" in cmdline:
            return child
    raise AssertionError(f"pytest process {pid} has no reaper")


def job_journalled(project: Path) -> bool:
    journals = (project / ".spilot/o1.journal").glob("*.jsonl")
    return any(b'"job_started"' in path.read_bytes() for path in journals)


def test_a_resume_ends_the_job_a_dead_run_left_behind(pytester: pytest.Pytester) -> None:
    plan = pytester.makefile(".yaml", **{"validations/orphan": PLAN})
    argv = [sys.executable, "-m", "pytest", "-p", "no:randomly", "--spilot-version=o1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen(argv, cwd=pytester.path, env=env, stdout=subprocess.DEVNULL)
    run_dir = pytester.path / ".spilot/runs/o1/validations/orphan/slow"
    pid_file = run_dir / "pid"
    job = 0
    try:
        deadline = time.monotonic() + 30
        # The job can write its pid before the harness journals it (a loaded machine widens
        # that window): the premise here is a journalled job, so wait for both.
        while not (
            pid_file.is_file() and pid_file.read_text().strip() and job_journalled(pytester.path)
        ):
            assert first.poll() is None and time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        job = int(pid_file.read_text())
        os.kill(reaper_of(first.pid), signal.SIGKILL)
        first.kill()
        first.wait()
        time.sleep(0.5)
        assert process_alive(job), "the job died with its harness: nothing left to test"

        resumed = subprocess.run(
            [*argv, "--spilot-resume", "-rA"],
            cwd=pytester.path,
            env={**env, "SLOW_S": "0"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert not process_alive(job), "the resumed run left the dead run's job running"
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "ended local job (process group" in resumed.stdout, resumed.stdout
        assert "left running by process" in resumed.stdout
        state = read_state(pytester.path / ".spilot/o1.json")
        assert state is not None
        record = state.validations["validations/orphan.yaml::slow"]
        assert record.passed and record.jobs == []
        assert (plan.parent / "ran.txt").read_text() == "ran\n"  # the orphan never finished
    finally:
        if job and process_alive(job):
            os.killpg(job, signal.SIGKILL)
