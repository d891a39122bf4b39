"""The ``spilot`` command on a real state written by a real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_spilot.cli.main import main
from pytest_spilot.core.settings import Settings
from pytest_spilot.core.state import ReleaseState
from pytest_spilot.errors import SpilotError

PLAN = """
version: 1
validations:
  - name: ok
    run: 'echo "sps=2100"'
    metrics: {sps: {regex: 'sps=(\\d+)'}}
    acceptance:
      - {metric: sps, op: ">=", value: 2000}
      - {metric: sps, op: ">=", value: 9000}
"""


@pytest.fixture
def state(tmp_path: Path) -> Path:
    (tmp_path / "validations").mkdir()
    (tmp_path / "validations" / "p.yaml").write_text(PLAN)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--spilot-version",
            "2026.11",
        ],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    return tmp_path / ".spilot" / "2026.11.json"


def test_report_junit_from_state(state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "out.xml"
    assert main(["report", str(state), "--junit", str(out)]) == 1  # the release has a failure
    root = ET.parse(out).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"run", "sps>=2000", "sps>=9000"}
    assert {c.get("classname") for c in cases.values()} == {"validations.p.yaml.ok"}
    assert cases["sps>=9000"].find("failure") is not None
    assert cases["sps>=2000"].find("failure") is None
    assert "[[ATTACHMENT|" in (cases["run"].findtext("system-out") or "")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["metric.sps"] == "2100" and props["version"] == "2026.11"
    table = capsys.readouterr().out
    assert "validations/p.yaml::ok" in table and "failed" in table and "sps=2100" in table


def test_report_missing_state_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["report", str(tmp_path / "none.json")]) == 2
    assert "no such release state" in capsys.readouterr().err


def newer_release(state: Path, version: str) -> Path:
    """A copy of ``state`` as release ``version``, written after it."""
    copy = state.with_name(f"{version}.json")
    old = ReleaseState.model_validate_json(state.read_text())
    copy.write_text(old.model_copy(update={"version": version}).model_dump_json())
    later = state.stat().st_mtime + 10
    os.utime(copy, (later, later))
    return copy


def test_report_compare_rules_take_a_path_or_a_version_alike(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    newer_release(state, "2026.12")
    for arg in ("2026.12", ".spilot/2026.12.json", str(tmp_path / ".spilot" / "2026.12.json")):
        assert main(["report", arg]) == 1
        assert "release 2026.12: 1 validations" in capsys.readouterr().out
    assert main(["compare", "2026.11", ".spilot/2026.12.json", "--all"]) == 0
    assert "release 2026.11 -> 2026.12" in capsys.readouterr().out
    assert main(["rules", "tighten", "2026.12", "--dry-run"]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "validations")  # below the project root: versions still found
    assert main(["report", "2026.11"]) == 1
    assert "release 2026.11: 1 validations" in capsys.readouterr().out
    # --spilot-baseline reads the same way, through the same function
    settings = Settings.resolve(tmp_path, version="2027.01", baseline="2026.12")
    baseline = settings.load_baseline()
    assert baseline is not None and baseline.version == "2026.12"
    settings = Settings.resolve(tmp_path, version="2027.01", baseline=".spilot/2026.11.json")
    baseline = settings.load_baseline()
    assert baseline is not None and baseline.version == "2026.11"


def test_unknown_version_names_the_versions_found(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    newer_release(state, "2026.12")
    for argv in (["report", "2025.01"], ["compare", "2026.11", "2025.01"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "2025.01: no such release state" in err
        assert "versions with a state there: 2026.11, 2026.12" in err
    settings = Settings.resolve(tmp_path, version="2027.01", baseline="2025.01")
    with pytest.raises(SpilotError, match=r"--spilot-baseline 2025\.01: no such release state"):
        settings.load_baseline()


def test_report_without_a_state_reports_the_latest(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 1
    assert "release 2026.11: 1 validations" in capsys.readouterr().out
    # other JSON kept there (README's schema for editors) is no release
    schema = tmp_path / ".spilot" / "validations.schema.json"
    schema.write_text('{"$defs": {}}')
    os.utime(schema, (state.stat().st_mtime + 100, state.stat().st_mtime + 100))
    newer_release(state, "2026.12")
    assert main(["report"]) == 1
    out, err = capsys.readouterr()
    assert "release 2026.12: 1 validations" in out
    assert "reporting 2026.12, the latest written of 2026.11, 2026.12" in err


def test_report_without_any_state_is_a_usage_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    assert f"no release state in {tmp_path / '.spilot'}: run pytest first" in err
    assert "spilot report PATH|VERSION" in err


def test_skills_lists_arguments_and_metrics_from_the_contracts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Shipped skills and a site's own, from their contracts; a skill without one says so."""
    own = tmp_path / "flow" / "skills"
    own.mkdir(parents=True)
    (own / "power_health.tcl").write_text("# a site skill\n")
    (own / "power_health.yaml").write_text(
        "name: power_health\ndescription: Total power.\nrequires_design: true\n"
        "args: {corner: {type: string, required: true, description: the corner}}\n"
        "reports: [power.rpt]\n"
        "metrics: {total_mw: {description: total power, unit: mW, direction: lower_is_better}}\n"
    )
    (own / "bare.tcl").write_text("# no contract\n")
    (tmp_path / "pyproject.toml").write_text('[tool.spilot.innovus]\nskills = ["flow/skills"]\n')
    assert main(["skills", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    blocks = {b.split()[0]: b for b in out.split("\n\n")}
    assert set(blocks) == {
        "bare",
        "drc_health",
        "noop",
        "power_health",
        "restore_design",
        "summary_health",
        "timing_health",
    }
    assert "no contract: runs on the tcl and real backends only" in blocks["bare"]
    power = blocks["power_health"]
    assert "corner  string  required  the corner" in power
    assert "total_mw  mW    lower_is_better  total power" in power
    assert "reports: power.rpt" in power
    summary = blocks["summary_health"]
    assert "stage  string  default 'postRoute'" in summary
    assert "setup_wns_ns     ns     higher_is_better  worst setup slack" in summary
    assert main(["skills", "--root", str(tmp_path), "sumary_health"]) == 2
    assert "no skill sumary_health; known: bare, drc_health" in capsys.readouterr().err


def test_readme_skill_table_matches_the_contracts():
    """README's table of the shipped skills names every contract's args, metrics and reports."""
    from pytest_spilot.innovus.contracts import load_contract
    from pytest_spilot.innovus.rundir import SHIPPED_SKILLS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = {
        line.split("|")[1].strip().strip("`"): line
        for line in readme.splitlines()
        if line.startswith("| `") and line.count("|") == 5
    }
    for path in sorted(SHIPPED_SKILLS.glob("*.yaml")):
        contract = load_contract(path)
        row = table[contract.name]
        cells = row.split("|")
        for arg in contract.args:
            assert f"`{arg}`" in cells[2], (contract.name, arg)
        for metric in contract.metrics:
            assert f"`{metric}`" in cells[3], (contract.name, metric)
        for report in contract.reports:
            assert f"`{report}`" in cells[4], (contract.name, report)


def test_backend_help_says_it_also_switches_librelane(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = " ".join(out.split())
    assert "--spilot-backend={pseudo,tcl,real}" in text
    assert "and of LibreLane flows (pseudo|real;" in text and "'real' switches both" in text


def test_schema_is_the_models_schema(capsys: pytest.CaptureFixture[str]):
    assert main(["schema", "validations"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "CommandValidation" in schema["$defs"]
    assert schema["$defs"]["CommandValidation"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("request", "Request"),
        ("ack", "Ack"),
        ("skill", "SkillContract"),
        ("config", "SiteConfig"),
        ("design", "StandinDesign"),
        ("state", "ReleaseState"),
    ],
)
def test_every_format_has_a_schema(capsys: pytest.CaptureFixture[str], name: str, model: str):
    assert main(["schema", name]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == model and schema["properties"]


def test_journal_schema_names_every_event(capsys: pytest.CaptureFixture[str]):
    assert main(["schema", "journal"]) == 0
    schema = json.loads(capsys.readouterr().out)
    events = {
        d["properties"]["event"]["const"]
        for d in schema["$defs"].values()
        if "event" in d.get("properties", {})
    }
    assert {"run_started", "run_finished", "threshold_judged", "regression_judged"} <= events
    assert {"gate_decided", "progress", "tool_seen", "process_started"} <= events


def test_state_schema_shows_the_overall_verdict(capsys: pytest.CaptureFixture[str]):
    assert main(["schema", "state"]) == 0
    record = json.loads(capsys.readouterr().out)["$defs"]["ValidationRecord"]
    assert record["properties"]["verdict"]["enum"] == ["passed", "failed", "unfinished"]


def test_compare_exits_as_the_runs_regressions_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_spilot.core.state import RunRecord, ValidationRecord

    def release(version: str, area: float, levels: dict[str, str] | None) -> Path:
        validations = {}
        for key in ("validations/a.yaml::synth", "validations/b.yaml::synth"):
            run = RunRecord.model_validate(
                {
                    "outcome": "passed",
                    "started": "2026-12-01T00:00:00Z",
                    "finished": "2026-12-01T00:00:01Z",
                    "duration_s": 1,
                    "run_dir": "r",
                    "log": "l",
                    "metrics": {"design__instance__area": area},
                    "directions": {"design__instance__area": "lower_is_better"},
                    "levels": levels,
                }
            )
            validations[key] = ValidationRecord(
                key=key,
                id="synth",
                name="synth",
                file=key.split("::")[0],
                kind="librelane",
                run=run,
            )
        path = tmp_path / f"{version}.json"
        path.write_text(ReleaseState(version=version, validations=validations).model_dump_json())
        return path

    old = release("r1", 100, None)
    # A laptop without LibreLane reaches the verdict the run reached (with LibreLane) alike.
    monkeypatch.setattr("pytest_spilot.librelane.results.metric_direction", lambda name: None)
    warned = release("r2", 110, {"design__instance__area": "warning"})
    assert main(["compare", str(old), str(warned)]) == 0
    assert "regressed (warning)" in capsys.readouterr().out
    failed = release("r3", 110, {"design__instance__area": "error"})  # noncritical_regressions
    assert main(["compare", str(old), str(failed), "--markdown"]) == 1
    rows = [line for line in capsys.readouterr().out.splitlines() if "**regressed**" in line]
    assert [row.split(" | ")[0] for row in rows] == [
        "| validations/a.yaml::synth",
        "| validations/b.yaml::synth",
    ]
