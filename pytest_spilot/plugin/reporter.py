"""The release table at the end of the terminal summary, built from item reports (also xdist's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_spilot.librelane.progress import read_progress
from pytest_spilot.reporting.table import ReleaseTable
from pytest_spilot.settings import Settings


class ReleaseReporter:
    """Registered on the controller only: workers' reports reach it with their properties."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.table = ReleaseTable()
        self.flows: dict[str, str] = {}  # validation -> where its LibreLane run got to

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props: dict[str, Any] = dict(report.user_properties)
        if "spilot" not in props:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
            self.table.add_item(str(props["validation"]), outcome, props)
            if str(props.get("location", "")).startswith("librelane:") and props.get("run_dir"):
                progress = read_progress(Path(str(props["run_dir"])) / "librelane")
                if progress:
                    self.flows[str(props["validation"])] = progress[-1].line()

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.table.rows:
            return
        terminalreporter.write_sep("=", f"spilot release {self.settings.version}")
        terminalreporter.write_line(self.table.render([f"state: {self.settings.state_path}"]))
        if self.flows:  # under xdist the only place a flow's progress shows
            terminalreporter.write_line("librelane runs:")
            for validation, line in sorted(self.flows.items()):
                terminalreporter.write_line(f"  {validation}: {line}")
