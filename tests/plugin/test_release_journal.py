"""The release journal end to end: regression verdicts, shared modes, a run read while in
progress (killing a run and resuming it: tests/reliability/test_kill_and_resume.py)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junit_kit import case_id

from pytest_spilot.cli.main import main
from pytest_spilot.core.store import ReleaseStore

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
    cases = {case_id(c): c for c in ET.parse(out).getroot().iter("testcase")}
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
