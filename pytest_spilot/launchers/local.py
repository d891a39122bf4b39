"""``local``: a subprocess in its own session (and cgroup, where the machine allows), output
streamed to the log, whole tree killed."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import uuid
from typing import BinaryIO, ClassVar

from pytest_spilot.core.state import JobHandle
from pytest_spilot.launchers import cgroup as cgroups
from pytest_spilot.launchers.base import (
    NOT_FOUND_EXIT_CODE,
    TIMEOUT_EXIT_CODE,
    Job,
    JobResult,
)
from pytest_spilot.launchers.process import TOKEN_VAR, end_leftover_job, kill_tree, wait_exit
from pytest_spilot.launchers.reaper import REAPER
from pytest_spilot.redact import PipePump, RedactingStream


class LocalProcess:
    """A started local job: its cgroup, else its process group plus every process carrying its
    token."""

    def __init__(self, job: Job, argv: list[str]) -> None:
        self.token = uuid.uuid4().hex
        self._watched = False
        env = {**os.environ, **job.env, TOKEN_VAR: self.token}
        self.secrets = job.secrets
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._files: list[BinaryIO] = [open(job.log_path, "ab", buffering=0)]  # noqa: SIM115
        if job.stderr_path is not None:
            self._files.append(open(job.stderr_path, "ab", buffering=0))  # noqa: SIM115
        self._pumps: list[PipePump] = []
        # With secrets to hide, output goes through a pipe and a redacting pump; without,
        # the job writes its log directly (no thread, no copy).
        redact = bool(job.secrets.values)
        # The job's own cgroup (journalled, so a later run can end the job), or None.
        self.cgroup: str | None = cgroups.create(self.token)
        # The reaper learns of the job before it exists, so a harness killed while starting
        # it leaves nothing behind; the process group follows once known.
        REAPER.watch(0, self.token, self.cgroup)
        self._watched = True
        enter_fd, preexec = -1, None
        try:
            if self.cgroup is not None and cgroups.needs_preexec(env):
                enter_fd, preexec = cgroups.enter_preexec(self.cgroup)
            elif self.cgroup is not None:
                argv = cgroups.wrap(self.cgroup, argv, env, job.cwd)
            self.proc = subprocess.Popen(
                argv,
                cwd=job.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if redact else self._files[0],
                stderr=(
                    (subprocess.PIPE if redact else self._files[-1])
                    if job.stderr_path
                    else subprocess.STDOUT
                ),
                start_new_session=True,
                preexec_fn=preexec,
            )
        except BaseException:
            if self.cgroup is not None:
                cgroups.remove(self.cgroup)
            self._close()
            raise
        finally:
            if enter_fd >= 0:
                os.close(enter_fd)
        for pipe, target in (
            (self.proc.stdout, self._files[0]),
            (self.proc.stderr, self._files[-1]),
        ):
            if pipe is not None:
                stream = RedactingStream([target], job.secrets, keep=False)
                self._pumps.append(PipePump(os.dup(pipe.fileno()), stream))
                pipe.close()
        self.pid = self.proc.pid
        REAPER.watch(self.pid, self.token, self.cgroup)

    def log(self, line: str) -> None:
        self._files[0].write(f"[spilot] {self.secrets.text(line)}\n".encode())

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
        kill_tree(self.proc, self.token, grace_s, cgroup=self.cgroup)
        self._close()
        return self.proc.returncode

    def reap_leftovers(self, grace_s: float) -> None:
        """Kill background children a job left behind when it ended by itself."""
        kill_tree(self.proc, self.token, grace_s, sweep=False, cgroup=self.cgroup)
        self._close()

    def _close(self) -> None:
        # A job cgroup still holding processes stays on the reaper's list until stop().
        if self._watched and (self.cgroup is None or cgroups.remove(self.cgroup)):
            self._watched = False
            REAPER.forget(self.token)
        for pump in self._pumps:
            pump.close()
        self._pumps = []
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
        process = LocalProcess(job, self.command_line(job))
        if job.on_start is not None:
            job.on_start(self.handle(process))
        return process

    def handle(self, process: LocalProcess) -> JobHandle:
        """How a later run finds this harness's job: its cgroup, process group and token."""
        return JobHandle(
            launcher=self.name,
            host=socket.gethostname(),
            owner_pid=os.getpid(),
            pgid=process.pid,
            token=process.token,
            cgroup=process.cgroup,
        )

    def end(self, handle: JobHandle, grace_s: float = 1.0) -> bool:
        """End a dead harness's job on this host (its cgroup, else its group and token)."""
        if handle.host != socket.gethostname() or not handle.pgid or not handle.token:
            return False
        return end_leftover_job(handle.pgid, handle.token, handle.cgroup, grace_s)

    def run(self, job: Job) -> JobResult:
        start = time.monotonic()
        try:
            process = self.start(job)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            argv0 = self.command_line(job)[0]
            message = job.secrets.text(f"cannot start {argv0!r}: {exc.strerror or exc}")
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
