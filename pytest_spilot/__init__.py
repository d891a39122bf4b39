"""pytest-spilot: chip-design release validation as plain pytest.

The public API: the extension protocols (see :mod:`pytest_spilot.hookspecs`), the records a
hook or fixture hands over, and the errors. Each name is imported on first use, so
``import pytest_spilot`` (every pytest process does) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_spilot.core.gates import GateCheck, GateVerdict
    from pytest_spilot.core.state import (
        JobHandle,
        ReleaseState,
        RunRecord,
        ThresholdRecord,
        ValidationRecord,
    )
    from pytest_spilot.errors import PlanError, SpilotError
    from pytest_spilot.innovus.session import InnovusSession, SkillResult
    from pytest_spilot.innovus.supervisor import SessionBackend, SessionSpec, Supervisor
    from pytest_spilot.launchers.base import Job, JobResult, Launcher, RunningJob
    from pytest_spilot.librelane.backends.base import FlowBackend, FlowRequest
    from pytest_spilot.librelane.flow import FlowResult
    from pytest_spilot.librelane.service import LibreLaneFlows
    from pytest_spilot.metrics.base import MetricContext, MetricMissing, MetricSource
    from pytest_spilot.plan.expand import PlannedValidation
    from pytest_spilot.plan.model import ValidationBase
    from pytest_spilot.redact import Redactor
    from pytest_spilot.runners.base import RunContext, RunOutcome, ValidationRunner

_WHERE = {
    "FlowBackend": "pytest_spilot.librelane.backends.base",
    "FlowRequest": "pytest_spilot.librelane.backends.base",
    "FlowResult": "pytest_spilot.librelane.flow",
    "GateCheck": "pytest_spilot.core.gates",
    "GateVerdict": "pytest_spilot.core.gates",
    "InnovusSession": "pytest_spilot.innovus.session",
    "Job": "pytest_spilot.launchers.base",
    "JobHandle": "pytest_spilot.core.state",
    "JobResult": "pytest_spilot.launchers.base",
    "Launcher": "pytest_spilot.launchers.base",
    "LibreLaneFlows": "pytest_spilot.librelane.service",
    "MetricContext": "pytest_spilot.metrics.base",
    "MetricMissing": "pytest_spilot.metrics.base",
    "MetricSource": "pytest_spilot.metrics.base",
    "PlanError": "pytest_spilot.errors",
    "PlannedValidation": "pytest_spilot.plan.expand",
    "Redactor": "pytest_spilot.redact",
    "ReleaseState": "pytest_spilot.core.state",
    "RunContext": "pytest_spilot.runners.base",
    "RunOutcome": "pytest_spilot.runners.base",
    "RunRecord": "pytest_spilot.core.state",
    "RunningJob": "pytest_spilot.launchers.base",
    "SessionBackend": "pytest_spilot.innovus.supervisor",
    "SessionSpec": "pytest_spilot.innovus.supervisor",
    "SkillResult": "pytest_spilot.innovus.session",
    "SpilotError": "pytest_spilot.errors",
    "Supervisor": "pytest_spilot.innovus.supervisor",
    "ThresholdRecord": "pytest_spilot.core.state",
    "ValidationBase": "pytest_spilot.plan.model",
    "ValidationRecord": "pytest_spilot.core.state",
    "ValidationRunner": "pytest_spilot.runners.base",
}

__all__ = [
    "FlowBackend",
    "FlowRequest",
    "FlowResult",
    "GateCheck",
    "GateVerdict",
    "InnovusSession",
    "Job",
    "JobHandle",
    "JobResult",
    "Launcher",
    "LibreLaneFlows",
    "MetricContext",
    "MetricMissing",
    "MetricSource",
    "PlanError",
    "PlannedValidation",
    "Redactor",
    "ReleaseState",
    "RunContext",
    "RunOutcome",
    "RunRecord",
    "RunningJob",
    "SessionBackend",
    "SessionSpec",
    "SkillResult",
    "SpilotError",
    "Supervisor",
    "ThresholdRecord",
    "ValidationBase",
    "ValidationRecord",
    "ValidationRunner",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
    elif name == "__version__":
        # It needs importlib.metadata (~10 ms to import): paid by the first reader only.
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("pytest-spilot")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
