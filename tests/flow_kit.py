"""Shared by the LibreLane tests: fixture paths and the rule for the real toolchain."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "librelane"
DESIGNS = FIXTURES / "designs"
PDK = FIXTURES / "pdk" / "spilot130"
TOOLS = FIXTURES / "bin"
# What the CLI runner is told to run where the API runner runs its default steps: LibreLane's
# command line runs named flows only.
CLI_TO_SYNTHESIS = {"flow": "Classic", "to": "Checker.YosysSynthChecks"}


def librelane_example(name: str) -> Path:
    """An example design shipped inside the installed ``librelane`` package."""
    spec = importlib.util.find_spec("librelane")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "examples" / name


def require_real_librelane() -> None:
    """Outside CI a missing toolchain skips, naming what to install; with CI=true it fails."""
    missing = [m for m in ("librelane", "pyosys") if importlib.util.find_spec(m) is None]
    missing += ["verilator"] if shutil.which("verilator") is None else []
    if missing:
        message = (
            f"not installed: {', '.join(missing)} (pip install -e '.[librelane]'; "
            "apt-get install -y verilator)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
