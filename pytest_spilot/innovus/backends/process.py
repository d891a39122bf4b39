"""A session that is a process (the Tcl stand-in or Innovus), started through a launcher."""

from __future__ import annotations

import contextlib
import math
import select
import socket

from pytest_spilot.innovus.protocol import Ready
from pytest_spilot.innovus.queue_supervisor import QueueSupervisor
from pytest_spilot.innovus.supervisor import SessionError
from pytest_spilot.launchers.base import Job, RunningJob

LOOPBACK = "127.0.0.1"


class ProcessSupervisor(QueueSupervisor):
    """Subclasses give the command line; launching, waking and killing are the same."""

    process: RunningJob | None = None
    _sock: socket.socket | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def _launch(self) -> None:
        job = Job(
            argv=self.argv(),
            cwd=self.run_dir,
            log_path=self.dir.file("innovus.stdout.log"),
            stderr_path=self.dir.file("innovus.stderr.log"),
            timeout_s=math.inf,
            env={**self.config.env, **self.spec.env, "SPILOT_RUN_DIR": str(self.run_dir)},
            name=self.spec.name,
            secrets=self.redactor,
        )
        self.command = self.spec.launcher.command_line(job)
        self.log(f"command: {self.command}")
        try:
            self.process = self.spec.launcher.start(job)
        except OSError as exc:
            raise SessionError(
                f"{self.backend} session: cannot start {self.command[0]!r}: "
                f"{exc.strerror or exc}; set its path in [tool.spilot.innovus] "
                "(binary, tclsh or launcher) or put it on PATH"
            ) from None

    def _exit_code(self) -> int | None:
        # A process that never started counts as ended (127, like a shell's "not found").
        return self.process.poll() if self.process is not None else 127

    def _on_ready(self, ready: Ready) -> None:
        # The port is on the session's host: only a session started here is reachable on it.
        if not (self.config.socket and ready.port and self.spec.launcher.name == "local"):
            return
        try:
            sock = socket.create_connection((LOOPBACK, ready.port), timeout=2.0)
        except OSError as exc:
            self.log(f"no wake-up socket ({exc}); falling back to the directory poll")
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._sock = sock

    def _wake(self, request_id: str) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendall(f"{request_id}\n".encode())
        except OSError as exc:
            self.log(f"wake-up socket failed ({exc}); falling back to the directory poll")
            self._close_socket()

    def _wait_event(self, timeout_s: float) -> None:
        if self._sock is None:
            super()._wait_event(timeout_s)
            return
        readable, _, _ = select.select([self._sock], [], [], timeout_s)
        if readable:
            try:
                if not self._sock.recv(65536):
                    self._close_socket()
            except BlockingIOError:
                pass
            except OSError:
                self._close_socket()

    def _close_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _kill(self) -> None:
        self._close_socket()
        if self.process is not None:
            self.process.stop()
