"""Item ids round-trip: what pytest prints, writes to JUnit and caches, it selects again (pytest 8
and 9; tests/test_supported_pytest.py runs this file under pytest 8)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_spilot.cli.main import main

PLAN = """\
version: 1
validations:
  - name: plain
    run: 'echo area=1200'
    metrics:
      area: {regex: 'area=([0-9.]+)'}
    acceptance:
      - {metric: area, op: "<=", value: 1300}
      - {metric: area, op: "<=", value: 1100, level: warning}
  - name: grid
    matrix: {corner: [ss, tt], vdd: [low]}
    run: 'if [ {corner} = ss ]; then echo area=1400; else echo area=1200; fi'
    metrics:
      area: {regex: 'area=([0-9.]+)'}
    acceptance:
      - {metric: area, op: "<=", value: 1300}
  - name: grid2
    matrix: {corner: [ss]}
    run: 'echo area=1'
    metrics:
      area: {regex: 'area=([0-9.]+)'}
    acceptance:
      - {metric: area, op: "<=", value: 1300}
"""
FILE = "validations/plan.yaml"
IDS = [
    f"{FILE}::plain::run",
    f"{FILE}::plain::area<=1300",
    f"{FILE}::plain::area<=1100",
    f"{FILE}::grid::run[ss-low]",
    f"{FILE}::grid::area<=1300[ss-low]",
    f"{FILE}::grid::run[tt-low]",
    f"{FILE}::grid::area<=1300[tt-low]",
    f"{FILE}::grid2::run[ss]",
    f"{FILE}::grid2::area<=1300[ss]",
]
FAILED = [f"{FILE}::grid::area<=1300[ss-low]"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    pytester.makefile(".yaml", **{"validations/plan": PLAN})
    (pytester.path / "pytest.ini").write_text("[pytest]\n")
    return pytester.path


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    """Node ids that ``pytest --collect-only -q ARGS`` selects."""
    result = pytester.runpytest_subprocess("--collect-only", "-q", *args)
    return [line for line in result.outlines if line.startswith(FILE)]


def test_collected_ids_put_matrix_values_last(pytester: pytest.Pytester, project: Path) -> None:
    assert collected(pytester) == IDS


@pytest.mark.parametrize("nodeid", IDS)
def test_each_id_selects_exactly_its_item(
    pytester: pytest.Pytester, project: Path, nodeid: str
) -> None:
    assert collected(pytester, nodeid) == [nodeid]


def test_validation_ids_select_their_items(pytester: pytest.Pytester, project: Path) -> None:
    # A plain validation by its collector; a matrix entry by its name (every combination) or,
    # with -k, by its id in the release state.
    assert collected(pytester, f"{FILE}::plain") == IDS[:3]
    assert collected(pytester, f"{FILE}::grid") == IDS[3:7]
    assert collected(pytester, "-k", "grid[ss-low]") == IDS[3:5]
    assert collected(pytester, "-k", "ss-low") == IDS[3:5]
    assert collected(pytester, "--deselect", IDS[4]) == IDS[:4] + IDS[5:]


def test_terminal_junit_lf_and_state_read_the_same(pytester: pytest.Pytester, project: Path):
    junit = project / "out.xml"
    result = pytester.runpytest_subprocess(
        "-rfE", "-o", "junit_family=xunit1", f"--junitxml={junit}", "--spilot-version", "v1"
    )
    result.assert_outcomes(passed=8, failed=1, warnings=1)
    summary = [line for line in result.outlines if line.startswith("FAILED ")]
    assert [line.split(" - ")[0].removeprefix("FAILED ") for line in summary] == FAILED
    # One shape for plain and matrix items: classname = file + entry, name = item + values.
    cases = [(c.get("classname"), c.get("name")) for c in ET.parse(junit).iter("testcase")]
    assert [f"{FILE}::{c.split('.yaml.', 1)[1]}::{n}" for c, n in cases] == IDS
    assert {c.split(".yaml.", 1)[0] for c, _ in cases} == {"validations.plan"}
    # --lf finds the failed item again by the id pytest cached.
    rerun = pytester.runpytest_subprocess("--lf", "-q", "--spilot-version", "v1")
    rerun.assert_outcomes(failed=1, deselected=8)
    # The state's keys: the validation id, matrix values in brackets, stable across releases.
    state = json.loads((project / ".spilot" / "v1.json").read_text())
    assert sorted(state["validations"]) == [
        f"{FILE}::grid2[ss]",
        f"{FILE}::grid[ss-low]",
        f"{FILE}::grid[tt-low]",
        f"{FILE}::plain",
    ]
    # spilot report --junit names the cases as pytest did.
    report = project / "report.xml"
    assert main(["report", str(project / ".spilot" / "v1.json"), "--junit", str(report)]) == 1
    reported = [(c.get("classname"), c.get("name")) for c in ET.parse(report).iter("testcase")]
    assert sorted(reported) == sorted(cases)


def rerun_command(output: str) -> str:
    commands = re.findall(r"^re-run: (.*)$", output, re.MULTILINE)
    # Twice in CI: pytest does not shorten the summary line there, which repeats the message.
    assert commands and len(set(commands)) == 1, output
    return commands[0]


def run_command(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)  # as a POSIX shell reads it
    assert words[:3] == ["python3", "-m", "pytest"]
    return subprocess.run(
        [sys.executable, *words[1:], "-p", "no:cacheprovider", "-rA"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_failure_ends_with_a_command_that_reruns_its_validation(
    pytester: pytest.Pytester, project: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "--spilot-version", "2026.12-rc1", "--spilot-backend", "pseudo", "--spilot-runs", "my runs"
    )
    result.assert_outcomes(passed=8, failed=1, warnings=1)
    output = result.stdout.str()
    command = rerun_command(output)
    # The last line of the failure's report, before pytest's next section.
    block = output.split("re-run: ", 1)[0].rsplit("_ grid::area<=1300[ss-low] _", 1)[1]
    assert "area" in block and "1400" in block
    assert command == shlex.join(
        [
            "python3",
            "-m",
            "pytest",
            f"{FILE}::grid::run[ss-low]",
            f"{FILE}::grid::area<=1300[ss-low]",
            "--spilot-version",
            "2026.12-rc1",
            "--spilot-backend",
            "pseudo",
            "--spilot-runs",
            "my runs",
        ]
    )
    again = run_command(project, command)
    ran = sorted(re.findall(r"^(?:PASSED|FAILED) (\S+)", again.stdout, re.MULTILINE))
    assert ran == sorted(IDS[3:5]), again.stdout
    assert (project / "my runs" / "2026.12-rc1").is_dir()


def test_a_plain_validation_reruns_by_its_collector(
    pytester: pytest.Pytester, project: Path
) -> None:
    (project / "validations" / "plan.yaml").write_text(PLAN.replace("value: 1300", "value: 10"))
    result = pytester.runpytest_subprocess("-k", "plain", "--spilot-version", "v2")
    result.assert_outcomes(passed=2, failed=1, warnings=1, deselected=6)
    assert rerun_command(result.stdout.str()) == (
        f"python3 -m pytest {FILE}::plain --spilot-version v2"
    )


def test_a_rerun_command_names_paths_from_where_pytest_started(
    pytester: pytest.Pytester, project: Path
) -> None:
    (project / "validations" / "plan.yaml").write_text(PLAN.replace("value: 1300", "value: 10"))
    sub = project / "sub"
    sub.mkdir()
    done = subprocess.run(
        # -n 2: the command is made on an xdist worker
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "-kplain",
            "../validations",
        ],
        cwd=sub,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    command = rerun_command(done.stdout)
    assert command.startswith("python3 -m pytest ../validations/plan.yaml::plain --spilot-version")
    again = subprocess.run(
        [sys.executable, *shlex.split(command)[1:], "-p", "no:cacheprovider", "-rA"],
        cwd=sub,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ran = sorted(re.findall(r"^(?:PASSED|FAILED) (\S+)", again.stdout, re.MULTILINE))
    assert ran == [f"../{FILE}::plain::{p}" for p in ("area<=10", "area<=1100", "run")]


def test_a_missed_warning_threshold_points_at_its_yaml_line(
    pytester: pytest.Pytester, project: Path
) -> None:
    result = pytester.runpytest_subprocess("-k", "plain", "-W", "default")
    result.assert_outcomes(passed=3, warnings=1, deselected=6)
    line = PLAN.splitlines().index('      - {metric: area, op: "<=", value: 1100, level: warning}')
    result.stdout.fnmatch_lines(
        [
            f"*validations/plan.yaml:{line + 1}: SpilotWarning: {FILE}::plain::area<=1100: *",
            '*- {metric: area, op: "<=", value: 1100, level: warning}',
        ]
    )
    assert "nodes.py" not in result.stdout.str()


def test_an_unexpected_error_ends_with_the_command_too(pytester: pytest.Pytester, project: Path):
    pytester.makeconftest(
        """
        from pytest_spilot.core.release import Release

        def judge(*args, **kwargs):
            raise RuntimeError("judge broke")

        Release.judge = judge
        """
    )
    result = pytester.runpytest_subprocess("-k", "grid2")
    result.assert_outcomes(passed=1, failed=1, deselected=7)
    output = result.stdout.str()
    assert "RuntimeError: judge broke" in output
    command = rerun_command(output)
    assert command.startswith(f"python3 -m pytest '{FILE}::grid2::run[ss]' ")
    assert output.index("RuntimeError: judge broke") < output.index("re-run: ")
