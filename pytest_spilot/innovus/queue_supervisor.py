"""The harness side of the run-directory protocol, shared by every backend.

A backend only says how the session starts, how it is woken and whether its process lives;
requests, acks, health, SESSION_LOST, debug bundles and stopping are the same for all.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pytest_spilot.atomic import write_atomic
from pytest_spilot.innovus.bundle import write_debug_bundle
from pytest_spilot.innovus.contracts import contract_for, find_skills
from pytest_spilot.innovus.protocol import Ack, ErrorType, Ready, Request, SessionFileConfig
from pytest_spilot.innovus.rundir import SessionDir
from pytest_spilot.innovus.supervisor import Health, SessionError, SessionSpec
from pytest_spilot.logtail import tail_lines

HEALTH_CHECK_S = 0.05  # how often a waiting submit looks at the process and the heartbeat
STOP_GRACE_S = 5.0


def skill_script(name: str) -> str:
    """The request ``script`` of a skill: ``summary_health`` → ``scripts/summary_health.tcl``."""
    return f"scripts/{name}.tcl"


class QueueSupervisor:
    """Writes requests, waits for acks, watches health; subclasses start and wake the session."""

    backend: ClassVar[str] = ""

    def __init__(self, spec: SessionSpec) -> None:
        self.spec = spec
        self.config = spec.config
        self.run_dir = spec.run_dir
        self.dir = SessionDir(spec.run_dir)
        self.ready: Ready | None = None
        self.lost: str | None = None
        self.env = {**os.environ, **spec.config.env, **spec.env}
        self.redactor = spec.secrets
        self.redactor.add(spec.config.secret_names, self.env)
        self._seq = 0
        self._beat: tuple[int, int] | None = None
        self._beat_seen = 0.0
        self._stopped = False

    # -- what a backend provides -------------------------------------------------------------

    def _launch(self) -> None:
        raise NotImplementedError

    def _exit_code(self) -> int | None:
        """The session process's exit code once it ended, else None."""
        raise NotImplementedError

    def _wake(self, request_id: str) -> None:
        """Tell the session a request is queued (the files alone work, only slower)."""

    def _wait_event(self, timeout_s: float) -> None:
        time.sleep(min(timeout_s, 0.002))

    def _kill(self) -> None:
        """Kill whatever is left of the session."""

    def _on_ready(self, ready: Ready) -> None:
        """Connect a wake-up channel, once the session announced itself."""

    # -- the Supervisor interface ------------------------------------------------------------

    def start(self) -> None:
        self.dir.create(self.spec.skill_dirs)
        self._stage_contracts()
        cfg = self.config
        self.dir.write_model(
            self.dir.file("config.json"),
            SessionFileConfig(
                heartbeat_interval_s=cfg.heartbeat_interval_s,
                poll_interval_s=cfg.poll_interval_s,
                socket=cfg.socket,
                owner_pid=os.getpid(),
                owner_host=socket.gethostname(),
                secret_env=sorted(
                    n for n in {*self.redactor.names, *self.env} if self.redactor.is_secret(n)
                ),
            ),
        )
        self.log(f"starting {self.backend} session in {self.run_dir}")
        self._started = time.monotonic()
        self._launch()

    def _stage_contracts(self) -> None:
        """Each staged skill's contract as JSON: the bootstrap fails a PASS that breaks it."""
        folder = self.dir.scripts / "contracts"
        folder.mkdir(exist_ok=True)
        for name, script in find_skills(self.spec.skill_dirs).items():
            if script.with_suffix(".yaml").is_file():
                write_atomic(folder / f"{name}.json", contract_for(script).staged(), durable=False)

    def wait_ready(self, timeout_s: float | None = None) -> Ready:
        timeout_s = timeout_s if timeout_s is not None else self.config.ready_timeout_s
        deadline = time.monotonic() + timeout_s
        pause = 0.001
        while True:
            ready = self.dir.read_model(self.dir.file("ready"), Ready)
            if ready is not None:
                self.ready = ready
                self._beat_seen = time.monotonic()
                self._on_ready(ready)
                self.poll_health()  # the heartbeat's age is counted from here
                self.log(f"ready in {time.monotonic() - self._started:.3f} s: {ready}")
                return ready
            code = self._exit_code()
            if code is not None:
                raise SessionError(self._start_failure(f"the session exited with code {code}"))
            if time.monotonic() > deadline:
                self._kill()
                raise SessionError(
                    self._start_failure(
                        f"the session was not ready within {timeout_s:g} s "
                        "(ready_timeout_s in [tool.spilot.innovus]); it was killed"
                    )
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def submit(
        self, script: str, args: Mapping[str, Any] | None = None, timeout_s: float | None = None
    ) -> Ack:
        timeout_s = timeout_s if timeout_s is not None else self.config.request_timeout_s
        request = Request(
            request_id=self._next_id(), script=script, args=dict(args or {}), timeout_s=timeout_s
        )
        self._check_usable()
        self.dir.enqueue(request)
        return self._await(request.request_id, timeout_s)

    def submit_raw(self, request_id: str, payload: bytes, timeout_s: float = 30.0) -> Ack:
        """Queue ``payload`` as the request file verbatim (hostile-input tests, gates)."""
        self._check_usable()
        write_atomic(self.dir.request_path(request_id), payload.decode("latin-1"), durable=False)
        return self._await(request_id, timeout_s)

    def poll_health(self) -> Health:
        code = self._exit_code()
        if code is not None:
            return Health.EXITED if code == 0 else Health.CRASHED
        beat = self.dir.heartbeat_stamp()
        now = time.monotonic()
        if beat != self._beat:
            self._beat, self._beat_seen = beat, now
        if beat is None and self.ready is None:
            return Health.NO_HEARTBEAT
        if now - self._beat_seen > self.config.heartbeat_timeout_s:
            return Health.HEARTBEAT_LOST
        return Health.HEALTHY

    def stop(self, reason: str = "") -> None:
        if self._stopped:
            return
        self._stopped = True
        self.log(f"stopping: {reason or 'asked to'}")
        if self._exit_code() is None:
            write_atomic(self.dir.file("stop"), reason or "stop", durable=False)
            self._wake("STOP")
            deadline = time.monotonic() + max(STOP_GRACE_S, 3 * self.config.poll_interval_s)
            while self._exit_code() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        if self._exit_code() is None:
            self.log("the session ignored the stop file; killing it")
        self._kill()
        self.log(f"stopped (exit code {self._exit_code()})")

    def collect_logs(self) -> dict[str, Path]:
        return {p.name: p for p in sorted(self.dir.session.glob("*.log*")) if p.is_file()}

    # -- internals ---------------------------------------------------------------------------

    def log(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {self.redactor.text(message)}\n"
        with self.dir.file("supervisor.log").open("a", encoding="utf-8") as fh:
            fh.write(line)

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._seq:05d}-{uuid.uuid4().hex[:8]}"

    def _check_usable(self) -> None:
        if self.lost:
            raise SessionError(f"the session in {self.run_dir} was lost: {self.lost}")
        if self.ready is None or self._stopped:
            raise SessionError(f"the session in {self.run_dir} is not ready (call wait_ready)")

    def _await(self, request_id: str, timeout_s: float) -> Ack:
        self._wake(request_id)
        ack_path = self.dir.ack_path(request_id)
        # The session enforces timeout_s itself; the harness only steps in when it cannot.
        deadline = time.monotonic() + timeout_s + self.config.heartbeat_timeout_s
        next_check = 0.0
        while True:
            if ack_path.exists():
                ack = self.dir.read_ack(request_id)
                if ack is not None:
                    return ack
            now = time.monotonic()
            if now >= next_check:
                next_check = now + HEALTH_CHECK_S
                health = self.poll_health()
                if health in (Health.CRASHED, Health.EXITED, Health.HEARTBEAT_LOST):
                    return self._session_lost(request_id, self._describe(health))
                if now > deadline:
                    return self._session_lost(
                        request_id,
                        f"no ack {timeout_s:g} s after the request's timeout; the session is "
                        "stuck in a command the Tcl time limit cannot interrupt",
                        ErrorType.TIMEOUT,
                    )
            self._wait_event(HEALTH_CHECK_S)

    def _describe(self, health: Health) -> str:
        if health is Health.HEARTBEAT_LOST:
            return f"no heartbeat for {self.config.heartbeat_timeout_s:g} s (heartbeat_timeout_s)"
        code = self._exit_code()
        if code is not None and code < 0:
            return f"the session process was killed by signal {-code}"
        return f"the session process exited with code {code}"

    def _session_lost(
        self, request_id: str, reason: str, error_type: ErrorType = ErrorType.SESSION_LOST
    ) -> Ack:
        self.lost = reason
        self.log(f"{error_type}: {reason} (request {request_id})")
        bundle = write_debug_bundle(self.dir, request_id, reason, self.redactor, self.env)
        ack = Ack.failure(
            request_id,
            error_type,
            f"{reason}; debug bundle: {bundle}; the next test gets a new session",
        )
        ack = self.dir.write_ack_once(ack)  # first: a late ack from the dying session loses
        self._kill()
        return ack

    def _start_failure(self, what: str) -> str:
        tails = []
        for path in (self.dir.file("innovus.stderr.log"), self.dir.file("innovus.stdout.log")):
            lines = tail_lines(path, 10)
            if lines:
                tails.append(f"last lines of {path}:\n  " + "\n  ".join(lines))
        bundle = write_debug_bundle(self.dir, None, what, self.redactor, self.env)
        return self.redactor.text(
            f"{self.backend} session in {self.run_dir}: {what}; debug bundle: {bundle}"
            + ("\n" + "\n".join(tails) if tails else "")
        )
