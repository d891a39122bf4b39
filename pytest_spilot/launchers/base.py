"""The launcher extension point: start a job somewhere, stream its output, stop it, exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

TIMEOUT_EXIT_CODE = 124
NOT_FOUND_EXIT_CODE = 127


@dataclass(frozen=True)
class Job:
    """One command to run: argv, extra environment, working directory, log and time limit."""

    argv: list[str]
    cwd: Path
    log_path: Path
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    duration_s: float
    timed_out: bool = False
    message: str = ""


class Launcher(Protocol):
    """Where and how a job runs (``location:`` in a validation names one)."""

    name: ClassVar[str]

    def command_line(self, job: Job) -> list[str]:
        """The command line this launcher would run for ``job`` (shown by --spilot-plan)."""
        ...

    def run(self, job: Job) -> JobResult:
        """Run ``job`` to its end; output goes to ``job.log_path`` while it runs.

        On timeout the whole process tree (or remote job) is killed and the exit code is 124.
        """
        ...
