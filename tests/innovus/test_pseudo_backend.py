"""The ``pseudo`` backend: the same files and rules as the bootstrap, answers from contracts."""

from __future__ import annotations

import json
import time

import pytest
from innovus_kit import DESIGNS, FAST

from pytest_spilot.innovus.design import load_design
from pytest_spilot.innovus.queue_supervisor import skill_script


@pytest.fixture
def session(start_session):
    return start_session("pseudo")


def restore(session, name: str = "clean"):
    return session.submit(
        skill_script("restore_design"), {"design": str(DESIGNS / f"{name}.json"), "top": "counter"}
    )


def test_ready_heartbeat_stop(session) -> None:
    assert session.ready.tool_version == "pseudo"
    first = json.loads(session.dir.file("heartbeat").read_text())["ts"]
    time.sleep(3 * FAST["heartbeat_interval_s"])
    assert json.loads(session.dir.file("heartbeat").read_text())["ts"] > first
    session.stop("test")
    assert json.loads(session.dir.file("state.json").read_text())["state"] == "stopped"
    assert session.poll_health() == "exited"


@pytest.mark.parametrize("design", ["clean", "setup_violations", "drc_violations"])
def test_metrics_are_the_design_figures(session, design: str) -> None:
    assert restore(session, design).passed
    facts = load_design(DESIGNS / f"{design}.json").facts()
    for skill in ("summary_health", "timing_health", "drc_health"):
        ack = session.submit(skill_script(skill), {})
        assert ack.passed, ack.message
        assert ack.metrics == {k: pytest.approx(facts[k]) for k in ack.metrics}
        assert ack.reports and all((session.run_dir / r).is_file() for r in ack.reports)


def test_restore_fail_and_no_design(session) -> None:
    assert restore(session, "corrupt").error_type == "RESTORE_FAIL"
    ack = session.submit(skill_script("summary_health"), {})
    assert ack.error_type == "CMD_FAIL" and "no design" in ack.message


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("scripts/../x.tcl", "SECURITY"),
        ("/etc/passwd.tcl", "SECURITY"),
        ("scripts/noop.txt", "SECURITY"),
        ("scripts/absent.tcl", "BAD_REQUEST"),
        ("scripts/fail_cmd.tcl", "CMD_FAIL"),  # no contract: the pseudo backend cannot answer
    ],
)
def test_refusals(session, script: str, error: str) -> None:
    ack = session.submit(script, {})
    assert ack.error_type == error, ack
    assert session.submit(skill_script("noop"), {}).passed


def test_bad_request(session) -> None:
    ack = session.submit_raw("bad-1", b"{not json")
    assert ack.error_type == "BAD_REQUEST"
    oversized = b'{"pad": "' + b"x" * 70_000 + b'"}'
    assert session.submit_raw("bad-2", oversized).error_type == "BAD_REQUEST"
