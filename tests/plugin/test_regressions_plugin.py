"""--spilot-regressions end to end: two releases, a 6 % worse metric fails, 4 % passes."""

from __future__ import annotations

import json

import pytest
from junit_kit import outcomes, properties

from pytest_spilot.cli.main import main

PLAN = """
version: 1
defaults:
  regressions: {area: {direction: lower_is_better}}
validations:
  - name: six
    run: 'echo "AREA=$((100 + 6 * $STEP))"'
    metrics: {area: {regex: 'AREA=([0-9]+)'}}
  - name: four
    run: 'echo "AREA=$((100 + 4 * $STEP))"'
    metrics: {area: {regex: 'AREA=([0-9]+)'}}
  - name: six_with_room
    regressions: {area: {margin: 0.10}}
    run: 'echo "AREA=$((100 + 6 * $STEP))"'
    metrics: {area: {regex: 'AREA=([0-9]+)'}}
"""


def test_regressions_against_the_previous_release(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".yaml", **{"validations/plan": PLAN})
    monkeypatch.setenv("STEP", "0")
    pytester.runpytest_subprocess("--spilot-version", "r1").assert_outcomes(passed=3)
    monkeypatch.setenv("STEP", "1")
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        "--spilot-version",
        "r2",
        "--spilot-baseline",
        "r1",
        "--spilot-regressions",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
    )
    assert outcomes(junit) == {
        "six::run": "passed",
        "six::regressions": "failed",
        "four::run": "passed",
        "four::regressions": "passed",
        "six_with_room::run": "passed",
        "six_with_room::regressions": "passed",
    }
    result.stdout.fnmatch_lines(
        [
            "*1 metric regressed against the baseline r1:*",
            "*area 100 -> 106 (+6.0%, lower_is_better, margin 5%): regressed*",
        ]
    )
    assert "worse" in properties(junit, "four::regressions")["regression.area"]
    # Without a baseline the option says what is missing.
    alone = pytester.runpytest_subprocess("--spilot-version", "r3", "--spilot-regressions")
    alone.assert_outcomes(passed=3, failed=3)
    assert "pass --spilot-baseline PATH|VERSION" in alone.stdout.str()


LEVELS_PLAN = """
version: 1
defaults:
  regressions: {design__instance__area: {direction: lower_is_better}}
validations:
  - name: warns
    run: 'echo "AREA=$((100 + 10 * $STEP))"'
    metrics: {design__instance__area: {regex: 'AREA=([0-9]+)'}}
  - name: strict
    noncritical_regressions: error
    run: 'echo "AREA=$((100 + 10 * $STEP))"'
    metrics: {design__instance__area: {regex: 'AREA=([0-9]+)'}}
"""


def test_spilot_compare_reaches_the_runs_verdict_without_librelane(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("librelane.common.metrics", reason="LibreLane's metric library")
    pytester.makefile(".yaml", **{"validations/plan": LEVELS_PLAN})
    monkeypatch.setenv("STEP", "0")
    pytester.runpytest_subprocess("--spilot-version", "r1").assert_outcomes(passed=2)
    monkeypatch.setenv("STEP", "1")
    junit = pytester.path / "out.xml"
    pytester.runpytest_subprocess(
        *("--spilot-version", "r2", "--spilot-baseline", "r1", "--spilot-regressions"),
        *("-o", "junit_family=xunit1", f"--junitxml={junit}"),
    )
    run_verdicts = {k: v for k, v in outcomes(junit).items() if k.endswith("::regressions")}
    assert run_verdicts == {"warns::regressions": "passed", "strict::regressions": "failed"}
    # Compared where LibreLane is not installed: the run's verdict, from the run's record.
    monkeypatch.chdir(pytester.path)
    monkeypatch.setattr("pytest_spilot.librelane.results.metric_direction", lambda name: None)
    capsys.readouterr()
    assert main(["compare", "r1", "r2", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert {r["validation"].rsplit("::", 1)[1]: r["level"] for r in rows} == {
        "warns": "warning",
        "strict": "error",
    }
