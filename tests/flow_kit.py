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
