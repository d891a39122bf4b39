"""Regressions against a baseline release: directions, margins, the table and spilot compare."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_spilot.cli.main import main
from pytest_spilot.core.regressions import compare_runs, compare_states, judge_change
from pytest_spilot.core.state import ReleaseState, RunRecord, ValidationRecord

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def run(metrics: dict[str, float], **directions: str) -> RunRecord:
    return RunRecord(
        outcome="passed",
        started=NOW,
        finished=NOW,
        duration_s=1.0,
        run_dir="r",
        log="l",
        metrics=metrics,
        directions=directions,
    )


def state(version: str, metrics: dict[str, float], **directions: str) -> ReleaseState:
    key = "validations/plan.yaml::counter"
    record = ValidationRecord(
        key=key,
        id="counter",
        name="counter",
        file="validations/plan.yaml",
        kind="command",
        run=run(metrics, **directions),
    )
    return ReleaseState(version=version, validations={key: record})


@pytest.mark.parametrize(
    ("old", "new", "direction", "verdict"),
    [
        (100, 106, "lower_is_better", "regressed"),  # 6 % worse, default margin 5 %
        (100, 104, "lower_is_better", "worse"),  # 4 % worse: allowed
        (100, 94, "higher_is_better", "regressed"),
        (100, 120, "higher_is_better", "better"),
        (-0.10, -0.106, "higher_is_better", "regressed"),  # a slack 6 % further below zero
        (-0.10, -0.104, "higher_is_better", "worse"),
        (0, 1, "lower_is_better", "regressed"),  # from zero DRC errors any worsening counts
        (5, 5, "lower_is_better", "same"),
        (5, 9, None, "no direction"),
    ],
)
def test_judge_change(old: float, new: float, direction: str | None, verdict: str) -> None:
    assert judge_change(old, new, direction, 0.05) == verdict


def test_margins_per_metric_and_new_and_gone_metrics() -> None:
    old = run({"area": 100.0, "cells": 50, "gone": 1})
    new = run(
        {"area": 106.0, "cells": 53, "fresh": 2}, area="lower_is_better", cells="lower_is_better"
    )
    new.margins["cells"] = 0.10
    changes = {c.metric: c for c in compare_runs("counter", old, new)}
    assert changes["area"].verdict == "regressed" and changes["area"].change == "+6.0%"
    assert changes["cells"].verdict == "worse"  # 6 % within its own 10 %
    assert changes["gone"].verdict == "gone" and changes["fresh"].verdict == "new"


def test_spilot_compare_table_json_and_exit_code(tmp_path: Path, capsys) -> None:
    old = tmp_path / "2026.10.json"
    new = tmp_path / "2026.11.json"
    old.write_text(state("2026.10", {"area": 100, "wns": 0.2}).model_dump_json())
    new.write_text(
        state(
            "2026.11", {"area": 106, "wns": 0.3}, area="lower_is_better", wns="higher_is_better"
        ).model_dump_json()
    )
    assert main(["compare", str(old), str(new)]) == 1
    table = capsys.readouterr().out
    assert "release 2026.10 -> 2026.11" in table
    assert "counter     area    100  106  +6.0%   lower_is_better   REGRESSED" in table
    assert "1 regression in 2 metrics" in table
    assert main(["compare", str(old), str(new), "--json", "--margin", "10"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["area"]["verdict"] == "worse" and rows["wns"]["verdict"] == "better"
    assert main(["compare", str(old), str(tmp_path / "nope.json")]) == 2
    assert "no such release state" in capsys.readouterr().err


def test_compare_states_only_validations_in_both() -> None:
    a = state("a", {"x": 1})
    b = state("b", {"x": 2}, x="lower_is_better")
    b.validations["validations/plan.yaml::only_new"] = b.validations[
        "validations/plan.yaml::counter"
    ].model_copy(update={"key": "validations/plan.yaml::only_new", "id": "only_new"})
    assert [c.validation for c in compare_states(a, b)] == ["counter"]
