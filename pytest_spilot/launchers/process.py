"""Process-tree control for local jobs: a job's tree is its own cgroup where it has one
(launchers/cgroup.py), else its process group plus every process that carries its token in the
environment (so children that left the group are found too)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_spilot.launchers import cgroup as cgroups

TOKEN_VAR = "SPILOT_JOB_TOKEN"


def job_pids(pgid: int, token: str, *, group_needs_token: bool = False) -> list[int]:
    """Live (non-zombie) processes of the job: in its process group or carrying its token."""
    # group_needs_token: the group counts only when one of its processes carries the token,
    # since the group of a job that is not our child may have gone and its id been reused.
    needle = f"{TOKEN_VAR}={token}".encode()
    carriers, group = [], []
    group_has_token = False
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            # Fields after the command name (which may hold spaces): state, ppid, pgrp, ...
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":
                continue
            in_group = pgid > 0 and int(fields[2]) == pgid  # 0: not known (yet)
            if in_group and not group_needs_token:
                group.append(int(entry.name))
            elif needle in (entry / "environ").read_bytes().split(b"\0"):
                carriers.append(int(entry.name))
                group_has_token |= in_group
            elif in_group:
                group.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    if group_needs_token and not group_has_token:
        return carriers
    return group + carriers


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_tree(
    leader: subprocess.Popen[bytes],
    token: str,
    grace_s: float = 1.0,
    *,
    sweep: bool = True,
    cgroup: str | None = None,
) -> None:
    """SIGTERM the job's whole tree, then SIGKILL whatever is left after ``grace_s``.

    ``leader`` started the process group (``start_new_session``) and is reaped here. With
    ``sweep=False`` (a job that ended by itself) ``/proc`` is scanned only when the process
    group still has members: scanning after every clean job cost ~7 ms per validation. A job
    with a ``cgroup`` is ended through it, and the cgroup removed.
    """
    if cgroup is not None:
        _kill_cgroup_tree(leader, cgroup, grace_s, sweep=sweep)
        return
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


def _kill_cgroup_tree(
    leader: subprocess.Popen[bytes], cgroup: str, grace_s: float, *, sweep: bool
) -> None:
    # Until its wrapper has moved it in, the leader is outside the cgroup; it is our unreaped
    # child, so its process group id cannot belong to anyone else yet.
    def signal_leader(sig: int) -> None:
        if leader.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader.pid, sig)

    if sweep or cgroups.populated(cgroup):
        signal_leader(signal.SIGTERM)
        if cgroups.signal_all(cgroup, signal.SIGTERM):
            cgroups.signal_all(cgroup, signal.SIGCONT)
        deadline = time.monotonic() + grace_s
        while (leader.poll() is None or cgroups.populated(cgroup)) and time.monotonic() < deadline:
            time.sleep(0.01)
        signal_leader(signal.SIGKILL)
        cgroups.kill(cgroup)
    leader.wait()
    cgroups.remove(cgroup)


@dataclass(frozen=True)
class JobTree:
    """A job known by its process group, token and cgroup (when it has one), not our child."""

    pgid: int
    token: str
    cgroup: str | None = None
    # A job of an earlier harness: its process group id may have been reused since.
    group_needs_token: bool = False

    def _cgroup(self) -> str | None:
        if self.cgroup is not None and cgroups.is_job_cgroup(self.cgroup, self.token):
            return self.cgroup
        return None

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to every process of the job; whether there were any."""
        cgroup = self._cgroup()
        if cgroup is not None:
            return cgroups.signal_all(cgroup, sig)
        pids = job_pids(self.pgid, self.token, group_needs_token=self.group_needs_token)
        _signal(pids, sig)
        return bool(pids)

    def kill(self) -> None:
        """SIGKILL the whole job and wait (a bounded time) until it is gone."""
        cgroup = self._cgroup()
        if cgroup is not None:
            cgroups.kill(cgroup)
            return
        deadline = time.monotonic() + 2.0
        while self.signal(signal.SIGKILL) and time.monotonic() < deadline:
            time.sleep(0.01)

    def release(self) -> None:
        """Remove the job's cgroup, killing whatever entered it meanwhile."""
        cgroup = self._cgroup()
        if cgroup is not None:
            # A job whose harness died while starting it may enter its cgroup only now.
            deadline = time.monotonic() + 2.0
            while not cgroups.remove(cgroup) and time.monotonic() < deadline:
                cgroups.kill(cgroup, timeout_s=1.0)


def end_leftover_job(pgid: int, token: str, cgroup: str | None, grace_s: float) -> bool:
    """End a job of an earlier harness on this host; whether any of its processes was found."""
    # By its cgroup while that exists, else by its process group if a process in it still
    # carries the token, else by the token alone: SIGTERM, then SIGKILL after grace_s.
    tree = JobTree(pgid, token, cgroup, group_needs_token=True)
    found = tree.signal(signal.SIGTERM)
    if found:
        tree.signal(signal.SIGCONT)
        deadline = time.monotonic() + grace_s
        while tree.signal(0) and time.monotonic() < deadline:
            time.sleep(0.01)
        tree.kill()
    tree.release()
    return found


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
