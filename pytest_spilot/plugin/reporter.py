"""The release table at the end of the terminal summary, built from item reports (also xdist's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_spilot.atomic import write_atomic
from pytest_spilot.core.settings import Settings
from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.evidence import COMPATIBILITY_FILE, EvidenceMatrix, evidence_matrix
from pytest_spilot.librelane.progress import read_progress
from pytest_spilot.reporting.table import ReleaseTable


class ReleaseReporter:
    """Registered on the controller only: workers' reports reach it with their properties."""

    def __init__(
        self, settings: Settings, evidence: Path | None = None, fold_warnings: Sequence[str] = ()
    ) -> None:
        self.settings = settings
        self.table = ReleaseTable()
        self.flows: dict[str, str] = {}  # validation -> where its LibreLane run got to
        self.evidence = evidence
        self.compatibility: dict[str, Path] = {}  # migration gate -> its compatibility.json
        self.matrix: EvidenceMatrix | None = None
        self.evidence_error = ""
        self.fold_warnings = list(fold_warnings)
        self.fold_error = ""

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
            for name, value in report.user_properties:
                if name == "artifact" and Path(str(value)).name == COMPATIBILITY_FILE:
                    self.compatibility[str(props["validation"])] = Path(str(value))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._fold(session)
        if self.evidence is None:
            return
        try:
            self.matrix = evidence_matrix(
                self.settings.version, [self.compatibility[k] for k in sorted(self.compatibility)]
            )
        except SpilotError as exc:
            self.evidence_error = str(exc)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a lost result fails the run
            return
        self.evidence.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.evidence, self.matrix.model_dump_json(indent=2))

    def _fold(self, session: pytest.Session) -> None:
        """The release document from the journal, once every process has written its results.

        The results are safe in the journal already; a fold that fails loses none of them,
        but the run fails so that nobody publishes a document that lacks them.
        """
        store = ReleaseStore(self.settings.state_path, self.settings.version)
        try:
            self.fold_warnings += store.fold().warnings
        except (SpilotError, OSError) as exc:
            self.fold_error = f"{exc} (the results are kept in {store.journal_dir})"
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for warning in self.fold_warnings:
            terminalreporter.write_line(f"spilot journal: warning: {warning}")
        if self.fold_error:
            terminalreporter.write_line(f"spilot state: not written: {self.fold_error}")
        if self.evidence_error:
            terminalreporter.write_line(f"spilot evidence: not written: {self.evidence_error}")
        elif self.matrix is not None:
            gates = len(self.matrix.gates)
            terminalreporter.write_line(
                f"spilot evidence: {self.evidence} ({self.matrix.status}; {gates} migration gates"
                + (
                    "; none ran: select them with -m gate and a 'kind: migration' gate)"
                    if not gates
                    else ")"
                )
            )
        if not self.table.rows:
            return
        terminalreporter.write_sep("=", f"spilot release {self.settings.version}")
        terminalreporter.write_line(self.table.render([f"state: {self.settings.state_path}"]))
        if self.flows:  # under xdist the only place a flow's progress shows
            terminalreporter.write_line("librelane runs:")
            for validation, line in sorted(self.flows.items()):
                terminalreporter.write_line(f"  {validation}: {line}")
