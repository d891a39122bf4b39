"""``local``: a subprocess in its own session, output streamed to the log, whole tree killed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from typing import BinaryIO, ClassVar

from pytest_spilot.launchers.base import (
    NOT_FOUND_EXIT_CODE,
    TIMEOUT_EXIT_CODE,
    Job,
    JobResult,
)
from pytest_spilot.launchers.process import TOKEN_VAR, kill_tree, wait_exit
from pytest_spilot.launchers.reaper import REAPER


class LocalProcess:
    """A started local job: its process group plus every process carrying its token."""

    def __init__(self, job: Job, argv: list[str]) -> None:
        self.token = uuid.uuid4().hex
        self._watched = False
        env = {**os.environ, **job.env, TOKEN_VAR: self.token}
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._files: list[BinaryIO] = [open(job.log_path, "ab", buffering=0)]  # noqa: SIM115
        if job.stderr_path is not None:
            self._files.append(open(job.stderr_path, "ab", buffering=0))  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=job.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._files[0],
                stderr=self._files[-1] if job.stderr_path else subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._close()
            raise
        self.pid = self.proc.pid
        REAPER.watch(self.pid, self.token)
        self._watched = True

    def log(self, line: str) -> None:
        self._files[0].write(f"[spilot] {line}\n".encode())

    def poll(self) -> int | None:
        code = self.proc.poll()
        if code is not None:
            self._close()
        return code

    def wait(self, timeout_s: float | None) -> int:
        try:
            code = wait_exit(self.proc, timeout_s) if timeout_s is not None else self.proc.wait()
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"job {self.pid} still running after {timeout_s:g} s") from None
        return code

    def stop(self, grace_s: float = 1.0) -> int | None:
        kill_tree(self.proc, self.token, grace_s)
        self._close()
        return self.proc.returncode

    def reap_leftovers(self, grace_s: float) -> None:
        """Kill background children a job left behind when it ended by itself."""
        kill_tree(self.proc, self.token, grace_s, sweep=False)
        self._close()

    def _close(self) -> None:
        if self._watched:
            self._watched = False
            REAPER.forget(self.pid)
        for fh in self._files:
            with contextlib.suppress(OSError):
                fh.close()


class LocalLauncher:
    name: ClassVar[str] = "local"

    def __init__(self, grace_s: float = 1.0) -> None:
        self.grace_s = grace_s

    def command_line(self, job: Job) -> list[str]:
        return list(job.argv)

    def start(self, job: Job) -> LocalProcess:
        return LocalProcess(job, self.command_line(job))

    def run(self, job: Job) -> JobResult:
        start = time.monotonic()
        try:
            process = self.start(job)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            argv0 = self.command_line(job)[0]
            message = f"cannot start {argv0!r}: {exc.strerror or exc}"
            with open(job.log_path, "ab") as log:
                log.write(f"[spilot] {message}\n".encode())
            return JobResult(NOT_FOUND_EXIT_CODE, time.monotonic() - start, message=message)
        try:
            exit_code = process.wait(job.timeout_s)
        except TimeoutError:
            message = f"timed out after {job.timeout_s:g} s; killed the whole process tree"
            process.log(message)
            process.stop(self.grace_s)
            duration = time.monotonic() - start
            return JobResult(TIMEOUT_EXIT_CODE, duration, timed_out=True, message=message)
        except BaseException:
            process.stop(self.grace_s)
            raise
        process.reap_leftovers(self.grace_s)
        if exit_code < 0:  # killed by a signal: report it the way a shell would
            message = f"killed by signal {-exit_code}"
            exit_code = 128 - exit_code
        else:
            message = "" if exit_code == 0 else f"exit code {exit_code}"
        return JobResult(exit_code, time.monotonic() - start, message=message)
