"""``local``: a subprocess in its own session, output streamed to the log, whole tree killed."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from typing import ClassVar

from pytest_spilot.launchers.base import (
    NOT_FOUND_EXIT_CODE,
    TIMEOUT_EXIT_CODE,
    Job,
    JobResult,
)
from pytest_spilot.launchers.process import TOKEN_VAR, kill_tree, wait_exit


class LocalLauncher:
    name: ClassVar[str] = "local"

    def __init__(self, grace_s: float = 1.0) -> None:
        self.grace_s = grace_s

    def command_line(self, job: Job) -> list[str]:
        return list(job.argv)

    def run(self, job: Job) -> JobResult:
        token = uuid.uuid4().hex
        env = {**os.environ, **job.env, TOKEN_VAR: token}
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with open(job.log_path, "ab", buffering=0) as log:
            try:
                proc = subprocess.Popen(
                    job.argv,
                    cwd=job.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
                message = f"cannot start {job.argv[0]!r}: {exc.strerror or exc}"
                log.write(f"[spilot] {message}\n".encode())
                return JobResult(NOT_FOUND_EXIT_CODE, time.monotonic() - start, message=message)
            try:
                exit_code = wait_exit(proc, job.timeout_s)
            except subprocess.TimeoutExpired:
                kill_tree(proc, token, self.grace_s)
                duration = time.monotonic() - start
                message = f"timed out after {job.timeout_s:g} s; killed the whole process tree"
                log.write(f"\n[spilot] {message}\n".encode())
                return JobResult(TIMEOUT_EXIT_CODE, duration, timed_out=True, message=message)
            except BaseException:
                kill_tree(proc, token, self.grace_s)
                raise
            # Background children the job left behind must not outlive it.
            kill_tree(proc, token, self.grace_s, sweep=False)
        if exit_code < 0:  # killed by a signal: report it the way a shell would
            message = f"killed by signal {-exit_code}"
            exit_code = 128 - exit_code
        else:
            message = "" if exit_code == 0 else f"exit code {exit_code}"
        return JobResult(exit_code, time.monotonic() - start, message=message)
