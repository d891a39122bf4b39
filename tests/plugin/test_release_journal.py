"""The release journal end to end: SIGKILL and resume, regression verdicts, shared modes."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_spilot.cli import main
from pytest_spilot.store import ReleaseStore

MARK = "spilot-kill-test"


def kill_plan(count: Path, n: int) -> str:
    # Every job appends its validation's id to `count`, so the test sees what ran how often.
    return f"""
version: 1
validations:
  - name: job
    matrix: {{i: {list(range(n))}}}
    run: 'echo {{i}} >> {count}; : {MARK}; sleep 0.{{i}}5; echo v=1'
    metrics: {{v: {{regex: 'v=(\\d)'}}}}
    acceptance:
      - {{metric: v, op: ">=", value: 1}}
      - {{metric: v, op: "<=", value: 1}}
"""


def _job_processes() -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if MARK.encode() in cmdline and b"pytest" not in cmdline and state != b"Z":
            found.append(int(entry.name))
    return found


def _no_job_survives() -> None:
    """Jobs live in sessions of their own; the harness's reaper ends them within 1 s."""
    killed = time.monotonic()
    while _job_processes() and time.monotonic() - killed < 1:
        time.sleep(0.02)
    left = _job_processes()
    for pid in left:  # leave nothing behind, then fail
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert left == [], "job processes outlived the SIGKILLed harness"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_random_instants_then_resume(pytester: pytest.Pytester, seed: int) -> None:
    """Kill a ``-n 2`` release at a seeded instant; no job outlives it, the journal keeps
    every reported pass, a torn line is skipped with a warning, and the resumed run re-runs
    only what had not passed."""
    n = 10
    count = pytester.path / "count"
    pytester.makefile(".yaml", **{"validations/r": kill_plan(count, n)})
    version = f"k{seed}"
    instant = random.Random(seed).uniform(1.5, 5.0)
    log = pytester.path / "first.log"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-v"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--spilot-version", version],
            cwd=pytester.path,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.wait(instant)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            _no_job_survives()
    store = ReleaseStore(pytester.path / ".spilot" / f"{version}.json", version)
    # Simulate the worst instant of all: a writer killed in the middle of a line.
    journals = sorted(store.journal_dir.glob("*.jsonl")) if store.journal_dir.is_dir() else []
    if journals:
        with journals[-1].open("ab") as fh:
            fh.write(b'{"event": "threshold_judged", "key": "validati')
    folded = store.read()  # never raises, whatever the instant
    reported = re.findall(r"PASSED validations/r\.yaml::(job\[\d+\])::(\S+)", log.read_text())
    state = folded.state
    for validation, item in reported:
        assert state is not None, f"reported {validation}::{item} passed, but nothing was kept"
        record = state.validations[f"validations/r.yaml::{validation}"]
        if item == "run":
            assert record.run is not None and record.run.outcome == "passed"
        else:
            assert record.thresholds[item].outcome == "passed"
    if journals:
        assert any("torn last line" in w for w in folded.warnings)
    passed = {r.id for r in state.validations.values() if r.passed} if state else set()
    ran_before = count.read_text().split() if count.exists() else []

    resumed = pytester.run(*cmd, "--spilot-version", version, "--spilot-resume", "-rs", timeout=120)
    resumed.assert_outcomes(passed=3 * (n - len(passed)), skipped=3 * len(passed))
    if journals:
        resumed.stdout.fnmatch_lines(["*spilot journal: warning: *torn last line*"])
    ran_after = count.read_text().split()[len(ran_before) :]
    assert sorted(f"job[{i}]" for i in ran_after) == sorted(
        f"job[{i}]" for i in range(n) if f"job[{i}]" not in passed
    )
    final = store.read().state
    assert final is not None and all(r.passed for r in final.validations.values())
    assert len(final.validations) == n


REGRESSION_PLAN = """
version: 1
defaults:
  regressions: {area: {direction: lower_is_better}}
validations:
  - name: grows
    run: 'echo "AREA=$((100 + 10 * $STEP))"'
    metrics: {area: {regex: 'AREA=([0-9]+)'}}
    acceptance: [{metric: area, op: "<=", value: 1000}]
  - name: steady
    run: 'echo "AREA=100"'
    metrics: {area: {regex: 'AREA=([0-9]+)'}}
"""


def test_a_release_whose_only_failure_is_a_regression(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makefile(".yaml", **{"validations/plan": REGRESSION_PLAN})
    monkeypatch.setenv("STEP", "0")
    pytester.runpytest_subprocess("--spilot-version", "r1").assert_outcomes(passed=3)
    monkeypatch.setenv("STEP", "1")
    args = ["--spilot-version", "r2", "--spilot-baseline", "r1", "--spilot-regressions"]
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=4, failed=1)

    monkeypatch.chdir(pytester.path)
    out = pytester.path / "r2.xml"
    assert main(["report", "r2", "--junit", str(out)]) == 1
    table = capsys.readouterr().out
    assert re.search(r"^grows\S*\s+local\s+failed", table, re.M), table
    assert re.search(r"^\S*steady\s+local\s+passed", table, re.M), table
    cases = {c.get("name"): c for c in ET.parse(out).getroot().iter("testcase")}
    assert cases["grows::regressions"].find("failure") is not None
    assert "area 100 -> 110" in (cases["grows::regressions"].findtext("system-out") or "")
    assert cases["steady::regressions"].find("failure") is None

    # The regressed validation has not passed: a resumed run runs it again, and only it.
    monkeypatch.setenv("STEP", "0")
    resumed = pytester.runpytest_subprocess(*args, "--spilot-resume")
    resumed.assert_outcomes(passed=3, skipped=2)
    assert main(["report", "r2"]) == 0


def test_release_files_are_shared_with_the_team(pytester: pytest.Pytester) -> None:
    """Under umask 022 every file the run leaves under .spilot/ is 0644 (mkstemp made 0600)."""
    pytester.makefile(".yaml", **{"validations/p": kill_plan(pytester.path / "count", 2)})
    old = os.umask(0o022)
    try:
        pytester.runpytest_subprocess("-n", "2", "--spilot-version", "m1").assert_outcomes(passed=6)
    finally:
        os.umask(old)
    files = [p for p in (pytester.path / ".spilot").rglob("*") if p.is_file()]
    assert any(p.name == "m1.json" for p in files)
    modes = {str(p.relative_to(pytester.path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes


def test_a_run_in_progress_is_readable(pytester: pytest.Pytester) -> None:
    """``spilot report`` folds the journal: results show while the release still runs."""
    flag = pytester.path / "go"
    pytester.makefile(
        ".yaml",
        **{
            "validations/p": f"""
version: 1
validations:
  - name: first
    run: 'echo v=1'
  - name: second
    run: 'while [ ! -f {flag} ]; do sleep 0.05; done # {MARK}'
"""
        },
    )
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--spilot-version", "live"]
    proc = subprocess.Popen(cmd, cwd=pytester.path, stdout=subprocess.DEVNULL)
    store = ReleaseStore(pytester.path / ".spilot" / "live.json", "live")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = store.read().state
            if state and "validations/p.yaml::second" in state.validations:
                break
            time.sleep(0.05)
        assert state is not None
        assert state.validations["validations/p.yaml::first"].verdict == "passed"
        assert state.validations["validations/p.yaml::second"].verdict == "unfinished"
        assert not store.path.exists()  # nothing was folded yet: read from the journal alone
    finally:
        flag.touch()
        assert proc.wait(60) == 0
    assert store.path.exists() and not list(store.journal_dir.glob("*.jsonl"))
