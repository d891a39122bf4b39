"""``kind: librelane``: one flow on a design; metrics from the run, artifacts on the report."""

from __future__ import annotations

from typing import ClassVar

from pytest_spilot.errors import SpilotError
from pytest_spilot.librelane.results import metric_direction
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import LibreLaneValidation
from pytest_spilot.runners.base import RunContext, RunOutcome


class LibreLaneRunner:
    kind: ClassVar[str] = "librelane"

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        spec = validation.spec_as(LibreLaneValidation)
        flows = ctx.librelane
        if flows is None:
            raise SpilotError(
                f"{validation.file}: validation {validation.id!r}: no LibreLane flows are "
                "configured in this runner (the pytest plugin provides them)"
            )
        design = validation.resolve(spec.design)
        result = flows.run(
            design,
            preset=spec.preset,
            pdk=str(validation.resolve(spec.pdk)) if spec.pdk and "/" in spec.pdk else spec.pdk,
            flow=spec.flow,
            steps=spec.steps,
            frm=spec.frm,
            to=spec.to,
            skip=spec.skip,
            timeout=spec.timeout_s,
            config=spec.args,
            pseudo=spec.pseudo,
            runner=spec.runner,
            run_root=ctx.run_dir / "librelane",
            on_start=ctx.on_job_start,
            env=ctx.env,
        )
        with ctx.log_path.open("a", encoding="utf-8") as log:
            log.write(
                f"[spilot] librelane ({flows.backend_name}) on {design}: {result.status}, "
                f"exit code {result.exit_code}, run folder {result.run_dir}\n"
            )
            if result.message:
                log.write(f"[spilot] {result.message}\n")
            if result.progress is not None:
                log.write(f"[spilot] progress: {result.progress.line()}\n")
        defined = {
            name: direction
            for name in result.metrics
            if (direction := metric_direction(name)) is not None
        }
        return RunOutcome(
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            message=result.message,
            timed_out=result.timed_out,
            command=[f"librelane:{flows.backend_name}", str(design)],
            metrics=result.metrics,
            artifacts=result.artifacts,
            location=f"librelane:{flows.backend_name}",
            directions={
                name: "higher_is_better" if direction.higher_is_better else "lower_is_better"
                for name, direction in defined.items()
            },
            critical={name: direction.critical for name, direction in defined.items()},
        )
