"""``kind: command``: an argv list, or a string run by ``/bin/sh -c``, through a launcher."""

from __future__ import annotations

from typing import ClassVar

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.base import Job, batch_job_name
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import CommandValidation
from pytest_spilot.runners.base import RunContext, RunOutcome


class CommandRunner:
    kind: ClassVar[str] = "command"

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        spec = validation.spec_as(CommandValidation)  # a CommandGate is one too
        launcher = ctx.launchers.get(spec.location)
        if launcher is None:
            raise SpilotError(
                f"{validation.file}: validation {validation.id!r}: unknown location "
                f"{spec.location!r}; use one of {', '.join(sorted(ctx.launchers))} "
                "(or add the node to the inventory)"
            )
        argv = ["/bin/sh", "-c", spec.run] if isinstance(spec.run, str) else list(spec.run)
        cwd = validation.resolve(spec.cwd) if spec.cwd else ctx.run_dir
        if not cwd.is_dir():
            raise SpilotError(
                f"{validation.file}: validation {validation.id!r}: cwd {cwd} is not a "
                "directory; 'cwd' resolves relative to the validation file"
            )
        job = Job(
            argv=argv,
            cwd=cwd,
            log_path=ctx.log_path,
            timeout_s=spec.timeout_s,
            env={**spec.env, **ctx.env},
            name=batch_job_name(validation.id),
            secrets=ctx.secrets,
            on_start=ctx.on_job_start,
        )
        result = launcher.run(job)
        return RunOutcome(
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            message=result.message,
            timed_out=result.timed_out,
            command=launcher.command_line(job),
            transient=result.transient,
            job_id=result.job_id,
        )
