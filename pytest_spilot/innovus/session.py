"""Sessions for one process: started on first use, reused, replaced when lost, capped by slots."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.supervisor import (
    Health,
    SessionBackend,
    SessionError,
    SessionSpec,
    Supervisor,
)
from pytest_spilot.redact import Redactor

# Every process makes its session object, few start a session: the client and the protocol's
# models (pydantic) are imported when one starts.
if TYPE_CHECKING:
    from pytest_spilot.innovus.licenses import LicenseSlots
    from pytest_spilot.innovus.protocol import Ack
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.resources import Held
    from pytest_spilot.siteconfig import InnovusConfig

USABLE = (Health.HEALTHY, Health.NO_HEARTBEAT)


class SkillFailed(SpilotError):
    """A skill's ack was FAIL (raised by ``run_skill(..., check=True)``)."""

    def __init__(self, skill: str, ack: Ack) -> None:
        self.ack = ack
        super().__init__(f"skill {skill!r}: {ack.error_type}: {ack.message}")


@dataclass(frozen=True)
class SkillResult:
    """One skill's answer: the ack, its reports as paths, its metrics."""

    ack: Ack
    run_dir: Path
    reports: list[Path] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, float]:
        return self.ack.metrics

    @property
    def passed(self) -> bool:
        return self.ack.passed


class InnovusSession:
    """This process's Innovus session (one per xdist worker): the fixtures and runners share it."""

    def __init__(
        self,
        config: InnovusConfig,
        backends: Mapping[str, SessionBackend],
        launchers: Mapping[str, Launcher],
        sessions_root: Path,
        *,
        backend: str | None = None,
        worker: str = "main",
        licenses: LicenseSlots | None = None,
        skill_dirs: list[Path] | None = None,
        say: Callable[[str], None] | None = None,
        secrets: Redactor | None = None,
    ) -> None:
        self.config = config
        self.secrets = secrets or Redactor()
        self.backend_name = config.resolved_backend(backend)
        self.backends = backends
        self.launchers = launchers
        self.sessions_root = sessions_root
        self.worker = worker
        self.licenses = licenses
        self.skill_dirs = skill_dirs or []
        self.say = say
        # Told "waiting for ..." when a start has to wait for a licence slot, then "" once it
        # has one (the release journals both, for the live view).
        self.on_wait: Callable[[str], None] | None = None
        self.started = 0
        self._current: Supervisor | None = None
        self._slot: Held | None = None

    def supervisor(self) -> Supervisor:
        """A ready session: the current one while it is usable, else a new one."""
        current = self._current
        if current is not None and (current.lost or current.poll_health() not in USABLE):
            # The replacement keeps the slot: taking it again inside a run could wait on a
            # token that a waiting run of another worker is queued for.
            self._end_current(f"replaced: {current.lost or current.poll_health()}", keep_slot=True)
        if self._current is None:
            self._current = self._start()
        return self._current

    def close(self) -> None:
        self._end_current("end of the test session")

    def give_back_if_wanted(self) -> bool:
        """Close this idle session if another process queues for a licence slot (True then)."""
        if self._slot is None or self.licenses is None or not self.licenses.wanted():
            return False
        self._end_current("licence slot wanted by a waiting run")
        return True

    @property
    def holds_slot(self) -> bool:
        """Whether this process holds a licence slot (kept from session to session)."""
        return self._slot is not None

    def adopt_slot(self, slot: Held) -> None:
        """Keep ``slot`` (taken with a run's other tokens, all or none) for the next session."""
        if self._slot is None:
            self._slot = slot
        else:
            slot.release()

    def run_skill(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        check: bool = False,
    ) -> SkillResult:
        """Run skill ``name`` on this process's session; ``check`` raises SkillFailed on FAIL."""
        session = self.supervisor()
        from pytest_spilot.innovus.protocol import ErrorType
        from pytest_spilot.innovus.queue_supervisor import skill_script

        ack = session.submit(skill_script(name), args or {}, timeout_s)
        if ack.error_type is ErrorType.SESSION_LOST:
            self._end_current("lost", keep_slot=True)
        result = SkillResult(ack, session.run_dir, [session.run_dir / r for r in ack.reports])
        if check and not ack.passed:
            raise SkillFailed(name, ack)
        return result

    def _start(self) -> Supervisor:
        backend = self.backends.get(self.backend_name)
        if backend is None:
            raise SessionError(
                f"no Innovus session backend {self.backend_name!r} "
                f"(known: {', '.join(sorted(self.backends))}); check --spilot-backend "
                "or backend in [tool.spilot.innovus]"
            )
        launcher = self.launchers.get(self.config.launcher)
        if launcher is None:
            raise SessionError(
                f"[tool.spilot.innovus] launcher {self.config.launcher!r} is not known "
                f"(known: {', '.join(sorted(self.launchers))}); define it under "
                "[tool.spilot.launchers] or pick one of those"
            )
        self.started += 1
        run_dir = self.sessions_root / f"{self.worker}-{self.started:02d}"
        if self.licenses is not None and self._slot is None:
            waited: list[str] = []

            def wait(message: str) -> None:
                waited.append(message)
                for tell in (self.say, self.on_wait):
                    if tell is not None:
                        tell(message)

            self._slot = self.licenses.acquire(on_wait=wait)
            if waited and self.on_wait is not None:
                self.on_wait("")
        spec = SessionSpec(
            run_dir=run_dir,
            config=self.config,
            launcher=launcher,
            skill_dirs=self.skill_dirs,
            name=f"spilot-innovus-{self.worker}",
            secrets=self.secrets,
        )
        supervisor = backend.create(spec)
        try:
            supervisor.start()
            supervisor.wait_ready()
        except BaseException:
            self._current = supervisor
            self._end_current("failed to start")
            raise
        return supervisor

    def _end_current(self, reason: str, keep_slot: bool = False) -> None:
        current, self._current = self._current, None
        try:
            if current is not None:
                current.stop(reason)
        finally:
            if self._slot is not None and not keep_slot:
                self._slot.release()
                self._slot = None
