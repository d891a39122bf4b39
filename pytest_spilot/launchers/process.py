"""Process-tree control for local jobs: a job's tree is its process group plus every process
that carries its token in the environment (so children that left the group are found too)."""

from __future__ import annotations

import contextlib
import os
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


def kill_tree(leader: subprocess.Popen[bytes], token: str, grace_s: float = 1.0) -> None:
    """SIGTERM the job's whole tree, then SIGKILL whatever is left after ``grace_s``.

    ``leader`` started the process group (``start_new_session``) and is reaped here.
    """
    pids = job_pids(leader.pid, token)
    if not pids:
        leader.poll()
        return
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        leader.poll()
        pids = job_pids(leader.pid, token)
        if not pids:
            return
        time.sleep(0.01)
    _signal(pids, signal.SIGKILL)
    leader.wait()
