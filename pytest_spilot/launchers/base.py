"""The launcher extension point: start a job somewhere, stream its output, stop it, exit code."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pytest_spilot.core.state import JobHandle
from pytest_spilot.redact import Redactor

TIMEOUT_EXIT_CODE = 124
NOT_FOUND_EXIT_CODE = 127


def batch_job_name(validation_id: str) -> str:
    """A job name every batch system takes (LSF reads ``name[1-3]`` as a job array)."""
    return "spilot." + re.sub(r"[^A-Za-z0-9_.-]+", "_", validation_id).strip("_")[:64]


@dataclass(frozen=True)
class Job:
    """One command to run: argv, extra environment, working directory, log and time limit."""

    argv: list[str]
    cwd: Path
    log_path: Path
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)
    stderr_path: Path | None = None  # None: stderr goes to the log with stdout
    name: str = "spilot"  # the job's name where the launcher has one (a batch queue's job name)
    # Values that never reach the log (see pytest_spilot.redact).
    secrets: Redactor = field(default_factory=Redactor)
    # Told how to find the job again once it started (journalled: a resume ends it).
    on_start: Callable[[JobHandle], None] | None = None


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    duration_s: float
    timed_out: bool = False
    message: str = ""
    transient: bool = False  # may pass when tried again (a dropped connection): see ``retries``
    job_id: str | None = None  # the batch system's id, where the launcher has one


class RunningJob(Protocol):
    """A started job (a session that outlives one request, or a job being waited for)."""

    pid: int

    def poll(self) -> int | None:
        """The exit code once the job ended, else None."""
        ...

    def wait(self, timeout_s: float | None) -> int:
        """Wait for the end and return the exit code; TimeoutError after ``timeout_s``."""
        ...

    def stop(self, grace_s: float = 1.0) -> int | None:
        """Kill the whole job (process tree or remote job): SIGTERM, then SIGKILL after grace."""
        ...


class Launcher(Protocol):
    """Where and how a job runs (``location:`` in a validation names one)."""

    @property
    def name(self) -> str:
        """The name ``location:`` uses: a class's (``local``) or an instance's (a node, a grid)."""
        ...

    def command_line(self, job: Job) -> list[str]:
        """The command line this launcher would run for ``job`` (shown by --spilot-plan)."""
        ...

    def start(self, job: Job) -> RunningJob:
        """Start ``job`` and return at once; raise OSError when it cannot start at all."""
        ...

    def run(self, job: Job) -> JobResult:
        """Run ``job`` to its end; output goes to ``job.log_path`` while it runs.

        On timeout the whole process tree (or remote job) is killed and the exit code is 124.
        Once started, the job is described to ``job.on_start`` (when set) by a JobHandle.
        """
        ...

    def end(self, handle: JobHandle, grace_s: float = 1.0) -> bool:
        """End a job another, dead harness started (``handle`` from its journal).

        True when something of it was still running (and is now ended). Optional for a
        plugin's launcher: without it, a resumed run only warns about such jobs.
        """
        ...
