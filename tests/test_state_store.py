"""The release state under concurrent writers, and its errors."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.state import RunRecord, StateStore, ValidationRecord


def record(key: str) -> ValidationRecord:
    t = datetime.now(UTC)
    run = RunRecord(
        outcome="passed",
        exit_code=0,
        started=t,
        finished=t,
        duration_s=0.0,
        run_dir="r",
        log="r/job.log",
    )
    return ValidationRecord(key=key, id=key, name=key, file="f.yaml", kind="command", run=run)


def write_many(path: str, worker: int, count: int) -> None:
    store = StateStore(Path(path), "v1")
    for i in range(count):
        key = f"w{worker}-{i}"
        store.update(key, lambda _, key=key: record(key))


def test_two_workers_500_results_each(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_many, args=(str(path), w, 500)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    state = StateStore(path, "v1").load()
    assert len(state.validations) == 1000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_state_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": "v1", "validations": {"k": {"id": 3}}}))
    with pytest.raises(SpilotError, match=r"state.json: not a valid release state"):
        StateStore(path, "v1").update("x", lambda _: record("x"))


def test_other_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateStore(path, "v1").update("a", lambda _: record("a"))
    with pytest.raises(SpilotError, match="holds release 'v1', not 'v2'"):
        StateStore(path, "v2").update("a", lambda _: record("a"))


def test_passed_needs_every_declared_threshold(tmp_path: Path) -> None:
    rec = record("a").model_copy(update={"thresholds_declared": ["m>=1"]})
    assert not rec.passed
