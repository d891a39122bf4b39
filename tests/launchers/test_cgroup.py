"""Jobs tracked by cgroups (issue 13): children that leave the session and drop the environment
(``setsid env -i``) or double-fork are ended on timeout, at the job's end, by the reaper of a
SIGKILLed harness and by ``end_leftover_job``; no job cgroup is left; the fallback still works."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from proc_kit import live_pids_with

from pytest_spilot.launchers import cgroup as cgroups
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.launchers.process import TOKEN_VAR, end_leftover_job
from pytest_spilot.launchers.reaper import tracking_method


def use_mode(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs tracked by cgroup (skipped where none is usable) or by the fallback."""
    monkeypatch.setenv(cgroups.SWITCH, "auto" if mode == "cgroup" else "0")
    if mode == "cgroup" and cgroups.tracking().kind is None:
        pytest.skip(f"no usable cgroup hierarchy: {cgroups.tracking().reason}")


def unique_sleep() -> str:
    return f"300.{uuid.uuid4().int % 10**6:06d}"


def escapes(markers: list[str]) -> str:
    """Shell lines starting a child that drops session and environment, and double forks."""
    a, b, c = markers
    return (
        f"setsid env -i sh -c 'sleep {a}' & "
        f"(sh -c 'sleep {b} &' &); "
        f"setsid env -i sh -c '(sleep {c} &)' & "
    )


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def kill_markers(markers: list[str]) -> None:
    """Leave nothing behind, also when the test failed: an escapee may still be starting."""
    quiet, deadline = 0, time.monotonic() + 2
    while quiet < 3 and time.monotonic() < deadline:
        found = [p for m in markers for p in live_pids_with(m)]
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        quiet = 0 if found else quiet + 1
        time.sleep(0.05)


@pytest.fixture(params=cgroups.KINDS)
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each hierarchy this machine lets us use (skipped, with the reason, where it does not)."""
    monkeypatch.setenv(cgroups.SWITCH, request.param)
    found = cgroups.tracking()
    if found.kind is None:
        pytest.skip(f"no usable cgroup hierarchy {request.param}: {found.reason}")
    return request.param


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The job cgroups made during the test; none of them may remain."""
    paths: list[str] = []
    create = cgroups.create

    def spy(token: str) -> str | None:
        path = create(token)
        if path is not None:
            paths.append(path)
        return path

    monkeypatch.setattr(cgroups, "create", spy)
    yield paths
    left = [p for p in paths if os.path.exists(p)]
    for path in left:
        end_leftover_job(0, os.path.basename(path), path, 0)
    assert left == [], "job cgroups left behind"


def job(tmp_path: Path, script: str, timeout_s: float = 10) -> Job:
    return Job(
        ["sh", "-c", script], cwd=tmp_path, log_path=tmp_path / "job.log", timeout_s=timeout_s
    )


def test_escapees_are_killed_on_timeout(kind: str, made: list[str], tmp_path: Path) -> None:
    markers = [unique_sleep() for _ in range(4)]
    try:
        script = escapes(markers[:3]) + f"sleep {markers[3]}"
        start = time.monotonic()
        result = LocalLauncher(grace_s=0.3).run(job(tmp_path, script, timeout_s=1.0))
        assert result.exit_code == 124 and result.timed_out
        assert time.monotonic() - start < 5
        assert [live_pids_with(m) for m in markers] == [[], [], [], []]
        assert len(made) == 1 and made[0].startswith(cgroups.tracking().parent)
    finally:
        kill_markers(markers)


def test_escapees_of_a_finished_job_are_killed(kind: str, made: list[str], tmp_path: Path) -> None:
    markers = [unique_sleep() for _ in range(3)]
    try:
        script = escapes(markers) + "sleep 0.3; echo done"  # the escapees are up by then
        result = LocalLauncher(grace_s=0.3).run(job(tmp_path, script))
        assert result.exit_code == 0
        assert "done" in (tmp_path / "job.log").read_text()
        assert [live_pids_with(m) for m in markers] == [[], [], []]
        assert len(made) == 1
    finally:
        kill_markers(markers)


def test_a_forking_loop_is_killed(kind: str, made: list[str], tmp_path: Path) -> None:
    """Nothing forks away while the job is being killed (cgroup.kill, freezer, pids.max)."""
    marker = unique_sleep()
    try:
        script = f"while :; do sleep {marker} & setsid env -i sleep {marker} & done"
        result = LocalLauncher(grace_s=0.1).run(job(tmp_path, script, timeout_s=0.5))
        assert result.timed_out
        assert live_pids_with(marker) == []
    finally:
        kill_markers([marker])


def test_v2_without_cgroup_kill_freezes_then_kills(
    made: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kernels 5.2 to 5.13 have cgroup.freeze but no cgroup.kill."""
    monkeypatch.setenv(cgroups.SWITCH, "v2")
    if cgroups.tracking().kind is None:
        pytest.skip(f"no usable cgroup v2: {cgroups.tracking().reason}")
    write = cgroups._write
    refused: list[str] = []

    def no_kill(path: str, value: str) -> bool:
        if path.endswith("cgroup.kill"):
            refused.append(path)
            return False
        return write(path, value)

    monkeypatch.setattr(cgroups, "_write", no_kill)
    marker = unique_sleep()
    try:
        script = f"while :; do setsid env -i sleep {marker} & done"
        result = LocalLauncher(grace_s=0.1).run(job(tmp_path, script, timeout_s=0.5))
        assert result.timed_out and refused
        assert live_pids_with(marker) == []
    finally:
        kill_markers([marker])


HARNESS = """
import json, sys, time
from pathlib import Path
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.launchers.reaper import REAPER
d = Path(sys.argv[1])
jobs = []
for i, script in enumerate(json.loads(sys.argv[2])):
    p = LocalLauncher().start(Job(['sh', '-c', script], cwd=d, log_path=d / f'{i}.log',
                                  timeout_s=60))
    jobs.append({'pgid': p.pid, 'token': p.token, 'cgroup': p.cgroup})
print(json.dumps({'jobs': jobs, 'reaper': REAPER._proc.pid}), flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def harness(tmp_path: Path, scripts: list[str]) -> Iterator[tuple[subprocess.Popen[bytes], dict]]:
    """A harness process running ``scripts`` as local jobs; killed at the end whatever happens."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path), json.dumps(scripts)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    started: dict = {}
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        yield proc, started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for one in started.get("jobs", []):
            end_leftover_job(one["pgid"], one["token"], one["cgroup"], 0)


def test_the_reaper_ends_cgroup_jobs_of_a_sigkilled_harness(kind: str, tmp_path: Path) -> None:
    markers = [unique_sleep() for _ in range(4)]
    scripts = [escapes(markers[:3]) + "wait", f"sleep {markers[3]}"]
    try:
        with harness(tmp_path, scripts) as (proc, started):
            cgroup_paths = [j["cgroup"] for j in started["jobs"]]
            parent = cgroups.tracking().parent
            assert all(p and p.startswith(parent) for p in cgroup_paths)
            assert wait_until(lambda: all(live_pids_with(m) for m in markers), 10)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            assert wait_until(lambda: not any(live_pids_with(m) for m in markers), 1.0)
            assert wait_until(lambda: not any(os.path.exists(p) for p in cgroup_paths), 3.0)
    finally:
        kill_markers(markers)


@pytest.mark.parametrize("mode", ["cgroup", "fallback"])
def test_end_leftover_job_of_a_harness_killed_with_its_reaper(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Harness and reaper SIGKILLed: the jobs live on until a later run ends them."""
    use_mode(mode, monkeypatch)
    markers = [unique_sleep() for _ in range(4)]
    # Without a cgroup only children that keep the token can be found.
    script = (
        escapes(markers[:3]) if mode == "cgroup" else f"setsid sleep {markers[0]} & "
    ) + f"sleep {markers[3]}"
    markers = markers if mode == "cgroup" else [markers[0], markers[3]]
    try:
        with harness(tmp_path, [script]) as (proc, started):
            (one,) = started["jobs"]
            assert (one["cgroup"] is not None) == (mode == "cgroup")
            assert wait_until(lambda: all(live_pids_with(m) for m in markers), 10)
            os.kill(started["reaper"], signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            time.sleep(0.5)
            assert all(live_pids_with(m) for m in markers), "nothing ended them yet"
            assert end_leftover_job(one["pgid"], one["token"], one["cgroup"], 0.5)
            assert [live_pids_with(m) for m in markers] == [[]] * len(markers)
            assert one["cgroup"] is None or not os.path.exists(one["cgroup"])
            assert not end_leftover_job(one["pgid"], one["token"], one["cgroup"], 0.5)
    finally:
        kill_markers(markers)


def test_end_leftover_job_spares_a_reused_process_group(tmp_path: Path) -> None:
    """A process group id from the journal now belongs to someone else (no token in it)."""
    marker = unique_sleep()
    other = subprocess.Popen(["sleep", marker], start_new_session=True)
    try:
        token = uuid.uuid4().hex
        assert not end_leftover_job(other.pid, token, None, 0.1)
        # A cgroup that is not this token's job cgroup is never touched either.
        assert not end_leftover_job(other.pid, token, "/sys/fs/cgroup/unified", 0.1)
        assert not end_leftover_job(other.pid, token, str(tmp_path), 0.1)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_turned_off_falls_back_to_process_group_and_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cgroups.SWITCH, "0")
    complete, how = tracking_method()
    assert complete and "process group + SPILOT_JOB_TOKEN" in how
    assert "turned off by SPILOT_CGROUPS=0" in how
    process = LocalLauncher().start(job(tmp_path, "echo $SPILOT_JOB_TOKEN"))
    assert process.cgroup is None
    assert process.wait(10) == 0
    process.reap_leftovers(0.1)
    assert (tmp_path / "job.log").read_text().strip() == process.token


def test_the_fallback_misses_what_cgroups_catch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why cgroups: 'setsid env -i' leaves process group and token behind."""
    monkeypatch.setenv(cgroups.SWITCH, "0")
    marker = unique_sleep()
    try:
        script = f"setsid env -i sleep {marker} & sleep 0.3"  # time to leave the group
        LocalLauncher(grace_s=0.1).run(job(tmp_path, script))
        assert live_pids_with(marker), "the escapee should have survived without cgroups"
    finally:
        kill_markers([marker])


@pytest.mark.parametrize(
    ("mounts", "reason"),
    [
        ({}, "no cgroup file system mounted"),
        ({"v2": ("/nonexistent/cgroup", "/", "/")}, "no write access to /nonexistent/cgroup"),
        ({"v2": ("/sys/fs/cgroup", "/docker/abc", "/other")}, "outside the mounted part"),
        ({"pids": ("{tmp}", "/", "/")}, "none of pids.max"),  # not a cgroup file system
    ],
)
def test_detection_falls_back_cleanly(
    mounts: dict[str, tuple[str, str, str]],
    reason: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mounts = {k: (v[0].replace("{tmp}", str(tmp_path)), *v[1:]) for k, v in mounts.items()}
    monkeypatch.setattr(cgroups, "_mounts", lambda: mounts)
    found = cgroups._detect("auto")
    assert found.kind is None and reason in found.reason
    assert not (tmp_path / cgroups.PARENT).exists()  # the probe left nothing


@pytest.mark.parametrize("value", ["0", "off"])
def test_switch_turns_cgroups_off(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cgroups.SWITCH, value)
    assert cgroups.tracking().kind is None
    assert cgroups.create(uuid.uuid4().hex) is None


def test_a_job_sees_the_same_environment_and_errors_with_a_cgroup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wrapper that enters the cgroup changes nothing the job can see: environment (PWD and
    names sh would drop included), argv[0], "not found" as a start failure."""
    monkeypatch.setenv(cgroups.SWITCH, "auto")
    if cgroups.tracking().kind is None:
        pytest.skip(f"no usable cgroup hierarchy: {cgroups.tracking().reason}")
    monkeypatch.setenv("PWD", "/somewhere/else")

    def seen(mode: str, env: dict[str, str]) -> tuple[set[str], str]:
        monkeypatch.setenv(cgroups.SWITCH, mode)
        log = tmp_path / f"{mode}-{len(env)}.log"
        spec = Job(
            [
                sys.executable,
                "-c",
                "import os, sys; print(repr(sys.orig_argv[0])); print(dict(os.environ))",
            ],
            cwd=tmp_path,
            log_path=log,
            timeout_s=20,
            env=env,
        )
        process = LocalLauncher().start(spec)
        assert (process.cgroup is not None) == (mode == "auto")
        assert process.wait(20) == 0
        process.reap_leftovers(0.1)
        argv0, environ = log.read_text().splitlines()
        hidden = (TOKEN_VAR, cgroups.SWITCH)
        names = {f"{k}={v}" for k, v in eval(environ).items() if k not in hidden}
        return names, argv0

    for env in ({}, {"A.B": "1", "X-Y": "2"}):
        assert seen("auto", env) == seen("0", env)
    monkeypatch.setenv(cgroups.SWITCH, "auto")
    missing = Job(["no-such-tool-xyz"], cwd=tmp_path, log_path=tmp_path / "m.log", timeout_s=5)
    result = LocalLauncher().run(missing)
    assert result.exit_code == 127 and "cannot start 'no-such-tool-xyz'" in result.message


def test_a_job_that_cannot_enter_its_cgroup_does_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its cgroup vanished before the job started: no untracked job, a message in its log."""
    monkeypatch.setenv(cgroups.SWITCH, "auto")
    if cgroups.tracking().kind is None:
        pytest.skip(f"no usable cgroup hierarchy: {cgroups.tracking().reason}")
    create = cgroups.create

    def vanishing(token: str) -> str | None:
        path = create(token)
        assert path is not None
        cgroups.remove(path)
        return path

    monkeypatch.setattr(cgroups, "create", vanishing)
    result = LocalLauncher().run(job(tmp_path, "touch ran"))
    assert result.exit_code == cgroups.ENTER_FAILED_EXIT_CODE
    assert "cannot enter the job's cgroup" in (tmp_path / "job.log").read_text()
    assert not (tmp_path / "ran").exists()


DIES_STARTING = """
import json, os, signal, subprocess, sys
from pathlib import Path
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.local import LocalLauncher
Popen = subprocess.Popen


class Dying(Popen):
    # The harness is SIGKILLed the moment its job's process exists, before it knows its pid.
    def __init__(self, argv, **kwargs):
        super().__init__(argv, **kwargs)
        if "SPILOT_JOB_TOKEN" in (kwargs.get("env") or {}):  # the job, not reaper or probe
            print(json.dumps({"argv": argv, "token": kwargs["env"]["SPILOT_JOB_TOKEN"]}))
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


subprocess.Popen = Dying
d = Path(sys.argv[1])
LocalLauncher().run(Job(['sh', '-c', sys.argv[2]], cwd=d, log_path=d / 'job.log', timeout_s=60))
"""


@pytest.mark.parametrize("mode", ["cgroup", "fallback"])
def test_a_harness_killed_while_starting_a_job_leaves_nothing(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reaper hears of the job (and its cgroup) before the job exists."""
    use_mode(mode, monkeypatch)
    markers = [unique_sleep() for _ in range(4)]
    script = (escapes(markers[:3]) if mode == "cgroup" else "") + f"sleep {markers[3]}"
    markers = markers if mode == "cgroup" else markers[3:]
    proc = subprocess.Popen(
        [sys.executable, "-c", DIES_STARTING, str(tmp_path), script],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        started = json.loads(out)
        cgroup = next((a.rsplit("/", 1)[0] for a in started["argv"] if "cgroup.procs" in a), None)
        assert (cgroup is not None) == (mode == "cgroup")
        assert wait_until(lambda: not any(live_pids_with(m) for m in markers), 3.0)
        assert cgroup is None or wait_until(lambda: not os.path.exists(cgroup), 3.0)
    finally:
        kill_markers(markers)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_cgroups_left_by_dead_harnesses_are_swept(kind: str) -> None:
    """Harness and reaper both killed (or a harness killed while probing): the next harness
    removes their empty cgroups, but not one a live harness made a moment ago."""
    parent = cgroups.tracking().parent
    stale = os.path.join(parent, uuid.uuid4().hex)
    probe = os.path.join(parent, "probe-999999999-1")  # no such process
    young = os.path.join(parent, uuid.uuid4().hex)
    for path in (stale, probe, young):
        cgroups._mkdir(path)
    try:
        old = time.time() - cgroups.STALE_S - 10
        os.utime(stale, (old, old))
        cgroups._detect(kind)
        assert not os.path.exists(stale) and not os.path.exists(probe)
        assert os.path.exists(young)
    finally:
        for path in (stale, probe, young):
            cgroups.remove(path)
