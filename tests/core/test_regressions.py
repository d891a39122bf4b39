"""Regressions against a baseline release: directions, margins, the table and spilot compare."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_spilot.cli.main import main
from pytest_spilot.core.regressions import (
    MetricChange,
    compare_runs,
    compare_states,
    judge_change,
    levels_for,
    regression_level,
    render_table,
    run_levels,
    summarize,
)
from pytest_spilot.core.state import ReleaseState, RunRecord, ValidationRecord
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.model import RegressionRule

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
    assert (
        "validations/plan.yaml::counter  area    100  106  +6.0%   lower_is_better   REGRESSED"
        in table
    )
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
    assert [c.validation for c in compare_states(a, b)] == ["validations/plan.yaml::counter"]


def test_compare_rows_are_keyed_by_the_validations_key() -> None:
    a, b = state("a", {"x": 1}), state("b", {"x": 2}, x="lower_is_better")
    for release in (a, b):
        # The same id in a second plan file: a row named by the id alone would be ambiguous.
        record = release.validations["validations/plan.yaml::counter"]
        other = "validations/other.yaml::counter"
        release.validations[other] = record.model_copy(update={"key": other})
    assert [c.validation for c in compare_states(a, b)] == [
        "validations/other.yaml::counter",
        "validations/plan.yaml::counter",
    ]


# -- how much a regression weighs: LibreLane's ``critical`` -----------------------------------


def _regressed(metric: str, **levels: object) -> MetricChange:
    old = run({metric: 10.0}, **{metric: "lower_is_better"})
    new = run({metric: 20.0})
    (change,) = compare_runs("v", old, new, **levels)  # type: ignore[arg-type]
    assert change.verdict == "regressed"
    return change


def test_a_critical_librelane_metric_fails_a_noncritical_one_warns() -> None:
    pytest.importorskip("librelane.common.metrics", reason="LibreLane's metric library")
    drc = _regressed("route__drc_errors")
    assert (drc.level, drc.failed, drc.warned) == ("error", True, False)
    assert drc.why_level == "LibreLane marks it critical"
    area = _regressed("design__instance__area")
    assert (area.level, area.failed, area.warned) == ("warning", False, True)
    assert area.line().endswith("regressed (warning: not critical in LibreLane's metric library)")
    # Per corner: the base metric's definition.
    assert _regressed("timing__setup_vio__count__corner:nom_tt_025C_1v80").failed
    # A metric LibreLane does not define fails as before.
    assert _regressed("area").failed


def test_the_validation_and_its_rules_decide_over_the_default() -> None:
    pytest.importorskip("librelane.common.metrics", reason="LibreLane's metric library")
    strict = levels_for({}, noncritical="error")
    assert _regressed("design__instance__area", level_of=strict).failed
    rules = {
        "route__drc_errors": RegressionRule(level="warning"),
        "area": RegressionRule(direction="lower_is_better", level="warning"),
    }
    lenient = levels_for(rules)
    assert _regressed("route__drc_errors", level_of=lenient).warned
    assert _regressed("area", level_of=lenient).warned
    assert _regressed("area", level_of=lenient).why_level == "level warning in its regression rule"


def test_without_librelane_every_regression_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pytest_spilot.librelane.results.metric_direction", lambda name: None)
    assert regression_level("design__instance__area") == ("error", "")
    assert _regressed("design__instance__area").failed


def test_compare_weighs_as_the_run_recorded_with_or_without_librelane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = state("r1", {"design__instance__area": 100, "route__drc_errors": 0})
    new = state(
        "r2",
        {"design__instance__area": 110, "route__drc_errors": 1},
        design__instance__area="lower_is_better",
        route__drc_errors="lower_is_better",
    )
    record = new.validations["validations/plan.yaml::counter"].run
    assert record is not None
    record.levels = {"design__instance__area": "error", "route__drc_errors": "warning"}

    def levels() -> dict[str, tuple[str, bool]]:
        return {c.metric: (c.level, c.failed) for c in compare_states(old, new)}

    # noncritical_regressions: error and a rule's level: warning, as the run decided them.
    recorded = {"design__instance__area": ("error", True), "route__drc_errors": ("warning", False)}
    assert levels() == recorded
    monkeypatch.setattr("pytest_spilot.librelane.results.metric_direction", lambda name: None)
    assert levels() == recorded
    # A document from before levels were recorded: weighed as then (no LibreLane: all fail).
    record.levels = None
    assert levels() == {
        "design__instance__area": ("error", True),
        "route__drc_errors": ("error", True),
    }


def test_run_levels_are_the_validations_verdict_per_metric() -> None:
    """From what the run's tool said (RunOutcome.critical): no LibreLane needed here."""
    metrics = ["design__instance__area", "route__drc_errors", "area"]
    critical = {"design__instance__area": False, "route__drc_errors": True}
    assert run_levels(metrics, {}, critical=critical) == {
        "area": "error",
        "design__instance__area": "warning",
        "route__drc_errors": "error",
    }
    rules = {"route__drc_errors": RegressionRule(level="warning")}
    assert run_levels(metrics, rules, "error", critical) == {
        "area": "error",
        "design__instance__area": "error",
        "route__drc_errors": "warning",
    }
    # A command's own metric names fail, and never load LibreLane to find that out.
    code = (
        "import sys\n"
        "from pytest_spilot.core.regressions import run_levels\n"
        "assert run_levels(['area', 'sps'], {}) == {'area': 'error', 'sps': 'error'}\n"
        "assert not [m for m in sys.modules if m.startswith('librelane')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_summary_fails_on_errors_and_warns_on_the_rest() -> None:
    def change(metric: str, verdict: str, level: str) -> MetricChange:
        return MetricChange("v", metric, 1.0, 2.0, "lower_is_better", 0.05, verdict, level)  # type: ignore[arg-type]

    both = summarize([change("a", "regressed", "error"), change("b", "regressed", "warning")], "r1")
    assert (both.outcome, both.failed, both.warned) == ("failed", ["a"], ["b"])
    assert both.message == "1 metric regressed against the baseline r1 (1 metric more as warnings)"
    warn = summarize([change("b", "regressed", "warning"), change("c", "worse", "error")], "r1")
    assert warn.outcome == "warning"
    assert warn.message.startswith("1 metric regressed against the baseline r1, none critical")
    assert "noncritical_regressions: error" in warn.message
    calm = summarize([change("c", "worse", "error")], "r1")
    assert (calm.outcome, calm.message) == ("passed", "no regression against the baseline r1")
    table = render_table([change("b", "regressed", "warning")], "t")
    assert "regressed (warning)" in table
    assert table.endswith("1 regression in 1 metrics (1 not critical: warnings)")


def test_noncritical_regressions_is_a_validation_setting_with_a_file_default(
    tmp_path: Path,
) -> None:
    from pytest_spilot.plan.loader import load_validation_file

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\n"
        "defaults: {noncritical_regressions: error}\n"
        "validations:\n"
        "  - {name: a, run: ['true']}\n"
        "  - name: b\n"
        "    run: ['true']\n"
        "    noncritical_regressions: warning\n"
        "    regressions: {route__drc_errors: {level: warning}}\n"
    )
    a, b = load_validation_file(plan).validations
    assert (a.noncritical_regressions, b.noncritical_regressions) == ("error", "warning")
    assert b.regressions["route__drc_errors"].level == "warning"
    plan.write_text(
        "version: 1\nvalidations:\n  - {name: a, run: ['true'], noncritical_regressions: fail}\n"
    )
    with pytest.raises(SpilotError, match="'fail' is not allowed; use one of 'error' or 'warning'"):
        load_validation_file(plan)
