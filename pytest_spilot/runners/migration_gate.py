"""``kind: migration`` gates: the Innovus migration checklist, judged into a compatibility gate.

The verdict and every claim go to ``compatibility.json`` in the gate's run directory; the
plugin gathers those into the evidence matrix (``--spilot-evidence PATH``).
"""

from __future__ import annotations

from typing import ClassVar

from pytest_spilot.atomic import write_atomic
from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.evidence import COMPATIBILITY_FILE
from pytest_spilot.innovus.migration import MigrationCheck
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import MigrationGate
from pytest_spilot.runners.base import RunContext, RunOutcome


class MigrationGateRunner:
    kind: ClassVar[str] = "migration"
    # Its sessions take licence slots: a worker releases its own before evaluating the gate.
    starts_innovus_sessions: ClassVar[bool] = True

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        spec = validation.spec_as(MigrationGate)
        pool = ctx.innovus
        if pool is None:
            raise SpilotError(
                f"{validation.file}: gate {validation.id!r}: no Innovus sessions are "
                "configured in this runner (the pytest plugin provides them)"
            )
        target = spec.target or pool.backend_name
        sessions = ctx.run_dir / "sessions"

        def open_session(backend: str) -> InnovusSession:
            # Fresh sessions, not this worker's: evidence must not depend on earlier requests.
            return InnovusSession(
                pool.config,
                pool.backends,
                pool.launchers,
                sessions,
                backend=backend,
                worker=backend,
                # Only the target holds a licence slot: the reference (pseudo by default) runs
                # beside it and would otherwise need a second slot of the same cap.
                licenses=pool.licenses if backend == target else None,
                skill_dirs=pool.skill_dirs,
            )

        check = MigrationCheck(
            gate=validation.id,
            config=pool.config,
            launchers=dict(pool.launchers),
            open_session=open_session,
            target=target,
            reference=spec.reference,
            design=validation.resolve(spec.design) if spec.design else None,
            top=spec.top,
            version=spec.version,
            skill_dirs=pool.skill_dirs,
        )
        gate = check.judge()
        path = ctx.run_dir / COMPATIBILITY_FILE
        write_atomic(path, gate.model_dump_json(indent=2))
        with ctx.log_path.open("a", encoding="utf-8") as log:
            for claim in gate.claims:
                verdict = claim.verdict if claim.blocking else f"{claim.verdict} (not blocking)"
                log.write(f"[spilot] {verdict:>21} {claim.claim}: {claim.detail}\n")
            log.write(f"[spilot] {gate.summary()}\n")
        counts = {
            verdict: float(sum(c.verdict == verdict for c in gate.claims))
            for verdict in ("pass", "fail", "insufficient_evidence")
        }
        return RunOutcome(
            exit_code=0 if gate.status == "ready" else 1,
            duration_s=(gate.judged_at - check.started).total_seconds(),
            message="" if gate.status == "ready" else gate.summary(),
            artifacts=[path],
            location=f"innovus:{target}",
            metrics={f"claims_{k}": v for k, v in counts.items()},
        )
