"""The flow-runner extension point: the child command that runs one LibreLane flow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pytest_spilot.librelane.config import DesignConfig, PdkChoice

# Lint → synthesis → checks: what runs for real on a machine without OpenROAD.
LINT_TO_SYNTHESIS = (
    "Verilator.Lint",
    "Checker.LintErrors",
    "Yosys.JsonHeader",
    "Yosys.Synthesis",
    "Checker.YosysUnmappedCells",
    "Checker.YosysSynthChecks",
)


@dataclass(frozen=True)
class FlowRequest:
    """One flow run: the design, its config, the PDK, and which steps."""

    design_dir: Path
    config: DesignConfig
    pdk: PdkChoice | None = None
    flow: str | None = None  # a flow name (Classic); None with ``steps`` given
    steps: tuple[str, ...] = LINT_TO_SYNTHESIS
    frm: str | None = None
    to: str | None = None
    skip: tuple[str, ...] = ()
    timeout_s: float = 1800.0
    env: Mapping[str, str] = field(default_factory=dict)
    pseudo: Mapping[str, Any] = field(default_factory=dict)  # profile, fail_at, hang_at, step_s
    runner: Literal["api", "cli"] = "api"  # real: LibreLane's Python API or its command line
    cli_command: tuple[str, ...] = ()  # runner cli: the librelane command; () = -m librelane


class FlowBackend(Protocol):
    """How a flow runs: ``pseudo``, ``real``, or a plugin's."""

    name: ClassVar[str]

    def command(self, request: FlowRequest, flow_dir: Path, config_path: Path) -> list[str]:
        """The child's argv; it runs the flow with ``flow_dir`` as LibreLane's run folder,
        announces its steps and writes its result there (``librelane/flow_child.py``).
        ``config_path`` is the file LibreLane loads (the design's own, untouched, or the
        generated one); ``request.config.override_strings()`` go on top of it."""
        ...
