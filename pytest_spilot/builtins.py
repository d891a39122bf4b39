"""The built-in metric sources, launchers and runners, provided through the same hooks."""

from __future__ import annotations

import pluggy

from pytest_spilot.innovus.backends.pseudo import PseudoBackend
from pytest_spilot.innovus.backends.real import RealBackend
from pytest_spilot.innovus.backends.tcl import TclBackend
from pytest_spilot.innovus.supervisor import SessionBackend
from pytest_spilot.launchers.base import Launcher
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.librelane.backends.base import FlowBackend
from pytest_spilot.librelane.backends.pseudo import PseudoFlowBackend
from pytest_spilot.librelane.backends.real import RealFlowBackend
from pytest_spilot.metrics.base import MetricSource
from pytest_spilot.metrics.jsonfile import JsonMetricSource
from pytest_spilot.metrics.regex import RegexMetricSource
from pytest_spilot.runners.base import ValidationRunner
from pytest_spilot.runners.command import CommandRunner
from pytest_spilot.runners.innovus import InnovusRunner
from pytest_spilot.runners.librelane import LibreLaneRunner
from pytest_spilot.runners.migration_gate import MigrationGateRunner
from pytest_spilot.runners.node_gate import NodeGateRunner
from pytest_spilot.runners.python_gate import PythonGateRunner

hookimpl = pluggy.HookimplMarker("pytest")


@hookimpl
def pytest_spilot_metric_sources() -> list[MetricSource]:
    return [RegexMetricSource(), JsonMetricSource()]


@hookimpl
def pytest_spilot_launchers() -> list[Launcher]:
    return [LocalLauncher()]


@hookimpl
def pytest_spilot_runners() -> list[ValidationRunner]:
    return [
        CommandRunner(),
        InnovusRunner(),
        LibreLaneRunner(),
        NodeGateRunner(),
        PythonGateRunner(),
        MigrationGateRunner(),
    ]


@hookimpl
def pytest_spilot_session_backends() -> list[SessionBackend]:
    return [PseudoBackend(), TclBackend(), RealBackend()]


@hookimpl
def pytest_spilot_flow_backends() -> list[FlowBackend]:
    return [PseudoFlowBackend(), RealFlowBackend()]
