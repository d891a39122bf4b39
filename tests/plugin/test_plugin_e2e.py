"""The plugin end to end: a plan file run by a real pytest in a subprocess (pytester)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from junit_kit import outcomes, properties

from pytest_spilot.core.store import ReleaseStore

PLAN = """
version: 1
defaults:
  timeout_s: 20
validations:
  - name: job
    run: 'echo "SPS=2100" ; echo run >> "$COUNT_FILE"'
    metrics:
      sps: {regex: 'SPS=([0-9.]+)', aggregate: max}
      absent: {regex: 'ABSENT=([0-9]+)'}
    acceptance:
      - {metric: sps, op: ">=", value: 2000}
      - {metric: sps, op: ">=", value: 3000}
      - {metric: absent, op: "==", value: 0}
  - name: hang
    timeout_s: 1
    run: 'echo run >> "$COUNT_FILE"; sleep 31.25'
    metrics: {x: {regex: 'x=([0-9]+)'}}
    acceptance:
      - {metric: x, op: ">=", value: 0}
  - name: grid
    matrix: {pdk: [sky130A, gf180mcuC], preset: [minimal, balanced]}
    run: ["sh", "-c", "echo pdk={pdk} preset={preset} n=${#HOME}; echo run >> \\"$COUNT_FILE\\""]
    metrics:
      n: {regex: 'pdk=\\w+ preset=\\w+', aggregate: count}
    acceptance:
      - {metric: n, op: "==", value: 1}
"""

EXPECTED = {
    "job::run": "passed",
    "job::sps>=2000": "passed",
    "job::sps>=3000": "failed",
    "job::absent==0": "failed",
    "hang::run": "failed",
    "hang::x>=0": "failed",
    **{
        f"grid::{t}[{p}-{s}]": "passed"
        for p in ("sky130A", "gf180mcuC")
        for s in ("minimal", "balanced")
        for t in ("run", "n==1")
    },
}


@pytest.fixture
def plan(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytester.makefile(".yaml", **{"validations/plan": PLAN})
    count = pytester.path / "count.txt"
    monkeypatch.setenv("COUNT_FILE", str(count))
    return count


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_outcomes_per_test_id(pytester: pytest.Pytester, plan: Path, workers: list[str]) -> None:
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        *workers, "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )
    assert outcomes(junit) == EXPECTED
    result.assert_outcomes(passed=10, failed=4)
    # Each job ran exactly once, whichever item asked first.
    assert plan.read_text().count("run") == 6
    props = properties(junit, "job::sps>=3000")
    assert props["value"] == "2100" and props["op"] == ">=" and props["expected"] == "3000"
    assert Path(props["log"]).read_text().startswith("SPS=2100")
    assert properties(junit, "job::run")["metric.sps"] == "2100"
    assert "metric missing" in properties(junit, "job::absent==0")["summary"]
    hang = properties(junit, "hang::run")
    assert hang["exit_code"] == "124"
    result.stdout.fnmatch_lines(["*spilot release*", "validation*location*result*", "*state:*"])


def test_matrix_values_and_run_dir(pytester: pytest.Pytester, plan: Path) -> None:
    pytester.runpytest_subprocess("-k", "grid and sky130A and minimal")
    state = json.loads((pytester.path / ".spilot" / "dev.json").read_text())
    record = state["validations"]["validations/plan.yaml::grid[sky130A-minimal]"]
    log = Path(record["run"]["log"]).read_text()
    # Matrix names are replaced; the shell's own ${#HOME} is left to the shell.
    assert re.match(r"pdk=sky130A preset=minimal n=\d+", log)
    assert record["run"]["run_dir"].endswith("runs/dev/validations/plan/grid[sky130A-minimal]")


def test_items_of_a_validation_stay_on_one_worker(pytester: pytest.Pytester) -> None:
    """Fails if any validation's items are split across xdist workers."""
    entries = "\n".join(
        f"  - name: v{i}\n    run: ['true']\n    metrics:\n"
        + "".join(f"      m{j}: {{regex: 'm{j}=(\\d+)'}}\n" for j in range(4))
        + "    acceptance:\n"
        + "".join(f"      - {{metric: m{j}, op: '>=', value: 0}}\n" for j in range(4))
        for i in range(12)
    )
    pytester.makefile(".yaml", **{"validations/many": f"version: 1\nvalidations:\n{entries}"})
    pytester.makeconftest(
        """
        def pytest_runtest_logreport(report):
            node = getattr(report, "node", None)
            if node is not None and report.when == "call":
                with open("workers.txt", "a") as fh:
                    fh.write(f"{report.nodeid} {node.gateway.id}\\n")
        """
    )
    pytester.runpytest_subprocess("-n", "2")
    seen: dict[str, set[str]] = {}
    for line in (pytester.path / "workers.txt").read_text().splitlines():
        nodeid, worker = line.rsplit(" ", 1)
        seen.setdefault(nodeid.rsplit("::", 1)[0], set()).add(worker)
    assert len(seen) == 12
    assert all(len(workers) == 1 for workers in seen.values()), seen
    assert len(set().union(*seen.values())) == 2  # and the work was still shared


def test_bad_file_is_a_collection_error_others_run(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        **{
            "validations/bad": "version: 1\nvalidations:\n  - name: a\n    runn: [true]\n",
            "validations/good": "version: 1\nvalidations:\n  - name: ok\n    run: ['true']\n",
        },
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, errors=1)
    assert "bad.yaml:4: validations[0].runn: unknown key 'runn'; did you mean 'run'?" in (
        result.stdout.str()
    )
    assert "Traceback" not in result.stdout.str()


def test_markers_and_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        **{
            "validations/m": (
                "version: 1\nmarkers: [smoke]\nvalidations:\n"
                "  - {name: a, run: ['true']}\n  - {name: b, run: ['true'], markers: [remote]}\n"
            )
        },
    )
    result = pytester.runpytest_subprocess("--strict-markers", "-m", "release and remote")
    result.assert_outcomes(passed=1, deselected=1)
    pytester.makefile(
        ".yaml",
        **{
            "validations/u": (
                "version: 1\nvalidations:\n  - {name: c, run: ['true'], markers: [nonesuch]}\n"
            )
        },
    )
    result = pytester.runpytest_subprocess("--strict-markers")
    result.stdout.fnmatch_lines(["*u.yaml*marker 'nonesuch' is not registered*"])


def test_plan_dry_run_runs_nothing(pytester: pytest.Pytester, plan: Path) -> None:
    result = pytester.runpytest_subprocess("--spilot-plan", "-n", "2")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "spilot plan for release dev*: 6 validations",
            "*threshold sps>=3000  (error, no tolerance)",
            "validations/plan.yaml::grid?sky130A-minimal?  command @ local*",
        ]
    )
    assert not plan.exists()


def test_resume_after_kill_reruns_only_unfinished(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """SIGKILL the whole run while one job hangs; --spilot-resume re-runs only what did not pass."""
    flag = tmp_path / "flag"
    count = tmp_path / "count"
    pytester.makefile(
        ".yaml",
        **{
            "validations/r": f"""
version: 1
validations:
  - name: quick
    run: 'echo quick >> {count}; echo v=1'
    metrics: {{v: {{regex: 'v=(\\d)'}}}}
    acceptance: [{{metric: v, op: "==", value: 1}}]
  - name: waits
    run: 'echo waits >> {count}; test -f {flag} || sleep 41.75'
"""
        },
    )
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-q"]
    proc = subprocess.Popen(
        cmd,
        cwd=pytester.path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state_file = pytester.path / ".spilot" / "dev.json"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _quick_judged(state_file) and "waits" in (
                count.read_text() if count.exists() else ""
            ):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first run never got going")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _kill_leftovers("41.75")
    assert ReleaseStore(state_file).read().state is not None  # still readable after SIGKILL
    flag.touch()
    result = pytester.runpytest_subprocess("--spilot-resume", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*passed in release dev at * (--spilot-resume)*"])
    assert sorted(count.read_text().splitlines()) == ["quick", "waits", "waits"]


def _quick_judged(state_file: Path) -> bool:
    """The quick validation's threshold verdict is saved (its run alone is not enough)."""
    state = ReleaseStore(state_file).read().state  # the document is written at the end
    if state is None or "validations/r.yaml::quick" not in state.validations:
        return False
    return "v==1" in state.validations["validations/r.yaml::quick"].thresholds


def _kill_leftovers(marker: str) -> None:
    """The killed run's job lives in its own session: end it so no process is left behind."""
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
