"""The local launcher with real subprocesses: exit codes, streamed log, timeouts, no orphans;
each test once with a cgroup per job (where the machine allows) and once without."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from proc_kit import live_pids_with

from pytest_spilot.launchers import cgroup as cgroups
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.local import LocalLauncher


@pytest.fixture(autouse=True, params=["cgroups", "fallback"])
def tracking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Jobs tracked by cgroup where possible (auto), or by process group + token (off)."""
    monkeypatch.setenv(cgroups.SWITCH, "auto" if request.param == "cgroups" else "0")
    return request.param


def job(tmp_path: Path, script: str, timeout_s: float = 10) -> Job:
    return Job(
        ["sh", "-c", script], cwd=tmp_path, log_path=tmp_path / "job.log", timeout_s=timeout_s
    )


def unique_sleep() -> str:
    return f"300.{uuid.uuid4().int % 10**6:06d}"


def test_exit_code_and_log(tmp_path: Path) -> None:
    result = LocalLauncher().run(job(tmp_path, "echo out; echo err >&2; exit 3"))
    assert result.exit_code == 3 and not result.timed_out
    assert (tmp_path / "job.log").read_text().splitlines() == ["out", "err"]


def test_command_not_found_is_127(tmp_path: Path) -> None:
    spec = Job(["no-such-tool-xyz"], cwd=tmp_path, log_path=tmp_path / "job.log", timeout_s=5)
    result = LocalLauncher().run(spec)
    assert result.exit_code == 127
    assert "no-such-tool-xyz" in (tmp_path / "job.log").read_text()


def test_output_streams_while_the_job_runs(tmp_path: Path) -> None:
    seen: list[str] = []
    log = tmp_path / "job.log"

    def watch() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not seen:
            if log.exists() and "first" in log.read_text():
                seen.append(log.read_text())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    LocalLauncher().run(job(tmp_path, "echo first; sleep 1; echo second"))
    watcher.join()
    assert seen and "second" not in seen[0]


def test_timeout_kills_the_whole_tree_also_escaped_children(tmp_path: Path) -> None:
    in_group, escaped = unique_sleep(), unique_sleep()
    script = f"sleep {in_group} & setsid sleep {escaped} & sleep {unique_sleep()}"
    start = time.monotonic()
    result = LocalLauncher(grace_s=0.5).run(job(tmp_path, script, timeout_s=0.5))
    assert result.exit_code == 124 and result.timed_out
    assert time.monotonic() - start < 5
    assert live_pids_with(in_group) == [] and live_pids_with(escaped) == []
    assert "timed out after 0.5 s" in (tmp_path / "job.log").read_text()


def test_background_child_of_a_finished_job_is_stopped(tmp_path: Path) -> None:
    marker = unique_sleep()
    result = LocalLauncher(grace_s=0.5).run(job(tmp_path, f"sleep {marker} & echo done"))
    assert result.exit_code == 0
    assert live_pids_with(marker) == []


def test_jobs_end_with_their_harness_even_when_it_is_sigkilled(tmp_path: Path) -> None:
    """The harness is SIGKILLed with its whole process group while two jobs run (one with a
    child that left for a session of its own): within 1 s no job process is left."""
    import os
    import signal
    import subprocess
    import sys

    in_group, escaped, second = unique_sleep(), unique_sleep(), unique_sleep()
    harness = (
        "import sys, threading, time\n"
        "from pathlib import Path\n"
        "from pytest_spilot.launchers.base import Job\n"
        "from pytest_spilot.launchers.local import LocalLauncher\n"
        "d = Path(sys.argv[1])\n"
        "def run(name, script):\n"
        "    job = Job(['sh', '-c', script], cwd=d, log_path=d / name, timeout_s=60)\n"
        "    LocalLauncher().run(job)\n"
        f"threading.Thread(target=run, args=('a.log', 'sleep {in_group} & setsid sleep "
        f"{escaped} & wait')).start()\n"
        f"threading.Thread(target=run, args=('b.log', 'sleep {second}')).start()\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", harness, str(tmp_path)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    markers = (in_group, escaped, second)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
        deadline = time.monotonic() + 10
        while not all(live_pids_with(m) for m in markers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(live_pids_with(m) for m in markers)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        while any(live_pids_with(m) for m in markers) and time.monotonic() - killed < 1:
            time.sleep(0.02)
        assert [live_pids_with(m) for m in markers] == [[], [], []]
    finally:
        for pid in [p for m in markers for p in live_pids_with(m)]:
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
