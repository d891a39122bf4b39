"""The ``spilot`` command on a real state written by a real run."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_spilot.cli import main

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
    assert set(cases) == {"ok::run", "ok::sps>=2000", "ok::sps>=9000"}
    assert cases["ok::sps>=9000"].find("failure") is not None
    assert cases["ok::sps>=2000"].find("failure") is None
    assert "[[ATTACHMENT|" in (cases["ok::run"].findtext("system-out") or "")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["metric.sps"] == "2100" and props["version"] == "2026.11"
    table = capsys.readouterr().out
    assert "validations/p.yaml::ok" in table and "failed" in table and "sps=2100" in table


def test_report_missing_state_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["report", str(tmp_path / "none.json")]) == 2
    assert "no such release state" in capsys.readouterr().err


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
