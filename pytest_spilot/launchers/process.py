"""Process-tree control for local jobs: a job's tree is its process group plus every process
that carries its token in the environment (so children that left the group are found too)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from pathlib import Path

TOKEN_VAR = "SPILOT_JOB_TOKEN"


def job_pids(pgid: int, token: str) -> list[int]:
    """Live (non-zombie) processes of the job: in its process group or carrying its token."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            # Fields after the command name (which may hold spaces): state, ppid, pgrp, ...
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":
                continue
            if int(fields[2]) == pgid or needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return found


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_tree(
    leader: subprocess.Popen[bytes], token: str, grace_s: float = 1.0, *, sweep: bool = True
) -> None:
    """SIGTERM the job's whole tree, then SIGKILL whatever is left after ``grace_s``.

    ``leader`` started the process group (``start_new_session``) and is reaped here. With
    ``sweep=False`` (a job that ended by itself) ``/proc`` is scanned only when the process
    group still has members: scanning after every clean job cost ~7 ms per validation.
    """
    if not sweep:
        try:
            os.killpg(leader.pid, 0)
        except (ProcessLookupError, PermissionError):
            leader.poll()
            return
    pids = job_pids(leader.pid, token)
    if not pids:
        leader.poll()
        return
    _signal(pids, signal.SIGTERM)
    _signal(pids, signal.SIGCONT)  # a stopped process only acts on SIGTERM once continued
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        leader.poll()
        pids = job_pids(leader.pid, token)
        if not pids:
            return
        time.sleep(0.01)
    _signal(pids, signal.SIGKILL)
    leader.wait()


def wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    """``proc.wait(timeout)`` that wakes the moment the process exits.

    Popen.wait with a timeout polls with growing sleeps (~1 ms lost per short job); a pidfd
    (Linux 5.3+) lets poll() sleep until the exit itself. Raises subprocess.TimeoutExpired.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout=timeout_s)
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout_s * 1000):
            raise subprocess.TimeoutExpired(proc.args, timeout_s)
    finally:
        os.close(pidfd)
    return proc.wait()
