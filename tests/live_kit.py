"""Release folders for the live view's tests: made with the core's own journal and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pytest_spilot.core.journal import (
    GateDecided,
    JournalWriter,
    RegressionJudged,
    RunFinished,
    RunStarted,
    ThresholdJudged,
)
from pytest_spilot.core.state import (
    RegressionRecord,
    ReleaseState,
    RunRecord,
    ThresholdRecord,
    ValidationInfo,
)
from pytest_spilot.core.store import ReleaseStore


@dataclass
class Val:
    """One validation's run in a made release."""

    key: str
    metrics: dict[str, float]
    outcome: str = "passed"
    message: str = ""
    directions: dict[str, str] = field(default_factory=dict)
    thresholds: list[tuple[str, str, float, str]] = field(default_factory=list)  # metric, op, ...
    regressed: list[str] | None = None  # None: no regressions verdict
    log_lines: list[str] = field(default_factory=list)


def make_release(folder: Path, version: str, at: datetime, vals: list[Val]) -> ReleaseState:
    """Journal ``vals`` as release ``version`` of ``folder`` (runs starting at ``at``), fold it."""
    store = ReleaseStore(folder / f"{version}.json", version)
    writer: JournalWriter = store.writer("gw0", folder)
    for val in vals:
        run_dir = folder / "runs" / version / val.key.replace("::", "_").replace("/", "_")
        run_dir.mkdir(parents=True, exist_ok=True)
        log = run_dir / "job.log"
        log.write_text("".join(f"{line}\n" for line in val.log_lines))
        info = ValidationInfo(
            key=val.key,
            id=val.key.rsplit("::", 1)[-1],
            name=val.key.rsplit("::", 1)[-1],
            file=val.key.rsplit("::", 1)[0],
            kind="command",
            thresholds_declared=[f"{m}{op}{e:g}" for m, op, e, _ in val.thresholds],
            regressions_declared=val.regressed is not None,
        )
        writer.write(
            RunStarted(validation=info, started=at, worker="gw0", host="h", location="local")
        )
        run = RunRecord(
            outcome=val.outcome,  # type: ignore[arg-type]
            exit_code=0 if val.outcome == "passed" else 1,
            message=val.message,
            started=at,
            finished=at + timedelta(seconds=3),
            duration_s=3.0,
            run_dir=str(run_dir),
            log=str(log),
            metrics=val.metrics,
            directions=val.directions,  # type: ignore[arg-type]
            command=["sh", "-c", "true"],
        )
        writer.write(RunFinished(key=val.key, run=run, verdict="unfinished"))
        for metric, op, expected, outcome in val.thresholds:
            record = ThresholdRecord(
                id=f"{metric}{op}{expected:g}",
                metric=metric,
                op=op,
                outcome=outcome,  # type: ignore[arg-type]
                value=val.metrics.get(metric),
                expected=expected,
                message="" if outcome == "passed" else f"{metric} is not {op} {expected:g}",
            )
            writer.write(
                ThresholdJudged(key=val.key, run_started=at, threshold=record, verdict="unfinished")
            )
        if val.regressed is not None:
            judged = RegressionRecord(
                outcome="failed" if val.regressed else "passed",
                regressed=val.regressed,
                message=f"regressed: {', '.join(val.regressed)}" if val.regressed else "",
            )
            writer.write(
                RegressionJudged(
                    key=val.key, run_started=at, regressions=judged, verdict="unfinished"
                )
            )
    writer.write(GateDecided(key="smoke", outcome="passed"))
    writer.close()
    state = store.fold().state
    assert state is not None
    return state
