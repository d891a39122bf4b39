"""What the live page and the HTML report show: one release's validations, the history of its
metrics and a comparison of two releases, as JSON the page renders (``spilot schema live``).

The server sends a ``ReleaseView`` first, then ``RowsChanged`` messages as journal events land;
the HTML report embeds one ``ReportData``. The page never asks for anything twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from pytest_spilot.core.state import Progress, RegressionRecord, ThresholdRecord
from pytest_spilot.innovus.evidence import CompatibilityGate

Status = Literal["queued", "waiting", "running", "passed", "failed", "warning", "skipped"]


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValidationRow(_View):
    """One validation of the release as it stands now."""

    key: str
    id: str = Field(description="the pytest id: file::name::run[params]")
    name: str
    file: str
    kind: str
    gate: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    status: Status
    waiting_for: str = Field("", description="what a waiting validation waits for")
    worker: str = ""
    host: str = ""
    location: str = Field("", description="where the job runs: local, a node, srun, innovus:tcl")
    node: str | None = None
    job_id: str | None = Field(None, description="the batch system's job id, once known")
    started: datetime | None = None
    finished: datetime | None = None
    elapsed_s: float | None = Field(None, description="at the time the view was made")
    progress: Progress | None = Field(None, description="a LibreLane run's step i/n and stage")
    metrics: dict[str, float] = Field(default_factory=dict)
    thresholds: list[ThresholdRecord] = Field(default_factory=list)
    regressions: RegressionRecord | None = None
    message: str = Field("", description="why it failed or was skipped")
    log: str | None = Field(None, description="the job log, relative to the served folder")
    log_tail: list[str] = Field(default_factory=list, description="a failure's last log lines")
    rerun: str = Field("", description="a shell command that runs it again")
    evidence: list[CompatibilityGate] = Field(
        default_factory=list, description="a migration gate's evidence matrix"
    )


class ReleaseSummary(_View):
    """One release of the served folder, for the list of releases."""

    version: str
    created: datetime | None = None
    updated: datetime | None = None
    running: bool = Field(description="a process is still writing its journal")
    counts: dict[Status, int] = Field(default_factory=dict)


class ReleaseView(_View):
    """A whole release: the first message of the live stream, and the report's main table."""

    type: Literal["release"] = "release"
    summary: ReleaseSummary
    rows: list[ValidationRow]
    gates: dict[str, str] = Field(default_factory=dict, description="gate: passed | failed")
    warnings: list[str] = Field(default_factory=list, description="torn or foreign journal lines")


class RowsChanged(_View):
    """The rows an event changed (whole rows: the page replaces them by key)."""

    type: Literal["rows"] = "rows"
    summary: ReleaseSummary
    rows: list[ValidationRow]
    seq: int = Field(description="increases by one per message of a stream")


class LogLines(_View):
    """New lines of one validation's log (the first message holds its tail)."""

    type: Literal["log"] = "log"
    key: str
    lines: list[str]


class MetricPoint(_View):
    version: str
    value: float | None
    regressed: bool = False


class MetricSeries(_View):
    """One metric of one validation across the releases of the folder, oldest first."""

    key: str
    metric: str
    direction: Literal["higher_is_better", "lower_is_better"] | None = None
    threshold_op: str | None = None
    threshold: float | None = Field(None, description="the latest release's expected value")
    points: list[MetricPoint]


class CompareRow(_View):
    """One metric of ``spilot compare OLD NEW``."""

    key: str
    metric: str
    old: float | None
    new: float | None
    change: str = ""
    verdict: str


class HistoryView(_View):
    type: Literal["history"] = "history"
    versions: list[str] = Field(description="oldest first")
    series: list[MetricSeries]


class CompareView(_View):
    type: Literal["compare"] = "compare"
    old: str
    new: str
    rows: list[CompareRow]


class ReportData(_View):
    """What ``spilot report VERSION --html`` embeds: the page without its live parts."""

    release: ReleaseView
    history: HistoryView
    compare: CompareView | None = None
    generated: datetime


class LiveMessage(
    RootModel[
        Annotated[
            ReleaseView | RowsChanged | LogLines | HistoryView | CompareView,
            Field(discriminator="type"),
        ]
    ]
):
    """One message the live page receives: a stream's ``data:`` or an API answer."""

    model_config = ConfigDict(json_schema_extra={"type": "object"})
