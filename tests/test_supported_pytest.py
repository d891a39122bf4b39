"""pytest 8.4 is supported beside pytest 9 (pip's pick): the plugin's end-to-end tests, the item
id round trips and the shipped release plan run under pytest 8.4 too, in the environment that
``.ci/run`` prepares; pyproject's range says the same."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTEST8 = ROOT / ".ci" / "pytest8" / "bin" / "python"
PREPARE = (
    "python3 -m venv --without-pip --system-site-packages .ci/pytest8 && "
    ".ci/pytest8/bin/python -m pip install 'pytest>=8.4,<8.5'"
)


@pytest.fixture(scope="module")
def pytest8() -> Path:
    if not PYTEST8.exists():
        message = f"no pytest 8 environment at {PYTEST8.parent.parent}; prepare it: {PREPARE}"
        if os.environ.get("CI"):
            pytest.fail(f".ci/run did not prepare it: {message}")
        pytest.skip(message)
    version = subprocess.run(
        [PYTEST8, "-c", "import pytest; print(pytest.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("8.4."), f"{PYTEST8} has pytest {version}; {PREPARE}"
    return PYTEST8


def run(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_end_to_end_tests_pass_under_pytest_8(pytest8: Path) -> None:
    done = run(pytest8, "tests/plugin/test_plugin_e2e.py")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "pytest-8." in done.stdout  # the session header: it really ran under pytest 8


def test_item_ids_round_trip_under_pytest_8(pytest8: Path) -> None:
    done = run(pytest8, "tests/plugin/test_ids.py")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "pytest-8.4." in done.stdout


# Issue 14's points, each with its tests: checks at collection and the plan view, site skills
# and contracts, the unknown skill, the doctor reading the plan, path-or-version in the CLI.
NEW_USER_TESTS = (
    "tests/plan/test_checks.py",
    "tests/reporting/test_plan_view.py",
    "tests/innovus/test_contracts.py",
    "tests/runners/test_innovus_runner.py",
    "tests/plugin/test_migration_plugin.py",
    "tests/cli/test_doctor.py",
    "tests/cli/test_cli_main.py",
)


def test_what_a_new_user_hit_is_fixed_under_pytest_8(pytest8: Path) -> None:
    done = run(pytest8, *NEW_USER_TESTS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "pytest-8.4." in done.stdout


def test_pyproject_range_is_what_ci_tests() -> None:
    """CI's other environment: pip installs the newest pytest the range allows (9.x)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "pytest>=8.4,<10" in project["dependencies"]
    if os.environ.get("CI"):
        assert pytest.__version__.startswith("9."), pytest.__version__


def test_the_shipped_plan_runs_under_pytest_8(pytest8: Path, tmp_path: Path) -> None:
    junit = tmp_path / "release.xml"
    done = run(
        pytest8,
        "-m",
        "release",
        "validations/",
        "--spilot-version",
        "pytest8-check",
        f"--junitxml={junit}",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "platform linux -- Python" in done.stdout and "pytest-8." in done.stdout
    assert 'failures="0"' in junit.read_text() and 'errors="0"' in junit.read_text()
