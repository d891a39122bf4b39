"""Jobs a crashed run of the release left running: found in its journal, ended on resume.

The reaper ends a dead harness's jobs on its own host; this covers what it cannot (the reaper
killed too, a remote process group, a batch job) before a resumed run starts them again.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from pytest_spilot.core.journal import process_alive
from pytest_spilot.core.state import JobHandle, ReleaseState, ValidationRecord

if TYPE_CHECKING:
    from pytest_spilot.launchers.base import Launcher


def left_running(state: ReleaseState) -> Iterator[tuple[ValidationRecord, JobHandle]]:
    """Jobs of runs that never finished whose harness is gone (another host's: unknown)."""
    host = socket.gethostname()
    for record in state.validations.values():
        if record.run is not None:
            continue
        for job in record.jobs:
            if job.host == host and process_alive(job.owner_pid):
                continue  # a run in progress: its harness still owns the job
            yield record, job


def end_orphans(
    state: ReleaseState, launchers: Mapping[str, Launcher], grace_s: float = 1.0
) -> list[str]:
    """End every job left running by a dead run of ``state``; one line per job ended or not."""
    lines = []
    host = socket.gethostname()
    for record, job in left_running(state):
        where = describe(job)
        if job.node is None and job.job_name is None and job.host != host:
            lines.append(
                f"{record.key}: {where} may still run: it was started on {job.host}, and only "
                "a run there can end it"
            )
            continue
        launcher = launchers.get(job.launcher)
        end = getattr(launcher, "end", None)
        if end is None:
            lines.append(
                f"{record.key}: {where} may still run (left by process {job.owner_pid} on "
                f"{job.host}): launcher {job.launcher!r} cannot end it; end it by hand"
            )
            continue
        try:
            ended = end(job, grace_s)
        except OSError as exc:
            lines.append(f"{record.key}: could not end {where}: {exc}")
            continue
        if ended:
            lines.append(
                f"{record.key}: ended {where}, left running by process {job.owner_pid} on "
                f"{job.host} (a crashed run of this release)"
            )
    return lines


def describe(job: JobHandle) -> str:
    """``local job (process group 123)``, ``job 42 on srun``, ``process group 9 on node n1``."""
    if job.node is not None:
        return f"process group {job.pgid} on node {job.node}"
    if job.job_id or job.job_name:
        return f"{job.launcher} job {job.job_id or job.job_name}"
    return f"{job.launcher} job (process group {job.pgid} on {job.host})"
