"""The ssh launcher: command validations, an Innovus session and a LibreLane run on a node."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sshd_kit import SshServer, free_port

from pytest_spilot.innovus.backends.pseudo import PseudoBackend
from pytest_spilot.innovus.backends.tcl import TclBackend
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.ssh import SshLauncher
from pytest_spilot.librelane.backends.pseudo import PseudoFlowBackend
from pytest_spilot.librelane.service import LibreLaneFlows
from pytest_spilot.siteconfig import InnovusConfig, LibreLaneConfig

REPO = Path(__file__).resolve().parents[2]
COUNTER = REPO / "fixtures" / "librelane" / "designs" / "counter"


def job(tmp_path: Path, argv: list[str], timeout_s: float = 30, **kw) -> Job:
    return Job(
        argv=argv,
        cwd=tmp_path / "run",
        log_path=tmp_path / "run" / "job.log",
        timeout_s=timeout_s,
        **kw,
    )


def alive(pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def test_job_streams_to_the_log_while_it_runs(make_node, tmp_path: Path) -> None:
    launcher = SshLauncher(make_node())
    the_job = job(
        tmp_path,
        ["sh", "-c", 'echo "first in $PWD"; sleep 1; echo second; exit 4'],
        env={"SPILOT_RUN_DIR": "x"},
    )
    process = launcher.start(the_job)
    deadline = time.monotonic() + 5
    while "first" not in the_job.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the first line should arrive before the job ends"
    assert process.wait(10) == 4
    assert the_job.log_path.read_text() == f"first in {tmp_path / 'run'}\nsecond\n"
    result = launcher.run(the_job)
    assert (result.exit_code, result.message, result.transient) == (4, "exit code 4", False)
    assert launcher.command_line(the_job)[:3] == ["ssh", "-p", str(launcher.node.node.port)]


def test_timeout_kills_the_remote_tree(make_node, tmp_path: Path) -> None:
    launcher = SshLauncher(make_node())
    result = launcher.run(job(tmp_path, ["sh", "-c", "sleep 39.1 & sleep 39.2"], timeout_s=1))
    assert result.timed_out and result.exit_code == 124
    deadline = time.monotonic() + 3
    while alive("sleep 39.") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive("sleep 39.") == []
    assert "timed out after 1 s" in (tmp_path / "run" / "job.log").read_text()


def test_unreachable_node_is_a_transient_result(make_node, tmp_path: Path) -> None:
    result = SshLauncher(make_node(port=free_port())).run(job(tmp_path, ["true"]))
    assert result.exit_code == 255 and result.transient
    assert "cannot connect" in (tmp_path / "run" / "job.log").read_text()


def test_innovus_session_on_a_node(make_node, tmp_path: Path) -> None:
    """The Tcl stand-in session (the real bootstrap and skills) started over SSH."""
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed (apt-get install -y tcl)")
    node = make_node(name="innovus_node")
    config = InnovusConfig(
        backend="tcl",
        launcher="innovus_node",
        heartbeat_interval_s=0.2,
        heartbeat_timeout_s=3.0,
        poll_interval_s=0.1,
    )
    session = InnovusSession(
        config,
        {"tcl": TclBackend(), "pseudo": PseudoBackend()},
        {"innovus_node": SshLauncher(node)},
        tmp_path / "sessions",
        worker="w",
    )
    try:
        result = session.run_skill("noop", check=True)
        assert result.ack.passed
        supervisor = session.supervisor()
        assert supervisor.command[:2] == ["ssh", "-p"]
        pgid = supervisor.process.pid
        assert pgid > 0 and alive(str(tmp_path / "sessions"))
    finally:
        session.close()
    deadline = time.monotonic() + 5
    while alive(str(tmp_path / "sessions")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(str(tmp_path / "sessions")) == []


def test_librelane_run_on_a_node(make_node, tmp_path: Path) -> None:
    node = make_node(name="flow_node")
    flows = LibreLaneFlows(
        LibreLaneConfig(backend="pseudo", launcher="flow_node"),
        {"pseudo": PseudoFlowBackend()},
        {"flow_node": SshLauncher(node)},
        tmp_path / "flows",
    )
    result = flows.run(COUNTER, timeout=60)
    assert result.passed, result.message
    assert result.metrics["design__instance__count"] > 0
    hung = flows.run(COUNTER, timeout=1, pseudo={"hang_at": "Yosys.Synthesis"})
    assert hung.timed_out and hung.exit_code == 124
    deadline = time.monotonic() + 3
    while alive(str(tmp_path / "flows")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(str(tmp_path / "flows")) == []


def test_dropped_connection_is_transient(make_node, fresh_sshd: SshServer, tmp_path: Path) -> None:
    launcher = SshLauncher(make_node(server=fresh_sshd))
    the_job = job(tmp_path, ["sh", "-c", "kill -9 $(ps -o ppid= -p $PPID); sleep 5.25"])
    result = launcher.run(the_job)
    assert result.transient and result.exit_code == 255
    assert "connection dropped" in result.message
    # The next job reconnects and first kills what the drop left running.
    assert launcher.run(job(tmp_path, ["true"])).exit_code == 0
    assert alive("sleep 5.25") == []
