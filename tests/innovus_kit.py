"""Shared by the kernel tests: paths, fast session timings, and the CI rule for missing tools."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_spilot.innovus.backends.pseudo import PseudoBackend
from pytest_spilot.innovus.backends.real import RealBackend
from pytest_spilot.innovus.backends.tcl import TclBackend

REPO = Path(__file__).resolve().parents[1]
DESIGNS = REPO / "fixtures" / "innovus"
TEST_SKILLS = DESIGNS / "skills"
BACKENDS = {"pseudo": PseudoBackend(), "tcl": TclBackend(), "real": RealBackend()}
FAST = {"heartbeat_interval_s": 0.2, "heartbeat_timeout_s": 2.0, "poll_interval_s": 0.2}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(tool: str, package: str) -> str:
    """The tool's path; outside CI a missing tool skips, with CI=true it fails."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install -y {package})"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path
