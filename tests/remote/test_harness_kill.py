"""A SIGKILLed harness leaves no job behind (issue 13): over SSH the job's remote process group
ends, through Slurm the job is cancelled, each within 1 s. The remote job script watches its
channel, so it also gets no stdin, keeps its exit code and leaves no background child."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from slurm_kit import SlurmCluster
from sshd_kit import SshServer, node_entry, write_inventory

from pytest_spilot.core.state import JobHandle
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.ssh import SshLauncher
from pytest_spilot.launchers.template import TemplateLauncher
from pytest_spilot.siteconfig import SiteConfig

BOUND_S = 1.0


def stat_fields(pid: int) -> list[bytes]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, ... ([] once gone)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return []


def live_pids() -> Iterator[int]:
    for entry in Path("/proc").glob("[0-9]*"):
        fields = stat_fields(int(entry.name))
        if fields and fields[0] != b"Z":
            yield int(entry.name)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    return [pid for pid in live_pids() if stat_fields(pid)[2:3] == [str(pgid).encode()]]


def with_arg(arg: str) -> list[int]:
    """Live processes with the word ``arg`` on their command line."""
    found = []
    for pid in live_pids():
        with contextlib.suppress(OSError):
            if arg.encode() in (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0"):
                found.append(pid)
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_for(check: Callable[[], object], timeout_s: float, step_s: float = 0.02) -> float:
    """Seconds until ``check()`` is falsy (``timeout_s`` or more if it stays truthy)."""
    start = time.monotonic()
    while check() and time.monotonic() - start < timeout_s:
        time.sleep(step_s)
    return time.monotonic() - start


def unique_seconds() -> str:
    """A sleep length no other test uses: the job's process is found by its command line."""
    return f"{random.randint(300, 999)}.{random.randint(100000, 999999)}"


@contextlib.contextmanager
def harness(cwd: Path, ready: Path) -> Iterator[subprocess.Popen[bytes]]:
    """pytest on ``validations`` in a session of its own, yielded once ``ready`` exists;
    SIGKILLed at the end if still alive."""
    log = cwd / "harness.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "validations"],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: not ready.exists() and proc.poll() is None, 60)
        assert ready.exists(), f"the job never started; the harness said:\n{log.read_text()}"
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- SSH ---------------------------------------------------------------------------------------


def test_remote_process_group_ends_with_a_sigkilled_harness(
    pytester: pytest.Pytester, sshd: SshServer
) -> None:
    """The job's remote process group (shells, a background child, the foreground sleep) is
    gone within 1 s of the SIGKILL: the connection drops and the job script notices."""
    seconds, background = unique_seconds(), unique_seconds()
    ready = pytester.path / "ready"
    write_inventory(pytester.path / "validations" / "nodes.yaml", {"n1": node_entry(sshd)})
    pytester.makefile(
        ".yaml",
        **{
            "validations/r": f"""
version: 1
validations:
  - name: long
    location: n1
    timeout_s: 120
    run: 'sleep {background} & touch {ready}; sleep {seconds}'
"""
        },
    )
    pgid = 0
    try:
        with harness(pytester.path, ready) as proc:
            assert wait_for(lambda: not with_arg(seconds), 5) < 5
            pgid = int(stat_fields(with_arg(seconds)[0])[2])
            assert pgid not in (proc.pid, os.getpgid(0))  # the remote group, not the harness's
            assert with_arg(background)[0] in group_members(pgid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            took = wait_for(lambda: group_members(pgid), 5)
        left = group_members(pgid)
        assert left == [], f"remote job processes {left} outlived the SIGKILLed harness"
        assert took < BOUND_S, f"the remote process group took {took:.3f} s to end"
    finally:
        kill_all(
            [*with_arg(seconds), *with_arg(background), *(group_members(pgid) if pgid else [])]
        )


def test_job_script_gets_no_stdin_keeps_its_exit_code_and_leaves_nothing(make_node) -> None:
    """The channel's stdin stays open for the watcher, yet the command reads nothing from it;
    a syntax error fails at once instead of waiting for more script; background children
    of a finished command end with it, as with the local launcher."""
    node = make_node()
    result = node.run('cat; read -r line; echo "read=$line"; exit 3', timeout=10)
    assert (result.exit_code, result.stdout, result.timed_out) == (3, "read=\n", False)
    broken = node.run("echo 'unclosed", timeout=10)
    assert broken.exit_code == 2 and not broken.timed_out and "nclosed" not in broken.stdout
    seconds = unique_seconds()
    assert node.run(f"sleep {seconds} >/dev/null 2>&1 & echo $!").ok
    try:
        assert wait_for(lambda: with_arg(seconds), 5) < BOUND_S
    finally:
        kill_all(with_arg(seconds))


def test_a_closed_channel_ends_the_remote_job(make_node) -> None:
    """Closing the job's channel (a harness giving up on it) ends its process group too."""
    seconds = unique_seconds()
    process = make_node().start(["sleep", seconds])
    try:
        assert wait_for(lambda: not with_arg(seconds), 5) < 5
        assert process.pid and with_arg(seconds)[0] in group_members(process.pid)
        process.channel.close()
        assert wait_for(lambda: group_members(process.pid), 5) < BOUND_S
    finally:
        kill_all([*with_arg(seconds), *group_members(process.pid)])


# -- Slurm -------------------------------------------------------------------------------------


def slurm_job(cluster: SlurmCluster, job_id: str) -> str:
    """The state squeue shows for ``job_id`` ("" once the job has left the queue)."""
    out = cluster.run_client(["squeue", "-h", "-o", "%i %T"], timeout=30).stdout
    return next((line.split()[1] for line in out.splitlines() if line.split()[0] == job_id), "")


def reaper_of(harness_pid: int) -> list[int]:
    return [
        pid
        for pid in with_arg("pytest_spilot.launchers.reaper")
        if stat_fields(pid)[1:2] == [str(harness_pid).encode()]
    ]


@pytest.mark.parametrize("case", ["same-host", "other-host", "reaper-killed-too"])
def test_slurm_job_is_cancelled_with_a_sigkilled_harness(
    pytester: pytest.Pytester, slurm_env: SlurmCluster, case: str
) -> None:
    """same-host: the task carries the harness's job token, so the reaper could end it on its
    own; other-host: it drops the token, as on another compute node, so only Slurm can end
    it; reaper-killed-too: the harness's reaper dies with it, so only the batch guard is left.
    In every case the task is gone and the job has left the queue within 1 s."""
    seconds = unique_seconds()
    ready = pytester.path / "ready"
    hide = "" if case == "same-host" else "exec env -u SPILOT_JOB_TOKEN "
    task = f"echo \\$SLURM_JOB_ID > {ready}.tmp && mv {ready}.tmp {ready}; sleep {seconds}"
    pytester.makefile(
        ".yaml",
        **{
            "validations/r": f"""
version: 1
validations:
  - name: long
    location: srun
    timeout_s: 120
    run: '{hide}sh -c "{task}"'
"""
        },
    )
    job_id = ""
    try:
        with harness(pytester.path, ready) as proc:
            job_id = ready.read_text().strip()
            assert wait_for(lambda: not with_arg(seconds), 5) < 5
            assert slurm_job(slurm_env, job_id) == "RUNNING"
            reapers = reaper_of(proc.pid)
            assert len(reapers) == 1
            os.killpg(proc.pid, signal.SIGKILL)
            if case == "reaper-killed-too":
                kill_all(reapers)
            killed = time.monotonic()
            proc.wait()
            task_s = wait_for(lambda: with_arg(seconds), 5)
            wait_for(lambda: slurm_job(slurm_env, job_id), 5 - task_s, step_s=0.05)
            queue_s = time.monotonic() - killed
        state = slurm_job(slurm_env, job_id)
        assert with_arg(seconds) == [] and state == "", f"job {job_id} {state} outlived it"
        print(f"{case}: task ended {task_s:.3f} s, job {job_id} left the queue {queue_s:.3f} s")
        assert task_s < BOUND_S and queue_s < BOUND_S, (task_s, queue_s)
    finally:
        if job_id:
            slurm_env.run_client(["scancel", job_id])
        wait_for(lambda: with_arg(seconds), 10)
        kill_all(with_arg(seconds))


# -- ending a dead harness's jobs (a resumed run) ------------------------------------------------


def test_ssh_launcher_ends_a_job_by_its_handle(make_node, tmp_path: Path) -> None:
    """What a resumed run does with a journalled remote job: ended through another connection
    only while a process of its group carries the job's token (its id may have been reused)."""
    seconds = unique_seconds()
    handles: list[JobHandle] = []
    first = SshLauncher(make_node(name="n1"))
    job = Job(["sleep", seconds], tmp_path, tmp_path / "job.log", 60, on_start=handles.append)
    process = first.start(job)
    try:
        assert wait_for(lambda: not with_arg(seconds), 5) < 5
        [handle] = handles
        assert (handle.node, handle.pgid, handle.launcher) == ("n1", process.pid, "n1")
        assert handle.token and handle.owner_pid == os.getpid()
        later = SshLauncher(make_node(name="n1"))  # a connection of its own
        reused = handle.model_copy(update={"token": "0" * 32})
        assert later.end(reused, 0.5) is False and with_arg(seconds)
        assert later.end(handle, 0.5) is True
        assert wait_for(lambda: with_arg(seconds), 5) < BOUND_S
        assert later.end(handle, 0.5) is False
        assert process.wait(5) != 0
    finally:
        kill_all(with_arg(seconds))


def test_template_launcher_ends_a_batch_job_by_its_handle(
    slurm_env: SlurmCluster, tmp_path: Path
) -> None:
    seconds = unique_seconds()
    handles: list[JobHandle] = []
    srun = {launcher.name: launcher for launcher in SiteConfig().grid_launchers()}["srun"]
    job = Job(["sleep", seconds], tmp_path, tmp_path / "job.log", 60, on_start=handles.append)
    process = srun.start(job)
    try:
        assert wait_for(lambda: not with_arg(seconds), 10) < 10
        [handle] = handles
        assert handle.job_name and handle.job_name.startswith("spilot.")
        assert handle.pgid == process.pid and handle.token
        assert srun.end(handle, 1.0) is True
        assert wait_for(lambda: with_arg(seconds), 5) < BOUND_S
        assert slurm_env.settled_queue() == []
        assert srun.end(handle, 1.0) is False
    finally:
        process.stop(0.5)
        kill_all(with_arg(seconds))


def test_guarded_submitter_keeps_not_found_and_exit_codes(tmp_path: Path) -> None:
    """The guard is invisible: a missing submitter is 'cannot start' (127), an exit code or a
    signal death of the submitter is the job's."""
    log = tmp_path / "job.log"
    missing = TemplateLauncher(
        name="x", template=["no-such-submitter", "{command}"], cancel=["true"]
    )
    result = missing.run(Job(["true"], tmp_path, log, 10))
    assert result.exit_code == 127 and "cannot start 'no-such-submitter'" in result.message
    wrap = TemplateLauncher(name="w", template=["env", "VIA=grid", "{command}"], cancel=["true"])
    result = wrap.run(Job(["sh", "-c", 'echo "via=$VIA"; exit 3'], tmp_path, log, 10))
    assert result.exit_code == 3 and log.read_text().endswith("via=grid\n")
    result = wrap.run(Job(["sh", "-c", "kill -9 $$"], tmp_path, log, 10))
    assert result.exit_code == 137 and "signal 9" in result.message
