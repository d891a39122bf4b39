"""The release document's records: what one release's journal folds into (see ``store``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator

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


class JobHandle(_Record):
    """A job a run started: enough for another process to end it after a crash."""

    launcher: str = Field(description="'local', an inventory node, or a grid launcher's name")
    host: str = Field(description="where the harness that started it ran")
    owner_pid: int = Field(description="that harness process: while it lives, the job is its")
    pgid: int | None = Field(None, description="process group (on `node` when one is named)")
    token: str | None = Field(None, description="SPILOT_JOB_TOKEN in its processes' environment")
    cgroup: str | None = Field(None, description="the job's own cgroup, where one was made")
    node: str | None = Field(None, description="the inventory node it runs on")
    job_name: str | None = Field(None, description="a batch job's unique name")
    job_id: str | None = Field(None, description="a batch job's id, once known")


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
    held: dict[str, int] = Field(
        default_factory=dict,
        description="tokens of the resource pools the job held: cpus, licence.<feature>",
    )
    waited_s: float = Field(0.0, description="seconds spent waiting for those tokens")
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
    levels: dict[str, Literal["error", "warning"]] | None = Field(
        None,
        description="what a regression of each metric does (fail or warn), decided when the run "
        "was made from the validation's regressions, noncritical_regressions and LibreLane's "
        "critical metrics; spilot compare weighs with it (absent: written before it existed)",
    )


class RegressionRecord(_Record):
    """The ``regressions`` verdict of one run against the baseline release."""

    outcome: Literal["passed", "failed", "warning"]
    message: str = ""
    regressed: list[str] = Field(default_factory=list, description="metrics that regressed")
    warned: list[str] = Field(
        default_factory=list,
        description="of those, the ones whose regression only warns (not LibreLane-critical)",
    )
    changes: list[str] = Field(default_factory=list, description="one line per compared metric")
    finished: datetime = Field(default_factory=now)


class Progress(_Record):
    """Where a LibreLane run of the validation got to (the last progress event)."""

    state: str
    step_index: int
    step_count: int
    step_id: str = ""
    stage: str = ""
    percent: float = 0.0
    message: str = ""


Verdict = Literal["passed", "failed", "unfinished"]


class ValidationInfo(_Record):
    """What a validation is (after matrix expansion): known before its job runs."""

    key: str
    id: str
    name: str
    file: str
    kind: str
    gate: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    thresholds_declared: list[str] = Field(default_factory=list)
    regressions_declared: bool = Field(
        False, description="a 'regressions' test judges this run (--spilot-regressions)"
    )


class ValidationRecord(ValidationInfo):
    """A validation in one release: its latest run and the verdicts judged on that run."""

    started: datetime | None = Field(None, description="when the latest run started")
    run: RunRecord | None = None
    thresholds: dict[str, ThresholdRecord] = Field(default_factory=dict)
    regressions: RegressionRecord | None = None
    progress: Progress | None = None
    jobs: list[JobHandle] = Field(
        default_factory=list,
        description="jobs the latest run started, until it finished: a resume ends them",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        # 'verdict' is written for readers of the document, and always recomputed on reading.
        if isinstance(data, dict) and "verdict" in data:
            data = {k: v for k, v in data.items() if k != "verdict"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> Verdict:
        """``failed`` on any failed part, ``passed`` once the run and every verdict due pass."""
        if self.run is None:
            return "unfinished"
        parts = [self.run.outcome, *(t.outcome for t in self.thresholds.values())]
        if self.regressions is not None:
            parts.append(self.regressions.outcome)
        if "failed" in parts:
            return "failed"
        if set(self.thresholds_declared) - set(self.thresholds) or (
            self.regressions_declared and self.regressions is None
        ):
            return "unfinished"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def run_started(self) -> datetime | None:
        """The latest run's start: what a verdict names to say which run it judged."""
        return self.run.started if self.run is not None else self.started

    @property
    def finished(self) -> datetime | None:
        times = [t.finished for t in self.thresholds.values()]
        if self.run:
            times.append(self.run.finished)
        if self.regressions:
            times.append(self.regressions.finished)
        return max(times, default=None)


class Provenance(_Record):
    """Where and with what a release's results were made."""

    plugin_version: str = ""
    git_commit: str | None = Field(None, description="HEAD of the plan's repository")
    hosts: list[str] = Field(default_factory=list)
    tools: dict[str, str] = Field(default_factory=dict, description="tool: version, as seen")


class GateDecision(_Record):
    """A gate's decision in the latest test run that evaluated it."""

    outcome: Literal["passed", "failed"]
    message: str = ""
    decided: datetime = Field(default_factory=now)


class ReleaseState(_Record):
    """All results of one release version: the document, i.e. its journal folded."""

    schema_version: Literal[1, 2] = 2
    version: str
    created: datetime = Field(default_factory=now)
    updated: datetime = Field(default_factory=now)
    provenance: Provenance = Field(default_factory=Provenance)
    gates: dict[str, GateDecision] = Field(default_factory=dict)
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
