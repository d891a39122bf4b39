"""``real``: Innovus itself, ``innovus -no_gui -init <bootstrap> -log <run_dir>/session/innovus``.

Binary and flags come from ``[tool.spilot.innovus]``; the launcher (local, srun, bsub -I,
dsub -I, ...) wraps the command. Tested by pointing ``binary`` at the Tcl stand-in.
"""

from __future__ import annotations

import shlex
from typing import ClassVar

from pytest_spilot.backend_names import REAL
from pytest_spilot.innovus.backends.process import ProcessSupervisor
from pytest_spilot.innovus.supervisor import SessionSpec


class RealSupervisor(ProcessSupervisor):
    backend: ClassVar[str] = REAL

    def argv(self) -> list[str]:
        return [
            *shlex.split(self.config.binary),
            *self.config.flags,
            "-init",
            str(self.dir.bootstrap),
            "-log",
            str(self.dir.file("innovus")),
            "-overwrite",
        ]


class RealBackend:
    name: ClassVar[str] = REAL

    def create(self, spec: SessionSpec) -> RealSupervisor:
        return RealSupervisor(spec)
