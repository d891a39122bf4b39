"""The pytest plugin: wires pytest's hooks onto the pytest-spilot library."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_spilot import builtins, hookspecs
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.loader import PLAN_SUFFIXES
from pytest_spilot.plugin.nodes import RELEASE_KEY, PlanFile, SpilotItem
from pytest_spilot.plugin.reporter import ReleaseReporter
from pytest_spilot.registry import Registry
from pytest_spilot.release import Release
from pytest_spilot.reporting.plan import render_plan
from pytest_spilot.settings import Settings

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler.protocol import Scheduling

MARKERS = {
    "release": "a release validation or acceptance threshold",
    "gate": "a migration or release gate: must hold before validations are worth running",
    "smoke": "a fast check on the pseudo backends",
    "innovus": "needs an Innovus session (pseudo, Tcl stand-in or real)",
    "librelane": "needs a LibreLane flow (pseudo or real)",
    "remote": "needs a remote node (SSH) or a batch system",
}
INVENTORY_NAMES = ("nodes.yaml", "nodes.yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spilot", "release validation (pytest-spilot)")
    group.addoption(
        "--spilot-version",
        metavar="VERSION",
        help="release version the results belong to (default: git describe, "
        "else 'dev'; ini: spilot_version)",
    )
    group.addoption(
        "--spilot-state",
        metavar="PATH",
        help="release state file (default: .spilot/<version>.json)",
    )
    group.addoption(
        "--spilot-resume",
        action="store_true",
        help="skip validations that already passed for this version",
    )
    group.addoption(
        "--spilot-baseline",
        metavar="PATH|VERSION",
        help="earlier release's state that 'baseline:' thresholds compare with",
    )
    group.addoption(
        "--spilot-runs", metavar="DIR", help="root of the run directories (default: .spilot/runs)"
    )
    group.addoption(
        "--spilot-plan", action="store_true", help="print the expanded release plan and run nothing"
    )
    parser.addini(
        "spilot_paths",
        type="paths",
        default=[],
        help="folders whose *.yaml/*.yml files are validation files (default: validations)",
    )
    parser.addini("spilot_version", default="", help="default for --spilot-version")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)
    pluginmanager.register(builtins, "spilot-builtins")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    if config.getoption("spilot_plan"):
        # The plan is printed by the process that collects: keep it in this one.
        config.option.numprocesses = 0
        config.option.dist = "no"
        config.option.tx = []


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        settings = Settings.resolve(
            config.rootpath,
            version=config.getoption("spilot_version") or config.getini("spilot_version") or None,
            state_path=config.getoption("spilot_state"),
            runs_root=config.getoption("spilot_runs"),
            resume=config.getoption("spilot_resume"),
            baseline=config.getoption("spilot_baseline"),
        )
        release = Release(
            settings,
            Registry.from_hook(config.hook),
            notify=lambda record: config.hook.pytest_spilot_validation_finished(record=record),
        )
    except SpilotError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RELEASE_KEY] = release
    config.pluginmanager.register(PlanFileErrors(), "spilot-plan-file-errors")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ReleaseReporter(settings), "spilot-reporter")


def _plan_dirs(config: pytest.Config) -> list[Path]:
    return list(config.getini("spilot_paths")) or [config.rootpath / "validations"]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> PlanFile | None:
    if file_path.suffix not in PLAN_SUFFIXES or file_path.name in INVENTORY_NAMES:
        return None
    under_plan_dir = any(file_path.is_relative_to(d) for d in _plan_dirs(parent.config))
    if under_plan_dir or parent.session.isinitpath(file_path):
        return PlanFile.from_parent(parent, path=file_path)
    return None


class PlanFileErrors:
    """A broken plan file is its own collection error and the other files still run.

    Only when every collection error is a plan file's: Python modules keep pytest's usual rule.
    """

    def __init__(self) -> None:
        self.nodeids: set[str] = set()

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid.endswith(PLAN_SUFFIXES):
            self.nodeids.add(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.nodeids and session.testsfailed == len(self.nodeids):
            session.config.option.continue_on_collection_errors = True


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("spilot_plan"):
        return
    planned = {
        item.validation.key: item.validation for item in items if isinstance(item, SpilotItem)
    }
    validations = list(planned.values())
    release = config.stash[RELEASE_KEY]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    text = render_plan(validations, release.registry, release.settings)
    if reporter is not None:
        reporter.write_line(text)
    config.hook.pytest_deselected(items=list(items))
    items.clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.getoption("spilot_plan") and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    if config.getoption("dist") != "load":
        return None
    from pytest_spilot.plugin.scheduler import ValidationScopeScheduling

    return ValidationScopeScheduling(config, log)
