"""Folding a release's document and journal: idempotent, order-free, old documents load."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_spilot.core.journal import (
    JobStarted,
    JournalWriter,
    RegressionJudged,
    RunFinished,
    RunStarted,
    ThresholdJudged,
    ToolSeen,
    read_journal,
)
from pytest_spilot.core.state import (
    JobHandle,
    RegressionRecord,
    RunRecord,
    ThresholdRecord,
    ValidationInfo,
    ValidationRecord,
)
from pytest_spilot.core.store import ReleaseStore, fold, read_release
from pytest_spilot.errors import SpilotError

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def run(at: datetime, outcome: str = "passed") -> RunRecord:
    return RunRecord(
        outcome=outcome,  # type: ignore[arg-type]
        exit_code=0 if outcome == "passed" else 1,
        started=at,
        finished=at + timedelta(seconds=1),
        duration_s=1.0,
        run_dir="r",
        log="r/job.log",
        metrics={"v": 1.0},
    )


def info(key: str, *thresholds: str, regressions: bool = False) -> ValidationInfo:
    return ValidationInfo(
        key=key,
        id=key,
        name=key,
        file="f.yaml",
        kind="command",
        thresholds_declared=list(thresholds),
        regressions_declared=regressions,
    )


def threshold(tid: str, outcome: str = "passed") -> ThresholdRecord:
    return ThresholdRecord(id=tid, metric="v", op=">=", outcome=outcome)  # type: ignore[arg-type]


def journal_run(
    writer: JournalWriter, key: str, at: datetime, *verdicts: str, outcome: str = "passed"
) -> None:
    """A run of ``key`` started at ``at`` with threshold ``verdicts`` ('id' or 'id:failed')."""
    writer.write(
        RunStarted(validation=info(key, "v>=1"), started=at, worker="w", host="h", location="local")
    )
    writer.write(RunFinished(key=key, run=run(at, outcome), verdict="unfinished"))
    for v in verdicts:
        tid, _, result = v.partition(":")
        writer.write(
            ThresholdJudged(
                key=key,
                run_started=at,
                threshold=threshold(tid, result or "passed"),
                verdict="passed",
            )
        )


@pytest.fixture
def store(tmp_path: Path) -> ReleaseStore:
    return ReleaseStore(tmp_path / ".spilot" / "v1.json", "v1")


def test_run_and_verdicts_fold_into_a_passed_record(store: ReleaseStore, tmp_path: Path) -> None:
    writer = store.writer("gw0", tmp_path)
    journal_run(writer, "a", T0, "v>=1")
    writer.write(ToolSeen(name="tclsh", version="8.6.13"))
    state = store.read().state
    assert state is not None
    record = state.validations["a"]
    assert record.verdict == "passed" and record.passed
    assert state.provenance.tools == {"tclsh": "8.6.13"}
    assert state.provenance.hosts and state.provenance.plugin_version
    assert not store.path.exists()  # reading writes nothing


def test_fold_is_idempotent_and_keeps_files_of_live_writers(
    store: ReleaseStore, tmp_path: Path
) -> None:
    writer = store.writer("gw0", tmp_path)
    journal_run(writer, "a", T0, "v>=1")
    first = store.fold()
    assert first.state is not None
    assert writer.path is not None and writer.path.exists()  # still being written
    second = store.fold()
    assert second.state is not None
    assert second.state.validations == first.state.validations
    writer.close()
    third = store.fold()
    assert third.state is not None and third.state.validations == first.state.validations
    assert not writer.path.exists()  # folded and done: removed
    assert store.read().state.validations == first.state.validations  # type: ignore[union-attr]


def test_order_of_files_does_not_matter_and_a_later_run_replaces(
    store: ReleaseStore, tmp_path: Path
) -> None:
    early = store.writer("gw0", tmp_path)
    journal_run(early, "a", T0, "v>=1:failed")
    late = store.writer("gw1", tmp_path)
    journal_run(late, "a", T0 + timedelta(minutes=5), "v>=1")
    # A verdict on the first run that arrives after the second run started is dropped.
    early.write(
        ThresholdJudged(
            key="a", run_started=T0, threshold=threshold("v>=1", "failed"), verdict="failed"
        )
    )
    files = list(read_journal(store.journal_dir))
    forward = fold(None, files, "v1").state
    backward = fold(None, files[::-1], "v1").state
    assert forward is not None and backward is not None
    assert forward.validations == backward.validations
    assert forward.validations["a"].verdict == "passed"
    assert forward.validations["a"].run_started == T0 + timedelta(minutes=5)


def test_regression_verdict_counts(store: ReleaseStore, tmp_path: Path) -> None:
    writer = store.writer("gw0", tmp_path)
    writer.write(
        RunStarted(
            validation=info("a", regressions=True),
            started=T0,
            worker="w",
            host="h",
            location="local",
        )
    )
    writer.write(RunFinished(key="a", run=run(T0), verdict="unfinished"))
    assert store.read().state.validations["a"].verdict == "unfinished"  # type: ignore[union-attr]
    writer.write(
        RegressionJudged(
            key="a",
            run_started=T0,
            verdict="failed",
            regressions=RegressionRecord(outcome="failed", regressed=["v"]),
        )
    )
    record = store.read().state.validations["a"]  # type: ignore[union-attr]
    assert record.verdict == "failed" and not record.passed


def test_a_run_that_never_finished_is_unfinished(store: ReleaseStore, tmp_path: Path) -> None:
    writer = store.writer("gw0", tmp_path)
    writer.write(
        RunStarted(validation=info("a"), started=T0, worker="w", host="h", location="local")
    )
    record = store.read().state.validations["a"]  # type: ignore[union-attr]
    assert record.run is None and record.verdict == "unfinished"


def test_jobs_of_a_run_are_kept_until_it_finishes(store: ReleaseStore, tmp_path: Path) -> None:
    writer = store.writer("gw0", tmp_path)
    job = JobHandle(launcher="local", host="h", owner_pid=1, pgid=42, token="t")
    writer.write(
        RunStarted(validation=info("a"), started=T0, worker="w", host="h", location="local")
    )
    writer.write(JobStarted(key="a", run_started=T0, job=job))
    writer.write(JobStarted(key="a", run_started=T0 - timedelta(hours=1), job=job))  # stale
    assert store.read().state.validations["a"].jobs == [job]  # type: ignore[union-attr]
    writer.write(RunFinished(key="a", run=run(T0), verdict="passed"))
    assert store.read().state.validations["a"].jobs == []  # type: ignore[union-attr]


def test_document_of_the_previous_version_still_loads(tmp_path: Path) -> None:
    """A state file as the state-file version of the plugin wrote it (schema_version 1)."""
    path = tmp_path / "old.json"
    rec = run(T0).model_dump(mode="json")
    for new_field in ("directions", "margins"):
        rec.pop(new_field)
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "version": "2026.11",
                "created": T0.isoformat(),
                "updated": T0.isoformat(),
                "validations": {
                    "f.yaml::a": {
                        "key": "f.yaml::a",
                        "id": "a",
                        "name": "a",
                        "file": "f.yaml",
                        "kind": "command",
                        "gate": False,
                        "params": {},
                        "thresholds_declared": ["v>=1"],
                        "run": rec,
                        "thresholds": {"v>=1": threshold("v>=1").model_dump(mode="json")},
                    }
                },
            }
        )
    )
    state = read_release(path)
    assert state is not None and state.validations["f.yaml::a"].passed
    assert json.loads(path.read_text())["validations"]["f.yaml::a"]["verdict"] == "passed"


def test_corrupt_document_is_a_clear_error(store: ReleaseStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": "v1", "validations": {"k": {"id": 3}}}))
    with pytest.raises(SpilotError, match=r"v1.json: not a valid release state"):
        store.read()


def test_other_version_is_refused(store: ReleaseStore, tmp_path: Path) -> None:
    journal_run(store.writer("gw0", tmp_path), "a", T0)
    store.fold()
    with pytest.raises(SpilotError, match="holds release 'v1', not 'v2'"):
        ReleaseStore(store.path, "v2").read()


def test_passed_needs_every_declared_threshold() -> None:
    rec = ValidationRecord(**dict(info("a", "m>=1")), run=run(T0))
    assert rec.verdict == "unfinished" and not rec.passed


def test_document_honours_the_umask(store: ReleaseStore, tmp_path: Path) -> None:
    journal_run(store.writer("gw0", tmp_path), "a", T0)
    old = os.umask(0o022)
    try:
        code = "import sys\nfrom pathlib import Path\n"
        code += "from pytest_spilot.core.store import ReleaseStore\n"
        code += "ReleaseStore(Path(sys.argv[1]), 'v1').fold()\n"
        subprocess.run([sys.executable, "-c", code, str(store.path)], check=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644
