"""pytest-spilot: chip-design release validation as plain pytest."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` on first use: it needs importlib.metadata (~10 ms to import), which
    # importing the package (every pytest process does) should not pay for.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("pytest-spilot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
