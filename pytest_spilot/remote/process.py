"""A command running on a node: output pumped to local files as it arrives, secrets redacted."""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Callable

import paramiko

from pytest_spilot.redact import RedactingStream
from pytest_spilot.remote.errors import SSH_FAILURE_EXIT_CODE
from pytest_spilot.remote.shell import PID_MARKER


class RemoteProcess:
    """``RunningJob`` for a channel: ``pid`` is the remote process group (0 until announced)."""

    def __init__(
        self,
        channel: paramiko.Channel,
        stdout: RedactingStream,
        stderr: RedactingStream,
        stop_group: Callable[[int, float], object],
        announces_pid: bool = True,
    ) -> None:
        self.channel = channel
        self.stdout = stdout
        self.stderr = stderr
        self.pid = 0
        self.lost = False  # the connection dropped before the command's exit status came
        self.stopped = False
        self._stop_group = stop_group
        self._on_end: list[Callable[[], None]] = []
        self._callbacks_lock = threading.Lock()
        self._head = b""
        self._announced = threading.Event()
        if not announces_pid:
            self._announced.set()
        self._ended = threading.Event()
        self._code: int | None = None
        threading.Thread(target=self._pump, name="spilot-remote-pump", daemon=True).start()

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the command ended and its output is written (now if it has)."""
        with self._callbacks_lock:
            if not self._ended.is_set():
                self._on_end.append(callback)
                return
        callback()

    def poll(self) -> int | None:
        return self._code if self._ended.is_set() else None

    def wait_pid(self, timeout_s: float) -> int:
        """The remote process group once the script announced it (0 if it did not in time)."""
        self._announced.wait(timeout_s)
        return self.pid

    def wait(self, timeout_s: float | None) -> int:
        if not self._ended.wait(timeout_s):
            raise TimeoutError(f"remote job {self.pid} still running after {timeout_s:g} s")
        assert self._code is not None
        return self._code

    def stop(self, grace_s: float = 1.0) -> int | None:
        """Kill the remote process group, then close the channel."""
        self.stopped = True
        if not self._ended.is_set():
            self._announced.wait(2.0)
            if self.pid:
                with contextlib.suppress(OSError):
                    self._stop_group(self.pid, grace_s)
            self._ended.wait(grace_s + 1.0)
        self.channel.close()
        self._ended.wait(1.0)
        return self._code

    def _pump(self) -> None:
        channel = self.channel
        try:
            while True:
                select.select([channel], [], [], 0.5)
                if self._drain():
                    continue
                if channel.exit_status_ready() or channel.closed:
                    break
                transport = channel.get_transport()
                if transport is None or not transport.is_active():
                    break
            self._drain()  # what arrived with the exit status
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            self._finish()

    def _drain(self) -> bool:
        got = False
        while self.channel.recv_ready():
            self._stdout(self.channel.recv(65536))
            got = True
        while self.channel.recv_stderr_ready():
            self.stderr.write(self.channel.recv_stderr(65536))
            got = True
        return got

    def _finish(self) -> None:
        self._stdout(b"", end=True)
        self.stdout.close()
        self.stderr.close()
        if self.channel.exit_status_ready():
            self._code = self.channel.recv_exit_status()
        if self._code is None or self._code < 0:
            transport = self.channel.get_transport()
            self.lost = not self.stopped and (transport is None or not transport.is_active())
            self._code = SSH_FAILURE_EXIT_CODE
        self._announced.set()
        with self._callbacks_lock:
            self._ended.set()
        for callback in self._on_end:
            callback()

    def _stdout(self, data: bytes, end: bool = False) -> None:
        if self._announced.is_set():
            if data:
                self.stdout.write(data)
            return
        self._head += data
        line_end = self._head.find(b"\n")
        if line_end < 0 and not end:
            return
        head, self._head = self._head, b""
        if head.startswith(PID_MARKER) and line_end >= 0:
            with contextlib.suppress(ValueError):
                self.pid = int(head[len(PID_MARKER) : line_end])
            head = head[line_end + 1 :]
        self._announced.set()
        if head:
            self.stdout.write(head)
