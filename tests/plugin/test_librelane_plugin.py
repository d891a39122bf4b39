"""LibreLane in pytest: ``kind: librelane`` validations on both backends, and the fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_kit import DESIGNS, PDK, TOOLS, require_real_librelane
from junit_kit import outcomes, properties, property_values

from pytest_spilot.core.store import ReleaseStore

PLAN = f"""
version: 1
markers: [librelane]
defaults:
  timeout_s: 300
validations:
  - name: counter
    kind: librelane
    design: {DESIGNS / "counter"}
    pdk: {PDK}
    preset: minimal
    acceptance:
      - {{metric: design__lint_error__count, op: "==", value: 0}}
      - {{metric: design__instance_unmapped__count, op: "==", value: 0}}
      - {{metric: design__instance__count, op: ">", value: 0}}
      - {{metric: design__instance__area, op: "<", value: 1}}
  - name: lint_error
    kind: librelane
    design: {DESIGNS / "counter_lint"}
    pdk: {PDK}
    pseudo: {{fail_at: Checker.LintErrors, profile: {{design__lint_error__count: 1}}}}
    acceptance:
      - {{metric: design__lint_error__count, op: "==", value: 0}}
"""

EXPECTED = {
    "counter::run": "passed",
    "counter::design__lint_error__count==0": "passed",
    "counter::design__instance_unmapped__count==0": "passed",
    "counter::design__instance__count>0": "passed",
    "counter::design__instance__area<1": "failed",  # a threshold the real area misses
    "lint_error::run": "failed",
    "lint_error::design__lint_error__count==0": "failed",
}


# The CLI runner's validations name the flow and where to stop, as its engineers would.
CLI_CUT = "    flow: Classic\n    to: Checker.YosysSynthChecks\n"


@pytest.mark.parametrize(
    ("backend", "runner"), [("pseudo", "api"), ("real", "api"), ("real", "cli")]
)
def test_librelane_validations(pytester: pytest.Pytester, backend: str, runner: str) -> None:
    if backend == "real":
        require_real_librelane()
    plan = PLAN
    if runner == "cli":
        plan = plan.replace("    preset: minimal\n", "    preset: minimal\n" + CLI_CUT)
        # One validation chooses the CLI itself, the other takes the site's choice.
        plan = plan.replace("    pseudo: {", CLI_CUT + "    runner: cli\n    pseudo: {")
    pytester.makefile(".yaml", **{"validations/flows": plan})
    pytester.makepyprojecttoml(
        f'[tool.spilot.librelane]\npath_prepend = ["{TOOLS}"]\nrunner = "{runner}"\n'
    )
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        f"--spilot-backend={backend}", "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )
    assert outcomes(junit) == EXPECTED, result.stdout.str()
    lint = properties(junit, "lint_error::run")
    assert "Checker.LintErrors" in lint["summary"]
    assert lint["location"] == f"librelane:{backend}"
    counter = properties(junit, "counter::run")
    assert float(counter["metric.design__instance__count"]) > 0
    artifacts = property_values(junit, "counter::run", "artifact")
    assert any(a.endswith("flow/flow.log") for a in artifacts)
    assert any(a.endswith("final/metrics.json") for a in artifacts)
    run_dir = Path(counter["run_dir"])
    assert (run_dir / "librelane" / "spilot-progress.jsonl").is_file()
    child_log = (run_dir / "librelane" / "librelane.log").read_text()
    assert ("[spilot] $ " in child_log) == (runner == "cli")  # the librelane command line


def test_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_flow=f"""
        def test_counter(librelane_flow):
            result = librelane_flow.run("{DESIGNS / "counter"}", preset="balanced")
            assert result.passed and result.metrics["design__instance__count"] > 0
            assert result.progress.state == "complete"

        def test_hang_is_a_timeout(librelane_flow):
            result = librelane_flow.run("{DESIGNS / "counter"}", timeout=0.5,
                                        pseudo={{"hang_at": "Yosys.Synthesis"}})
            assert result.timed_out and result.exit_code == 124
            assert result.failed_step == "Yosys.Synthesis"
        """
    )
    result = pytester.runpytest_subprocess("--spilot-backend=pseudo")
    result.assert_outcomes(passed=2)


def test_progress_in_the_summary_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/flows": PLAN})
    result = pytester.runpytest_subprocess("-n", "2", "--spilot-backend=pseudo")
    result.stdout.fnmatch_lines(
        [
            "librelane runs:",
            "  counter: complete: 6 steps 100%",
            "  lint_error: failed: step 2/6 Checker.LintErrors * 17% injected failure*",
        ]
    )
    # Workers journal each step, so the release document knows where each flow got to.
    state = ReleaseStore(pytester.path / ".spilot" / "dev.json").read().state
    assert state is not None
    counter = state.validations["validations/flows.yaml::counter"].progress
    failed = state.validations["validations/flows.yaml::lint_error"].progress
    assert counter is not None and (counter.state, counter.step_count) == ("complete", 6)
    assert failed is not None and (failed.state, failed.step_index) == ("failed", 2)
