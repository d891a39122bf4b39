"""The built-in metric sources, launchers and runners, provided through the same hooks."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

from pytest_spilot.backend_names import PSEUDO, REAL, TCL
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.metrics.jsonfile import JsonMetricSource
from pytest_spilot.metrics.regex import RegexMetricSource
from pytest_spilot.runners.command import CommandRunner
from pytest_spilot.runners.node_gate import NodeGateRunner
from pytest_spilot.runners.python_gate import PythonGateRunner

if TYPE_CHECKING:
    from pytest_spilot.innovus.supervisor import SessionBackend
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.librelane.backends.base import FlowBackend
    from pytest_spilot.metrics.base import MetricSource
    from pytest_spilot.runners.base import ValidationRunner

hookimpl = pluggy.HookimplMarker("pytest")


class Deferred:
    """A built-in known by its name until it is used; then its module is imported.

    Every process registers every built-in, few use the Innovus or LibreLane ones, and their
    modules (session client, pydantic protocol models, flow machinery) are most of the
    package's import time.
    """

    def __init__(self, attr: str, name: str, target: str) -> None:
        setattr(self, attr, name)  # what the registry keys it by: ``name`` or ``kind``
        self._target = target
        self._instance: Any = None

    def __getattr__(self, attr: str) -> Any:
        # Only attributes the proxy lacks get here; dunders are not forwarded (copy, pickle).
        if attr.startswith("__") or attr in ("_target", "_instance"):
            raise AttributeError(attr)
        return getattr(self.resolve(), attr)

    def resolve(self) -> Any:
        """The real object, made on first use."""
        if self._instance is None:
            module, _, cls = self._target.partition(":")
            self._instance = getattr(importlib.import_module(module), cls)()
        return self._instance

    def __repr__(self) -> str:
        return f"<deferred {self._target}>"


def _deferred(attr: str, name: str, target: str) -> Any:
    return Deferred(attr, name, f"pytest_spilot.{target}")


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
        _deferred("kind", "innovus", "runners.innovus:InnovusRunner"),
        _deferred("kind", "librelane", "runners.librelane:LibreLaneRunner"),
        NodeGateRunner(),
        PythonGateRunner(),
        _deferred("kind", "migration", "runners.migration_gate:MigrationGateRunner"),
    ]


@hookimpl
def pytest_spilot_session_backends() -> list[SessionBackend]:
    return [
        _deferred("name", PSEUDO, "innovus.backends.pseudo:PseudoBackend"),
        _deferred("name", TCL, "innovus.backends.tcl:TclBackend"),
        _deferred("name", REAL, "innovus.backends.real:RealBackend"),
    ]


@hookimpl
def pytest_spilot_flow_backends() -> list[FlowBackend]:
    return [
        _deferred("name", PSEUDO, "librelane.backends.pseudo:PseudoFlowBackend"),
        _deferred("name", REAL, "librelane.backends.real:RealFlowBackend"),
    ]
