"""Innovus in pytest: ``kind: innovus`` validations, the fixtures, and licence slots under xdist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from junit_kit import outcomes, properties

from pytest_spilot.core.store import ReleaseStore

DESIGNS = Path(__file__).resolve().parents[2] / "fixtures" / "innovus"

PLAN = f"""
version: 1
markers: [innovus]
validations:
  - name: clean_summary
    kind: innovus
    skill: summary_health
    design: {DESIGNS / "clean.json"}
    args: {{top: counter}}
    metrics:
      density: {{regex: 'utilization_pct[:=] *([0-9.]+)', file: reports/summary_health.rpt}}
    acceptance:
      - {{metric: setup_wns_ns, op: ">=", value: 0}}
      - {{metric: instance_count, op: ">", value: 0}}
  - name: violations
    kind: innovus
    skill: timing_health
    design: {DESIGNS / "setup_violations.json"}
    args: {{top: counter}}
    acceptance:
      - {{metric: setup_wns_ns, op: ">=", value: 0}}
  - name: corrupt
    kind: innovus
    skill: summary_health
    design: {DESIGNS / "corrupt.json"}
    args: {{top: counter}}
    acceptance:
      - {{metric: setup_wns_ns, op: ">=", value: 0}}
"""

EXPECTED = {
    "clean_summary::run": "passed",
    "clean_summary::setup_wns_ns>=0": "passed",
    "clean_summary::instance_count>0": "passed",
    "violations::run": "passed",
    "violations::setup_wns_ns>=0": "failed",
    "corrupt::run": "failed",
    "corrupt::setup_wns_ns>=0": "failed",
}


def backends() -> list[str]:
    return ["pseudo", "tcl"] if shutil.which("tclsh") else ["pseudo"]


@pytest.mark.parametrize("backend", backends())
def test_innovus_validations(pytester: pytest.Pytester, backend: str) -> None:
    pytester.makefile(".yaml", **{"validations/innovus": PLAN})
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        f"--spilot-backend={backend}", "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )
    assert outcomes(junit) == EXPECTED, result.stdout.str()
    # An unknown skill is refused at collection (pytest_spilot/plan/checks.py); the runner's
    # own refusal is in tests/innovus/test_runner.py.
    corrupt = properties(junit, "corrupt::run")
    assert "RESTORE_FAIL" in corrupt["summary"]
    clean = properties(junit, "clean_summary::run")
    assert float(clean["metric.instance_count"]) > 0
    assert float(clean["metric.density"]) == pytest.approx(float(clean["metric.utilization_pct"]))
    assert any(v.endswith("summary_health.rpt") for k, v in clean.items() if "artifact" in k)
    # The release's provenance names the tool the sessions ran on (the stand-in's tclsh).
    state = ReleaseStore(pytester.path / ".spilot" / "dev.json").read().state
    assert state is not None
    # Directions come from the contract, spelled as in validation files.
    run = state.validations["validations/innovus.yaml::clean_summary"].run
    assert run is not None
    assert run.directions["setup_wns_ns"] == "higher_is_better"
    assert run.directions["instance_count"] == "lower_is_better"
    tools = state.provenance.tools
    if backend == "tcl":
        assert tools["tclsh"][:1].isdigit(), tools  # info patchlevel: 8.6.13
    else:
        assert "tclsh" not in tools


def test_fixtures_and_session_reuse(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_skills=f"""
        from pathlib import Path

        def test_restore_and_summary(innovus_skill):
            r = innovus_skill("restore_design", check=True, design="{DESIGNS / "clean.json"}",
                              top="counter")
            s = innovus_skill("summary_health", check=True)
            assert s.metrics["health_ok"] == 1
            assert all(Path(p).is_file() for p in s.reports)

        def test_same_session(innovus_session, innovus_skill):
            # the design restored by the previous test is still loaded: one session per worker
            assert innovus_skill("drc_health").passed
            assert innovus_session.started == 1

        def test_failures_are_results(innovus_skill):
            assert innovus_skill("restore_design", design="/nonexistent.json",
                                 top="x").ack.error_type == "RESTORE_FAIL"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--spilot-backend=pseudo")
    result.assert_outcomes(passed=3)


def test_licence_slots_serialise_sessions_across_workers(pytester: pytest.Pytester) -> None:
    if not shutil.which("tclsh"):
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    for name in ("a", "b"):
        pytester.makepyfile(
            **{
                f"test_lic_{name}": """
                import time

                def test_hold(innovus_skill):
                    assert innovus_skill("noop").passed
                    time.sleep(1.0)
                """
            }
        )
    result = pytester.runpytest_subprocess(
        "-n", "2", "--spilot-backend=tcl", "--spilot-innovus-licenses=1"
    )
    result.assert_outcomes(passed=2)
    sessions = sorted((pytester.path / ".spilot" / "runs" / "dev" / "sessions").iterdir())
    assert [s.name for s in sessions] == ["gw0-01", "gw1-01"]
    spans = []
    for run in sessions:
        started = json.loads((run / "session" / "ready").read_text())["started_ts"]
        stopped = json.loads((run / "session" / "state.json").read_text())
        assert stopped["state"] == "stopped"
        spans.append((started, stopped["ts"]))
    (_, a_end), (b_start, _) = sorted(spans)
    assert a_end <= b_start, f"two sessions were live at once: {spans}"


def test_a_crash_fails_that_test_and_the_next_gets_a_new_session(pytester: pytest.Pytester) -> None:
    if not shutil.which("tclsh"):
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    pytester.makepyfile(
        test_crash="""
        import os, signal, threading

        def test_killed(innovus_session, innovus_skill):
            pid = innovus_session.supervisor().ready.pid
            threading.Timer(0.3, os.kill, args=(pid, signal.SIGKILL)).start()
            innovus_skill("spin", timeout_s=60)

        def test_next(innovus_session, innovus_skill):
            assert innovus_skill("noop").passed
            assert innovus_session.started == 2
        """
    )
    skills = Path(__file__).resolve().parents[2] / "fixtures" / "innovus" / "skills"
    pytester.makepyprojecttoml(f'[tool.spilot.innovus]\nskills = ["{skills}"]\n')
    result = pytester.runpytest_subprocess("--spilot-backend=tcl", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SESSION_LOST: the session process was killed by signal 9*"])
    result.stdout.fnmatch_lines(["*debug bundle: *.tar.gz*"])


def test_plan_names_the_backend_and_launcher(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/innovus": PLAN})
    pytester.makepyprojecttoml('[tool.spilot.innovus]\nlauncher = "srun"\nqueue = "eda"\n')
    result = pytester.runpytest_subprocess("--spilot-plan", "--spilot-backend=pseudo")
    result.stdout.fnmatch_lines(["*::clean_summary  innovus @ innovus:pseudo via srun*"])
    assert result.ret == 0
