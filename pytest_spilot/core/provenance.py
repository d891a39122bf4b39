"""The tool behind a run's location and its version, for the release's provenance."""

from __future__ import annotations

import shlex
import subprocess
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from pytest_spilot.backend_names import REAL, TCL
from pytest_spilot.errors import SpilotError

VERSION_TIMEOUT_S = 10.0

# The batch systems of the built-in grid launchers and the command that names their version.
BATCH_SYSTEMS = {
    "srun": ("slurm", ["srun", "--version"]),
    "slurm": ("slurm", ["srun", "--version"]),
    "bsub": ("lsf", ["lsid"]),
    "lsf": ("lsf", ["lsid"]),
}


def tool_probe(location: str, innovus_binary: str, tclsh: str) -> tuple[str, list[str], str] | None:
    """``(tool, argv, stdin)`` that names the version of what ran at ``location``, if anything."""
    # Imported on use: the plugin imports this module, and the Innovus package loads lazily.
    from pytest_spilot.innovus.environment import version_command

    kind, _, backend = location.partition(":")
    command = version_command(backend, innovus_binary, tclsh) if kind == "innovus" else None
    if command is not None:
        return ("tclsh" if backend == TCL else "innovus"), *command
    if kind == "librelane" and backend == REAL:
        return "librelane", [], ""
    if kind in BATCH_SYSTEMS:
        name, argv = BATCH_SYSTEMS[kind]
        return name, argv, ""
    return None


def version_output(argv: list[str], stdin: str = "", timeout_s: float = VERSION_TIMEOUT_S) -> str:
    """What ``argv`` prints about its version; SpilotError when it cannot run or exits non-zero."""
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SpilotError(f"{shlex.join(argv)}: {exc}") from None
    text = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or not text:
        first = text.splitlines()[0] if text else ""
        raise SpilotError(f"{shlex.join(argv)} exited {done.returncode} printing {first!r}")
    return text


def tool_version(tool: str, argv: list[str], stdin: str = "") -> str:
    """The first line ``argv`` prints (a Python package's version when ``argv`` is empty)."""
    try:
        if not argv:
            return package_version(tool)
        return version_output(argv, stdin).splitlines()[0]
    except PackageNotFoundError:
        return "unknown (not installed)"
    except SpilotError as exc:
        return f"unknown ({exc})"
