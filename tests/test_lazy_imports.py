"""Issue 12: every pytest process imports the plugin, so what only some runs use is lazy.

paramiko, the Innovus session machinery and backends, and the LibreLane flow support are
imported by the first validation or fixture that needs them, never at start-up.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_spilot import builtin_plugin

HEAVY = (
    "paramiko",
    "librelane",
    "pytest_spilot.innovus",
    "pytest_spilot.librelane",
    "pytest_spilot.remote.connection",
    "pytest_spilot.remote.process",
    "pytest_spilot.remote.inventory",
    "pytest_spilot.runners.innovus",
    "pytest_spilot.runners.librelane",
    "pytest_spilot.runners.migration_gate",
)
# What every process holds (the release's session and flows objects): cheap fronts that import
# their machinery on first use. Their packages' empty __init__ come with them.
FRONTS = {
    "pytest_spilot.innovus",
    "pytest_spilot.innovus.session",
    "pytest_spilot.innovus.supervisor",
    "pytest_spilot.librelane",
    "pytest_spilot.librelane.service",
}

# The controller's reporter reads flow progress and migration evidence out of the reports.
REPORTER = {"pytest_spilot.innovus.evidence", "pytest_spilot.librelane.progress"}

PRINT_MODULES = "import sys; print('\\n'.join(sorted(sys.modules)))"


def heavy(modules: list[str], allowed: set[str] = frozenset()) -> list[str]:
    return [
        m
        for m in modules
        if m not in allowed and any(m == h or m.startswith(h + ".") for h in HEAVY)
    ]


def test_importing_the_plugin_imports_no_heavy_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", f"import pytest_spilot.plugin; {PRINT_MODULES}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "pytest_spilot.plugin" in out
    # Of the fronts only the flows' class, which pytest_configure names; the session's module
    # is imported where the session object is made.
    assert heavy(out, {"pytest_spilot.librelane", "pytest_spilot.librelane.service"}) == []


def test_collecting_a_command_plan_imports_no_heavy_module(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        **{
            "validations/plan": """
version: 1
validations:
  - name: job
    run: 'echo value=1'
    metrics:
      value: {regex: 'value=([0-9]+)'}
    acceptance:
      - {metric: value, op: "==", value: 1}
"""
        },
    )
    pytester.makeconftest(
        """
import sys
from pathlib import Path

def pytest_unconfigure(config):
    Path("modules.txt").write_text("\\n".join(sorted(sys.modules)))
"""
    )
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    result.assert_outcomes()
    result.stdout.fnmatch_lines(["*plan.yaml::job::run", "*plan.yaml::job::value==1"])
    modules = (pytester.path / "modules.txt").read_text().split()
    assert "pytest_spilot.plan.model" in modules  # the conftest saw the plugin at work
    assert heavy(modules, FRONTS | REPORTER) == []


def test_deferred_builtins_are_what_they_are_registered_as() -> None:
    hooks = [
        ("kind", "run", builtin_plugin.pytest_spilot_runners),
        ("name", "create", builtin_plugin.pytest_spilot_session_backends),
        ("name", "command", builtin_plugin.pytest_spilot_flow_backends),
    ]
    deferred = 0
    for key, method, hook in hooks:
        for ext in hook():
            if isinstance(ext, builtin_plugin.Deferred):
                deferred += 1
                real = ext.resolve()
                assert type(real).__name__ in repr(ext)
                assert getattr(real, key) == getattr(ext, key)
                assert ext.resolve() is real  # made once
                assert getattr(ext, method).__self__ is real
    assert deferred == 8
