"""``real``: the installed librelane package, driven in a child (``librelane/real_flow.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import ClassVar

from pytest_spilot.backend_names import REAL
from pytest_spilot.librelane.backends.base import FlowRequest


class RealFlowBackend:
    name: ClassVar[str] = REAL

    def command(self, request: FlowRequest, flow_dir: Path, config_path: Path) -> list[str]:
        pdk = request.pdk
        spec = {
            "run_dir": str(flow_dir),
            "config": str(config_path),
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
        spec_path = config_path.with_name("spilot-real-spec.json")
        spec_path.write_text(json.dumps(spec, indent=2))
        return [sys.executable, "-m", "pytest_spilot.librelane.real_flow", str(spec_path)]
