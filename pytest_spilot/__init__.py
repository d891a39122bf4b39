"""pytest-spilot: chip-design release validation as plain pytest."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pytest-spilot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
