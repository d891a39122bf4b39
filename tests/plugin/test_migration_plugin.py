"""``kind: migration`` gates in pytest: ``-m gate`` selects them, ``--spilot-evidence`` writes the
matrix, and a blocked target skips the validations behind it without starting a session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from junit_kit import outcomes, properties

from pytest_spilot.innovus.contracts import find_skills
from pytest_spilot.innovus.migration import ISSUE_CODES

DESIGNS = Path(__file__).resolve().parents[2] / "fixtures" / "innovus"

PLAN = f"""
version: 1
markers: [innovus]
validations:
  - name: block_summary
    kind: innovus
    skill: summary_health
    design: {DESIGNS / "clean.json"}
    args: {{top: counter}}
    acceptance:
      - {{metric: setup_wns_ns, op: ">=", value: 0}}
gates:
  - name: innovus_migration
    kind: migration
    design: {DESIGNS / "clean.json"}
    top: counter
    required: true
"""


def claim_count() -> int:
    per_skill = ("skill_contract", "parity")
    return len(ISSUE_CODES) - len(per_skill) + len(per_skill) * len(find_skills([]))


def test_gate_run_against_tcl_is_ready(pytester: pytest.Pytester) -> None:
    if not shutil.which("tclsh"):
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    pytester.makefile(".yaml", **{"validations/innovus": PLAN})
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        "-m",
        "gate",
        "--spilot-backend=tcl",
        "--spilot-evidence=evidence/matrix.json",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
    )
    assert outcomes(junit) == {"innovus_migration::run": "passed"}, result.stdout.str()
    props = properties(junit, "innovus_migration::run")
    assert props["location"] == "innovus:tcl"
    assert float(props["metric.claims_pass"]) == claim_count()
    matrix = json.loads((pytester.path / "evidence" / "matrix.json").read_text())
    assert (matrix["version"], matrix["status"]) == ("dev", "ready")
    [gate] = matrix["gates"]
    assert (gate["gate"], gate["target"], gate["reference"]) == (
        "innovus_migration",
        "tcl",
        "pseudo",
    )
    assert gate["blocking_issue_codes"] == [] and gate["rollback"]["required"] is False
    assert len(gate["claims"]) == claim_count()
    assert {c["verdict"] for c in gate["claims"]} == {"pass"}
    assert "spilot evidence: evidence/matrix.json (ready; 1 migration gates)" in result.stdout.str()


def test_missing_binary_blocks_and_skips_the_validations(pytester: pytest.Pytester) -> None:
    """The ``real`` backend with no Innovus install: the state every site starts from."""
    pytester.makefile(".yaml", **{"validations/innovus": PLAN})
    pytester.makepyprojecttoml('[tool.spilot.innovus]\nbinary = "/nonexistent/innovus"\n')
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "--spilot-backend=real",
        "--spilot-evidence=matrix.json",
        "-rs",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
    )
    assert outcomes(junit) == {
        "innovus_migration::run": "failed",
        "block_summary::run": "skipped",
        "block_summary::setup_wns_ns>=0": "skipped",
    }, result.stdout.str()
    out = result.stdout.str()
    assert "required gate 'innovus_migration' failed: real: blocked by" in out
    assert "TOOL_MISSING" in out and "/nonexistent/innovus" in out
    assert not (pytester.path / ".spilot" / "runs" / "dev" / "sessions").exists()
    matrix = json.loads((pytester.path / "matrix.json").read_text())
    [gate] = matrix["gates"]
    assert matrix["status"] == gate["status"] == "blocked"
    assert "TOOL_MISSING" in gate["blocking_issue_codes"]
    assert gate["rollback"] == {"required": False, "trigger_codes": []}
    verdicts = {c["claim"]: c["verdict"] for c in gate["claims"]}
    assert verdicts["session_ready"] == "insufficient_evidence"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_migration_gate_under_one_licence_after_a_session(pytester: pytest.Pytester) -> None:
    """With one licence slot, a worker that already holds a session must not wait on itself
    when it reaches a migration gate (it would, for ever: the slot is a file lock)."""
    if not shutil.which("tclsh"):
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    ungated = PLAN.partition("gates:")[0]
    pytester.makefile(".yaml", **{"validations/a_block": ungated, "validations/b_gated": PLAN})
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "--spilot-backend=tcl", "--spilot-innovus-licenses=1", timeout=120
    )
    result.assert_outcomes(passed=5)


def test_plan_shows_the_migration_gate_and_starts_nothing(pytester: pytest.Pytester) -> None:
    targeted = PLAN.replace("    top:", "    target: real\n    top:")
    pytester.makefile(".yaml", **{"validations/innovus": targeted})
    result = pytester.runpytest_subprocess("--spilot-plan", "--spilot-backend=pseudo")
    result.stdout.fnmatch_lines(
        [
            "*::innovus_migration  migration gate @ innovus:pseudo  timeout*",
            "    run: target=real reference=pseudo design=*clean.json",
        ]
    )
    assert not (pytester.path / ".spilot" / "runs").exists()


SITE_SKILL = """\
set fh [open [spilot::report congestion.rpt] w]
puts $fh "congestion_pct: 2.5"
close $fh
spilot::metric congestion_pct 2.5
"""
SITE_CONTRACT = """\
name: congestion
reports: [congestion.rpt]
metrics:
  congestion_pct: {unit: '%', direction: lower_is_better}
"""
SITE_VALIDATION = """
  - name: site_congestion
    kind: innovus
    skill: congestion
    acceptance:
      - {metric: congestion_pct, op: "<=", value: 5}
gates:"""


@pytest.mark.parametrize("backend", ["tcl", "pseudo"])
def test_a_site_skill_does_not_block_the_shipped_gate(
    pytester: pytest.Pytester, backend: str
) -> None:
    """Issue 14: the pseudo reference has no figures for a site's skill; the required gate
    said INSUFFICIENT_EVIDENCE and every Innovus validation skipped."""
    if backend == "tcl" and not shutil.which("tclsh"):
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    site = pytester.mkdir("site_skills")
    (site / "congestion.tcl").write_text(SITE_SKILL)
    (site / "congestion.yaml").write_text(SITE_CONTRACT)
    pytester.makepyprojecttoml(f'[tool.spilot.innovus]\nskills = ["{site}"]\n')
    pytester.makefile(".yaml", **{"validations/innovus": PLAN.replace("\ngates:", SITE_VALIDATION)})
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        f"--spilot-backend={backend}",
        "--spilot-evidence=matrix.json",
        "-p",
        "no:randomly",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
    )
    runs = backend == "tcl"  # the pseudo backend cannot run it: no figure in its contract
    assert outcomes(junit) == {
        "innovus_migration::run": "passed",
        "block_summary::run": "passed",
        "block_summary::setup_wns_ns>=0": "passed",
        "site_congestion::run": "passed" if runs else "failed",
        "site_congestion::congestion_pct<=5": "passed" if runs else "failed",
    }, result.stdout.str()
    [gate] = json.loads((pytester.path / "matrix.json").read_text())["gates"]
    assert (gate["status"], gate["blocking_issue_codes"]) == ("ready", [])
    parity = next(c for c in gate["claims"] if c["claim"] == "parity:congestion")
    assert (parity["verdict"], parity["blocking"]) == ("insufficient_evidence", False)
    if not runs:
        summary = properties(junit, "site_congestion::run")["summary"]
        assert "the pseudo backend cannot run skill 'congestion'" in summary
        assert "congestion_pct: {pseudo: 0}" in summary
