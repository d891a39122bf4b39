"""The release state: one JSON document per version, updated after every item by every worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_spilot.atomic import write_atomic
from pytest_spilot.errors import SpilotError


def now() -> datetime:
    return datetime.now(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThresholdRecord(_Record):
    """The verdict of one acceptance threshold."""

    id: str
    metric: str
    op: str
    outcome: Literal["passed", "failed", "warning"]
    value: float | None = None
    expected: float | None = None
    baseline: float | None = None
    tolerance: float | None = None
    level: Literal["error", "warning"] = "error"
    message: str = ""
    finished: datetime = Field(default_factory=now)


class RunRecord(_Record):
    """What one run of a validation's job did and left behind."""

    outcome: Literal["passed", "failed"]
    exit_code: int | None = None
    timed_out: bool = False
    message: str = ""
    location: str = "local"
    command: list[str] = Field(default_factory=list)
    started: datetime
    finished: datetime
    duration_s: float
    attempts: int = 1
    retried_because: list[str] = Field(
        default_factory=list, description="why each earlier attempt was retried"
    )
    job_id: str | None = Field(None, description="the batch system's job id (srun, bsub, ...)")
    run_dir: str
    log: str
    artifacts: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    missing_metrics: dict[str, str] = Field(default_factory=dict, description="metric: why")
    directions: dict[str, Literal["higher_is_better", "lower_is_better"]] = Field(
        default_factory=dict, description="which way each metric should move, where known"
    )
    margins: dict[str, float] = Field(
        default_factory=dict, description="allowed worsening per metric, where not the default"
    )


class ValidationRecord(_Record):
    """A validation (after matrix expansion) in one release: its run and its thresholds."""

    key: str
    id: str
    name: str
    file: str
    kind: str
    gate: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    thresholds_declared: list[str] = Field(default_factory=list)
    run: RunRecord | None = None
    thresholds: dict[str, ThresholdRecord] = Field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """The run passed and every declared threshold has a recorded, non-failing verdict."""
        if self.run is None or self.run.outcome != "passed":
            return False
        return all(
            t in self.thresholds and self.thresholds[t].outcome != "failed"
            for t in self.thresholds_declared
        )

    @property
    def finished(self) -> datetime | None:
        times = [t.finished for t in self.thresholds.values()]
        if self.run:
            times.append(self.run.finished)
        return max(times, default=None)


class ReleaseState(_Record):
    """All results of one release version."""

    schema_version: Literal[1] = 1
    version: str
    created: datetime = Field(default_factory=now)
    updated: datetime = Field(default_factory=now)
    validations: dict[str, ValidationRecord] = Field(default_factory=dict)


def read_state(path: Path) -> ReleaseState | None:
    """Load a state file; None if it does not exist; SpilotError if it is not a valid state."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return ReleaseState.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SpilotError(
            f"{path}: not a valid release state ({field}: {first['msg']}); it was written by "
            "another tool or edited by hand: move it away or point --spilot-state elsewhere"
        ) from None


class StateStore:
    """Read-modify-write of one release's state file under a file lock (safe across workers)."""

    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.version = version
        self._lock = FileLock(str(path) + ".lock")
        self._checked = False

    def load(self) -> ReleaseState:
        state = read_state(self.path)
        if state is None:
            return ReleaseState(version=self.version)
        if state.version != self.version:
            raise SpilotError(
                f"{self.path} holds release {state.version!r}, not {self.version!r}; give each "
                "version its own --spilot-state file (the default is .spilot/<version>.json)"
            )
        return state

    def update(
        self, key: str, change: Callable[[ValidationRecord | None], ValidationRecord]
    ) -> ValidationRecord:
        """Apply ``change`` to the record at ``key`` and save, atomically and durably."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            # Only the changed record goes through pydantic: validating and re-serialising the
            # whole release on every item made saving cost grow with the release's size.
            data = self._load_raw()
            current = data["validations"].get(key)
            record = change(None if current is None else ValidationRecord.model_validate(current))
            data["validations"][key] = record.model_dump(mode="json")
            data["updated"] = now().isoformat()
            write_atomic(self.path, json.dumps(data, separators=(",", ":")))
        return record

    def _load_raw(self) -> dict[str, Any]:
        if not self._checked:
            self.load()  # the whole file is validated once per process, with explained errors
            self._checked = True
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return ReleaseState(version=self.version).model_dump(mode="json")
        except ValueError:
            self.load()  # raises the full, explained error
            raise
        if not isinstance(data, dict) or not isinstance(data.get("validations"), dict):
            self.load()
            raise SpilotError(f"{self.path}: not a release state")
        if data.get("version") != self.version:
            self.load()
        return data
