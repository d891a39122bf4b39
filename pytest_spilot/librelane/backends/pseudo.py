"""``pseudo``: the LibreLane-shaped stand-in (``librelane/pseudo_flow.py``) as the child."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import ClassVar

from pytest_spilot.backend_names import PSEUDO
from pytest_spilot.librelane.backends.base import FlowRequest


class PseudoFlowBackend:
    name: ClassVar[str] = PSEUDO

    def command(self, request: FlowRequest, flow_dir: Path, config_path: Path) -> list[str]:
        steps = list(request.steps)
        if request.frm in steps:
            steps = steps[steps.index(request.frm) :]
        if request.to in steps:
            steps = steps[: steps.index(request.to) + 1]
        spec = {
            "run_dir": str(flow_dir),
            "config": request.config.view(),
            "steps": [s for s in steps if s not in request.skip],
            **request.pseudo,
        }
        spec_path = flow_dir.parent / "spilot-pseudo-spec.json"
        spec_path.write_text(json.dumps(spec, indent=2, default=str))
        return [sys.executable, "-m", "pytest_spilot.librelane.pseudo_flow", str(spec_path)]
