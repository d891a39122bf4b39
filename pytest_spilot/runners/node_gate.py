"""``kind: node`` gates: the node is reachable, its host key and login good, preflight passes."""

from __future__ import annotations

import time
from typing import ClassVar

from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import NodeGate
from pytest_spilot.runners.base import RunContext, RunOutcome


class NodeGateRunner:
    kind: ClassVar[str] = "node"

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        name = validation.spec_as(NodeGate).node
        if ctx.nodes is None:
            raise SpilotError(
                f"{validation.file}: gate {validation.id!r} checks node {name!r}, but there is "
                "no node inventory; give --spilot-nodes PATH or put nodes.yaml beside the file"
            )
        node = ctx.nodes.get(name)  # an unknown node is a SpilotError naming the known ones
        start = time.monotonic()
        node.connection()  # connect, verify the host key, log in, preflight its `requires`
        path = node.effective_path()
        with ctx.log_path.open("a", encoding="utf-8") as log:
            log.write(f"[spilot] node {name!r} reachable; preflight passed; PATH={path}\n")
        return RunOutcome(exit_code=0, duration_s=time.monotonic() - start, location=name)
