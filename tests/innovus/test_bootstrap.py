"""The real tcl/bootstrap.tcl under tclsh (the ``tcl`` backend): protocol, hostile input, health."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from innovus_kit import BACKENDS, DESIGNS, FAST, TEST_SKILLS, in_ci, require

from pytest_spilot.innovus.protocol import ErrorType, Request
from pytest_spilot.innovus.queue_supervisor import skill_script
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.siteconfig import InnovusConfig


def has_tcllib() -> bool:
    tclsh = require("tclsh", "tcl")
    probe = subprocess.run(
        [tclsh], input="puts [catch {package require json}]", capture_output=True, text=True
    )
    return probe.stdout.strip() == "0"


@pytest.fixture(params=["tcllib", "builtin"])
def json_reader(request: pytest.FixtureRequest) -> str:
    if request.param == "tcllib" and not has_tcllib():
        if in_ci():
            pytest.fail("tcllib is not installed (apt-get install -y tcllib)")
        pytest.skip("tcllib is not installed (apt-get install -y tcllib)")
    return request.param


@pytest.fixture
def session(start_session, json_reader):
    env = {"SPILOT_TCL_JSON": "builtin"} if json_reader == "builtin" else {}
    supervisor = start_session("tcl", env=env)
    assert supervisor.ready.json_ == json_reader
    return supervisor


def test_ready_heartbeat_and_stop(session) -> None:
    ready = session.ready
    assert ready.pid > 0 and ready.tcl_version.startswith("8.")
    assert (session.dir.file("port").read_text().strip()) == str(ready.port)
    first = json.loads(session.dir.file("heartbeat").read_text())
    time.sleep(3 * FAST["heartbeat_interval_s"])
    second = json.loads(session.dir.file("heartbeat").read_text())
    assert second["ts"] > first["ts"]
    assert session.poll_health() == "healthy"
    session.stop("test")
    assert session.process.poll() == 0
    assert json.loads(session.dir.file("state.json").read_text())["state"] == "stopped"
    assert session.poll_health() == "exited"


def test_pass_with_reports_and_metrics(session) -> None:
    args = {"plain": "x", "spaces": "a b", "quote": 'say "hi"', "brace": "{x", "unicode": "µm²"}
    ack = session.submit(skill_script("echo_args"), args)
    assert ack.status == "PASS" and ack.error_type == ErrorType.OK, ack.message
    assert ack.metrics == {"arg_count": 5.0}
    assert ack.reports == [f"reports/{ack.request_id}/args.txt"]
    lines = (session.run_dir / ack.reports[0]).read_text(encoding="utf-8").splitlines()
    assert lines == [f"{k}={v}" for k, v in sorted(args.items())]
    assert ack.end_ms >= ack.start_ms and ack.duration_ms >= 0


def test_cmd_fail_keeps_serving(session) -> None:
    ack = session.submit(skill_script("fail_cmd"), {})
    assert (ack.status, ack.error_type) == ("FAIL", "CMD_FAIL")
    assert "deliberate failure" in ack.message
    assert session.submit(skill_script("noop"), {}).passed


def test_exit_in_a_skill_does_not_end_the_session(session) -> None:
    ack = session.submit(skill_script("call_exit"), {})
    assert ack.error_type == "CMD_FAIL" and "exit" in ack.message
    assert session.process.poll() is None
    assert session.submit(skill_script("noop"), {}).passed


def test_restore_fail(session) -> None:
    ack = session.submit(
        skill_script("restore_design"), {"design": str(DESIGNS / "corrupt.json"), "top": "counter"}
    )
    assert ack.error_type == "RESTORE_FAIL", ack
    good = session.submit(
        skill_script("restore_design"), {"design": str(DESIGNS / "clean.json"), "top": "counter"}
    )
    assert good.passed, good.message


def test_timeout_then_next_request_runs(session) -> None:
    started = time.monotonic()
    ack = session.submit(skill_script("spin"), {}, timeout_s=0.5)
    assert ack.error_type == "TIMEOUT", ack
    assert time.monotonic() - started < 0.5 + FAST["heartbeat_timeout_s"]
    assert session.poll_health() == "healthy"
    assert session.submit(skill_script("noop"), {}).passed


def _outside_script(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "ran.txt"
    script = tmp_path / "outside.tcl"
    script.write_text(f'set f [open "{marker}" w]; puts $f ran; close $f\n')
    return script, marker


@pytest.mark.parametrize(
    "script",
    ["scripts/../outside.tcl", "ABSOLUTE", "scripts/link.tcl", "scripts/noop.txt", "queue/x.tcl"],
)
def test_security_refusals(session, tmp_path: Path, script: str) -> None:
    outside, marker = _outside_script(tmp_path)
    (session.run_dir / "outside.tcl").write_text(outside.read_text())
    (session.dir.scripts / "link.tcl").symlink_to(outside)
    (session.dir.scripts / "noop.txt").write_text("")
    script = str(outside) if script == "ABSOLUTE" else script
    ack = session.submit(script, {})
    assert (ack.status, ack.error_type) == ("FAIL", "SECURITY"), ack
    assert not marker.exists(), "a refused script ran"
    assert session.submit(skill_script("noop"), {}).passed


def _request(**fields) -> bytes:
    base = {
        "schema_version": 1,
        "request_id": "r1",
        "script": "scripts/noop.tcl",
        "args": {},
        "timeout_s": 5,
        "created_ts": time.time(),
    }
    return json.dumps({**base, **fields}).encode()


@pytest.mark.parametrize(
    "payload",
    [
        b'{"schema_version": 1, "request_id": ',
        b"\x00\xff not json",
        "OVERSIZED",
        "SCHEMA2",
        "NO_SCRIPT",
        "WRONG_ID",
        "MISSING_SCRIPT",
    ],
)
def test_bad_requests(session, payload) -> None:
    rid = "bad-1"
    if payload == "OVERSIZED":
        payload = _request(request_id=rid, args={"pad": "x" * 70_000})
    elif payload == "SCHEMA2":
        payload = _request(request_id=rid, schema_version=2)
    elif payload == "NO_SCRIPT":
        payload = json.dumps({"schema_version": 1, "request_id": rid, "timeout_s": 1}).encode()
    elif payload == "WRONG_ID":
        payload = _request(request_id="someone-else")
    elif payload == "MISSING_SCRIPT":
        payload = _request(request_id=rid, script="scripts/absent.tcl")
    ack = session.submit_raw(rid, payload)
    assert (ack.status, ack.error_type) == ("FAIL", "BAD_REQUEST"), ack
    assert ack.request_id == rid
    assert not (session.dir.reports / rid).exists()
    assert session.submit(skill_script("noop"), {}).passed


def test_ack_is_written_once_and_requests_run_in_order(session) -> None:
    # An ack that exists is never rewritten: the request behind it does not run.
    done = session.submit(skill_script("noop"), {})
    before = session.dir.ack_path(done.request_id).read_bytes()
    retired = session.dir.queue / "done" / f"{done.request_id}.json"
    for _ in range(100):  # the ack can be seen a moment before the request moves
        if retired.is_file():
            break
        time.sleep(0.01)
    assert retired.is_file()
    again = session.submit_raw(
        done.request_id,
        _request(request_id=done.request_id, script=skill_script("echo_args"), args={"a": 1}),
    )
    assert session.dir.ack_path(done.request_id).read_bytes() == before
    assert again == done and not (session.dir.reports / done.request_id).exists()

    # While a request runs, three more are queued with created_ts in reverse name order.
    blocker = threading.Thread(
        target=session.submit, args=(skill_script("spin"), {}), kwargs={"timeout_s": 0.6}
    )
    blocker.start()
    time.sleep(0.2)
    now = time.time()
    ids = ["c-1", "b-2", "a-3"]
    for offset, rid in enumerate(ids):
        request = Request(
            request_id=rid, script=skill_script("noop"), timeout_s=5, created_ts=now + offset
        )
        session.dir.enqueue(request)
    blocker.join()
    acks = [session._await(rid, 5) for rid in ids]
    starts = [a.start_ms for a in acks]
    assert all(a.passed for a in acks) and starts == sorted(starts)
    time.sleep(2 * FAST["heartbeat_interval_s"])  # the count is the heartbeat's, once a beat
    state = json.loads(session.dir.file("heartbeat").read_text())
    assert state["requests_done"] >= 5


def test_sigkill_mid_request_is_session_lost_with_bundle_and_fresh_session(
    tmp_path: Path, tclsh: str
) -> None:
    secret = "5280@license-server.secret.example"
    config = InnovusConfig(**FAST, backend="tcl", env={"CDS_LIC_FILE": secret})
    innovus = InnovusSession(
        config,
        BACKENDS,
        {"local": LocalLauncher()},
        tmp_path / "sessions",
        skill_dirs=[TEST_SKILLS],
    )
    try:
        first = innovus.supervisor()
        pid = first.ready.pid
        killer = threading.Timer(0.5, os.kill, args=(pid, signal.SIGKILL))
        killer.start()
        started = time.monotonic()
        result = innovus.run_skill("spin", timeout_s=60)
        elapsed = time.monotonic() - started - 0.5
        killer.join()
        ack = result.ack
        assert ack.error_type == "SESSION_LOST", ack
        assert elapsed < FAST["heartbeat_timeout_s"] + 1.0
        assert "signal 9" in ack.message
        bundle = Path(ack.message.split("debug bundle: ")[1].split(";")[0])
        assert bundle.is_file() and bundle.parent == first.dir.debug
        with tarfile.open(bundle) as tar:
            names = tar.getnames()
            texts = [tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()]
        assert "bundle/environment.txt" in names and "bundle/session/heartbeat" in names
        assert any(n.startswith("bundle/queue/") for n in names)
        assert all(secret not in text for text in texts), "a secret reached the bundle"
        assert any("CDS_LIC_FILE=***" in text for text in texts)

        again = innovus.run_skill("noop")
        assert again.passed
        assert innovus.supervisor() is not first and innovus.started == 2
    finally:
        innovus.close()
    assert first.process.poll() is not None


HARNESS = """
import sys, time
from pathlib import Path
from pytest_spilot.innovus.backends.tcl import TclBackend
from pytest_spilot.innovus.supervisor import SessionSpec
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.siteconfig import InnovusConfig

spec = SessionSpec(Path(sys.argv[1]), InnovusConfig(heartbeat_interval_s=0.2), LocalLauncher())
supervisor = TclBackend().create(spec)
supervisor.start()
print(supervisor.wait_ready(15).pid, flush=True)
time.sleep(600)
"""


def test_a_killed_harness_leaves_no_session(tmp_path: Path, tclsh: str) -> None:
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    session_pid = int(harness.stdout.readline())
    harness.kill()
    harness.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{session_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = (
        Path(f"/proc/{session_pid}/stat").exists()
        and " Z " not in Path(f"/proc/{session_pid}/stat").read_text()
    )
    assert not alive, "the session outlived its harness"
    state = json.loads((tmp_path / "run" / "session" / "state.json").read_text())
    assert state["state"] == "stopped"


def test_a_frozen_session_is_lost_when_its_heartbeat_stops(tmp_path: Path, tclsh: str) -> None:
    config = InnovusConfig(**FAST, backend="tcl")
    innovus = InnovusSession(config, BACKENDS, {"local": LocalLauncher()}, tmp_path / "s")
    try:
        first = innovus.supervisor()
        os.kill(first.ready.pid, signal.SIGSTOP)  # alive, but neither beating nor answering
        started = time.monotonic()
        ack = innovus.run_skill("noop").ack
        assert ack.error_type == "SESSION_LOST" and "no heartbeat" in ack.message, ack
        assert time.monotonic() - started < FAST["heartbeat_timeout_s"] + 1.0
        assert first.process.poll() is not None, "the frozen session was not killed"
        assert innovus.run_skill("noop").passed and innovus.started == 2
    finally:
        innovus.close()
