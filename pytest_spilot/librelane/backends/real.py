"""``real``: the installed librelane, driven in a child through its Python API
(``librelane/real_flow.py``) or its command line (``librelane/cli_flow.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import ClassVar

from pytest_spilot.backend_names import REAL
from pytest_spilot.librelane.backends.base import FlowRequest
from pytest_spilot.librelane.cli_flow import cli_argv


class RealFlowBackend:
    name: ClassVar[str] = REAL

    def command(self, request: FlowRequest, flow_dir: Path, config_path: Path) -> list[str]:
        if request.runner == "cli":
            return self._cli(request, flow_dir, config_path)
        pdk = request.pdk
        spec = {
            "run_dir": str(flow_dir),
            "config": str(config_path),
            "overrides": request.config.override_strings(),
            "design_dir": str(request.design_dir.resolve()),
            "pdk_root": str(pdk.root) if pdk else None,
            "pdk": pdk.name if pdk else None,
            "scl": pdk.scl if pdk else None,
            "flow": request.flow,
            "steps": None if request.flow else list(request.steps),
            "frm": request.frm,
            "to": request.to,
            "skip": list(request.skip),
        }
        spec_path = flow_dir.parent / "spilot-real-spec.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        return [sys.executable, "-m", "pytest_spilot.librelane.real_flow", str(spec_path)]

    def _cli(self, request: FlowRequest, flow_dir: Path, config_path: Path) -> list[str]:
        pdk = request.pdk
        argv = cli_argv(
            request.cli_command or (sys.executable, "-m", "librelane"),
            config_path,
            run_dir=flow_dir,
            design_dir=request.design_dir.resolve(),
            pdk_root=pdk.root if pdk else None,
            pdk=pdk.name if pdk else None,
            scl=pdk.scl if pdk else None,
            flow=request.flow,
            frm=request.frm,
            to=request.to,
            skip=request.skip,
            overrides=request.config.override_strings(),
        )
        spec = {
            "run_dir": str(flow_dir),
            "argv": argv,
            "config": str(config_path),
            "flow": request.flow,
        }
        spec_path = flow_dir.parent / "spilot-cli-spec.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        return [sys.executable, "-m", "pytest_spilot.librelane.cli_flow", str(spec_path)]
