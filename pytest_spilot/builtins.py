"""The built-in metric sources, launchers and runners, provided through the same hooks."""

from __future__ import annotations

import pluggy

from pytest_spilot.launchers.base import Launcher
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.metrics.base import MetricSource
from pytest_spilot.metrics.jsonfile import JsonMetricSource
from pytest_spilot.metrics.regex import RegexMetricSource
from pytest_spilot.runners.base import ValidationRunner
from pytest_spilot.runners.command import CommandRunner

hookimpl = pluggy.HookimplMarker("pytest")


@hookimpl
def pytest_spilot_metric_sources() -> list[MetricSource]:
    return [RegexMetricSource(), JsonMetricSource()]


@hookimpl
def pytest_spilot_launchers() -> list[Launcher]:
    return [LocalLauncher()]


@hookimpl
def pytest_spilot_runners() -> list[ValidationRunner]:
    return [CommandRunner()]
