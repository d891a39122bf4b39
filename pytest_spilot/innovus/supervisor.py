"""The session-backend extension point: what a supervisor of one Innovus session can do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pytest_spilot.errors import SpilotError
from pytest_spilot.redact import Redactor

# The protocol's pydantic models only when a session runs (the session module, imported in
# every process, needs this one).
if TYPE_CHECKING:
    from pytest_spilot.innovus.protocol import Ack, Ready
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.siteconfig import InnovusConfig


class Health(StrEnum):
    HEALTHY = "healthy"
    NO_HEARTBEAT = "no_heartbeat"  # started, no heartbeat yet
    HEARTBEAT_LOST = "heartbeat_lost"  # the heartbeat stopped advancing
    EXITED = "exited"  # ended cleanly (after a stop)
    CRASHED = "crashed"  # ended by itself with an error or a signal


class SessionError(SpilotError):
    """A session that cannot start, never became ready, or was lost."""


@dataclass(frozen=True)
class SessionSpec:
    """Everything a backend needs to start one session."""

    run_dir: Path
    config: InnovusConfig
    launcher: Launcher
    skill_dirs: list[Path] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=dict)
    name: str = "spilot-innovus"
    secrets: Redactor = field(default_factory=Redactor)  # the process's set; the config's added


class Supervisor(Protocol):
    """One session: started, fed requests, watched, stopped. Never raises for a failed request."""

    run_dir: Path

    @property
    def lost(self) -> str | None:
        """Why the session was lost (set with a SESSION_LOST or TIMEOUT ack); None while usable.

        A lost session takes no more requests: the owner starts a new one.
        """
        ...

    def start(self) -> None:
        """Create the run directory and start the session process (returns at once)."""
        ...

    def wait_ready(self, timeout_s: float | None = None) -> Ready:
        """Block until ``session/ready``; SessionError when it exits or times out first."""
        ...

    def submit(self, script: str, args: Mapping[str, Any], timeout_s: float | None = None) -> Ack:
        """Run ``script`` (a path under ``scripts/``) and return its ack.

        A session that dies or stops beating while the request is outstanding yields a
        ``SESSION_LOST`` ack at once, with a debug bundle named in its message.
        """
        ...

    def poll_health(self) -> Health: ...

    def stop(self, reason: str = "") -> None:
        """Ask for a clean exit (finish the current request), kill the session if it ignores it."""
        ...

    def collect_logs(self) -> dict[str, Path]:
        """The session's log files that exist, by name."""
        ...


class SessionBackend(Protocol):
    """How sessions are started: ``pseudo``, ``tcl``, ``real``, or a plugin's."""

    name: ClassVar[str]

    def create(self, spec: SessionSpec) -> Supervisor: ...
