"""``kind: python`` gates: a check a plugin provides by the ``pytest_spilot_gate_checks`` hook."""

from __future__ import annotations

import time
from typing import ClassVar

from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import PythonGate
from pytest_spilot.runners.base import RunContext, RunOutcome


class PythonGateRunner:
    kind: ClassVar[str] = "python"

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        spec = validation.spec_as(PythonGate)
        name = spec.check
        check = ctx.gate_checks.get(name)
        if check is None:
            raise SpilotError(
                f"{validation.file}: gate {validation.id!r}: no gate check {name!r} is installed "
                f"(known: {', '.join(sorted(ctx.gate_checks)) or 'none'}); a plugin or "
                "conftest.py provides it with the pytest_spilot_gate_checks hook"
            )
        start = time.monotonic()
        try:
            verdict = check.check(dict(spec.args))
        except Exception as exc:  # a broken check is this gate's failure, not the run's
            message = f"check {name!r} raised {type(exc).__name__}: {exc}"
            ok = False
        else:
            message, ok = verdict.message, verdict.ok
        with ctx.log_path.open("a", encoding="utf-8") as log:
            log.write(f"[spilot] check {name!r}: {'holds' if ok else 'fails'}: {message}\n")
        return RunOutcome(
            exit_code=0 if ok else 1,
            duration_s=time.monotonic() - start,
            message="" if ok else message,
            location=f"python:{name}",
        )
