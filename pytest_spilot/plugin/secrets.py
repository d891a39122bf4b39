"""Secrets kept out of pytest's reports: failure text, captured output, JUnit properties."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_spilot.redact import Redactor
from pytest_spilot.siteconfig import SiteConfig

if TYPE_CHECKING:
    from pytest_spilot.plan.expand import PlannedValidation
    from pytest_spilot.remote.inventory import Inventory


def process_secrets(site: SiteConfig, inventory: Inventory | None) -> Redactor:
    """The site's and the inventory's secret names, valued where this process finds them."""
    secrets = site.secrets(os.environ)
    if inventory is not None:
        for name in inventory.nodes:
            node = inventory.node(name)
            secrets.add(node.secret_env, node.env)
    return secrets


def add_validation_secrets(secrets: Redactor, validation: PlannedValidation) -> None:
    """A validation's own ``secret_env``, valued in its ``env`` or the harness's environment."""
    spec = validation.spec
    if not spec.secret_env and not spec.env:
        return
    env = {n: os.environ[n] for n in spec.secret_env if n in os.environ}
    secrets.add(spec.secret_env, {**env, **spec.env})


def redact_report(report: pytest.CollectReport | pytest.TestReport, secrets: Redactor) -> None:
    """Replace secret values in everything pytest shows or writes (terminal, JUnit)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        path, line, reason = longrepr
        report.longrepr = (path, line, secrets.text(reason))
    elif longrepr is not None:
        text = str(longrepr)
        shown = secrets.text(text)
        if shown != text:
            report.longrepr = shown
    report.sections = [(title, secrets.text(body)) for title, body in report.sections]
    if isinstance(report, pytest.TestReport):
        report.user_properties = [
            (name, secrets.text(value) if isinstance(value, str) else value)
            for name, value in report.user_properties
        ]


class ReportRedaction:
    """Redacts each report where it is made: on the xdist worker, before it travels."""

    def __init__(self, secrets: Redactor) -> None:
        self.secrets = secrets

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, Any, Any]:
        report = yield
        if self.secrets.values:
            redact_report(report, self.secrets)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self) -> Generator[None, Any, Any]:
        report = yield
        if self.secrets.values:
            redact_report(report, self.secrets)
        return report
