"""What an Innovus backend needs of the environment: its tool on PATH, the command naming the
tool's version, the submitter of its launcher, the licence variables.

Probed the same way by ``spilot doctor``, the migration gates and the release's provenance.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_spilot.backend_names import REAL, TCL

if TYPE_CHECKING:
    from pytest_spilot.siteconfig import InnovusConfig


@dataclass(frozen=True)
class Program:
    """A program looked up on PATH: where it is, or None."""

    name: str
    where: str | None

    @property
    def detail(self) -> str:
        """Its path, or the line saying it is not on PATH."""
        return self.where or f"{self.name or '(empty)'}: not on PATH"


def find_program(name: str) -> Program:
    return Program(name, shutil.which(name) if name else None)


def backend_tool(backend: str, binary: str, tclsh: str) -> list[str] | None:
    """The argv that starts a backend's tool (Innovus, tclsh); None when it starts none."""
    if backend == REAL:
        return shlex.split(binary)
    if backend == TCL:
        return [tclsh]
    return None


def version_command(backend: str, binary: str, tclsh: str) -> tuple[list[str], str] | None:
    """``(argv, stdin)`` that makes a backend's tool print its version; None without a tool."""
    tool = backend_tool(backend, binary, tclsh)
    if tool is None:
        return None
    return (tool, "puts [info patchlevel]\n") if backend == TCL else ([*tool, "-version"], "")


def licence_state(
    config: InnovusConfig, environ: Mapping[str, str] = os.environ
) -> dict[str, bool]:
    """Each licence variable of the site and whether it is set (in its env or the process's).

    Values stay out of it: a licence server's address is a secret.
    """
    return {name: bool(config.env.get(name) or environ.get(name)) for name in config.license_env}
