"""The public API: ``pytest_spilot.__all__`` is sorted, every name resolves, and importing the
package imports none of it (each name loads on first use)."""

from __future__ import annotations

import subprocess
import sys

import pytest_spilot


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert pytest_spilot.__all__ == sorted(pytest_spilot.__all__)
    for name in pytest_spilot.__all__:
        assert getattr(pytest_spilot, name) is not None, name
    assert pytest_spilot.GateVerdict.__module__ == "pytest_spilot.core.gates"


def test_importing_the_package_imports_nothing_of_the_api() -> None:
    code = (
        "import sys, pytest_spilot; "
        "print(sorted(m for m in sys.modules if m.startswith('pytest_spilot.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        pytest_spilot.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("no AttributeError")
