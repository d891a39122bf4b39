"""This process's LibreLane flows: one place that turns "run this design" into a flow run."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pytest_spilot.backend_names import PSEUDO
from pytest_spilot.errors import SpilotError
from pytest_spilot.redact import Redactor

# Every process makes its flows object, few run a flow: the flow machinery is imported by the
# first run.
if TYPE_CHECKING:
    from pytest_spilot.core.state import JobHandle
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.librelane.backends.base import FlowBackend
    from pytest_spilot.librelane.flow import FlowResult
    from pytest_spilot.librelane.progress import Progress
    from pytest_spilot.siteconfig import LibreLaneConfig


class LibreLaneFlows:
    """Shared by the ``librelane_flow`` fixture and ``kind: librelane`` validations."""

    def __init__(
        self,
        config: LibreLaneConfig,
        backends: Mapping[str, FlowBackend],
        launchers: Mapping[str, Launcher],
        runs_root: Path,
        *,
        backend: str | None = None,
        root: Path | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        secrets: Redactor | None = None,
    ) -> None:
        self.config = config
        self.secrets = secrets or Redactor()
        self.backend_name = config.resolved_backend(backend)
        self.backends = backends
        self.launchers = launchers
        self.runs_root = runs_root
        self.root = root or Path.cwd()
        self.on_progress = on_progress
        self._count = itertools.count(1)

    def run(
        self,
        design: str | Path,
        *,
        preset: str | None = None,
        pdk: str | None = None,
        flow: str | None = None,
        steps: list[str] | None = None,
        frm: str | None = None,
        to: str | None = None,
        skip: list[str] | None = None,
        timeout: float = 1800.0,
        config: Mapping[str, Any] | None = None,
        runner: Literal["api", "cli"] | None = None,
        pseudo: Mapping[str, Any] | None = None,
        run_root: Path | None = None,
        on_start: Callable[[JobHandle], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> FlowResult:
        """Run a flow on ``design`` (a folder, or a config file in one); ``config`` adds
        LibreLane variables.

        ``runner`` (default: the site's) runs the real LibreLane through its Python API or its
        command line, which runs named flows only (``flow``, else the config's ``meta.flow``,
        else Classic; cut with ``frm``/``to``/``skip``). ``on_start`` is told how to find the
        flow's job once it started (see ``Job``). ``env`` goes over the site's flow environment:
        a validation's resources (SPILOT_CPUS, SPILOT_LICENSES) reach a batch launcher's template.
        """
        from pytest_spilot.librelane.backends.base import LINT_TO_SYNTHESIS, FlowRequest
        from pytest_spilot.librelane.config import design_config, resolve_pdk
        from pytest_spilot.librelane.flow import FlowRunner, flow_env

        backend = self.backends.get(self.backend_name)
        if backend is None:
            raise SpilotError(
                f"no LibreLane backend {self.backend_name!r} "
                f"(known: {', '.join(sorted(self.backends))})"
            )
        launcher = self.launchers.get(self.config.launcher)
        if launcher is None:
            raise SpilotError(
                f"[tool.spilot.librelane] launcher {self.config.launcher!r} is not known "
                f"(known: {', '.join(sorted(self.launchers))})"
            )
        loaded = design_config(Path(design), preset=preset, extra=config)
        design_dir = loaded.design_dir
        runner = runner or self.config.runner
        if runner == "cli" and steps:
            raise SpilotError(
                f"LibreLane's command line runs named flows, not a list of steps (steps: "
                f"{', '.join(steps)}); name a flow with from/to/skip, or use runner: api"
            )
        pdk_text = pdk or self.config.pdk
        request = FlowRequest(
            design_dir=design_dir,
            config=loaded,
            # The pseudo backend needs no PDK: a missing one only matters for real runs.
            pdk=resolve_pdk(pdk_text, self.config.pdk_root)
            if self.backend_name != PSEUDO
            else _maybe_pdk(pdk_text, self.config.pdk_root),
            flow=flow,
            steps=tuple(steps or LINT_TO_SYNTHESIS),
            frm=frm,
            to=to,
            skip=tuple(skip or ()),
            timeout_s=timeout,
            env={
                **flow_env([str(self.root / p) for p in self.config.path_prepend], self.config.env),
                **(env or {}),
            },
            pseudo=dict(pseudo or {}),
            runner=runner,
            cli_command=tuple(self.config.command),
        )
        if run_root is None:
            run_root = self.runs_root / f"{design_dir.name}-{next(self._count):03d}"
        flow_runner = FlowRunner(backend, launcher, self.on_progress, self.secrets)
        return flow_runner.run(request, run_root, on_start)


def _maybe_pdk(pdk: str, pdk_root: str | None) -> Any:
    from pytest_spilot.librelane.config import resolve_pdk

    try:
        return resolve_pdk(pdk, pdk_root)
    except SpilotError:
        return None
