"""``tcl``: the stand-in under tclsh runs the real bootstrap and skills, no licence needed."""

from __future__ import annotations

from typing import ClassVar

from pytest_spilot.backend_names import TCL
from pytest_spilot.innovus.backends.process import ProcessSupervisor
from pytest_spilot.innovus.rundir import TCL_DIR
from pytest_spilot.innovus.supervisor import SessionSpec

STANDIN = TCL_DIR / "standin" / "innovus.tcl"


class TclSupervisor(ProcessSupervisor):
    backend: ClassVar[str] = TCL

    def argv(self) -> list[str]:
        return [
            self.config.tclsh,
            str(STANDIN),
            "-no_gui",
            "-init",
            str(self.dir.bootstrap),
            "-log",
            str(self.dir.file("innovus")),
            "-overwrite",
        ]


class TclBackend:
    name: ClassVar[str] = TCL

    def create(self, spec: SessionSpec) -> TclSupervisor:
        return TclSupervisor(spec)
