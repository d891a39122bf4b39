"""``kind: innovus``: restore a design, run one skill on this process's session, keep its ack."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from typing import ClassVar

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.contracts import RESTORE_SKILL, SkillContract, contract_for, find_skills
from pytest_spilot.innovus.protocol import Ack
from pytest_spilot.innovus.queue_supervisor import skill_script
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import InnovusValidation
from pytest_spilot.runners.base import RunContext, RunOutcome

REPORTS_DIR = "reports"


class InnovusRunner:
    kind: ClassVar[str] = "innovus"

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        spec = validation.spec_as(InnovusValidation)
        pool: InnovusSession | None = ctx.innovus
        if pool is None:
            raise SpilotError(
                f"{validation.file}: validation {validation.id!r}: no Innovus sessions are "
                "configured in this runner (the pytest plugin provides them)"
            )
        location = f"innovus:{pool.backend_name}"
        try:
            # Before the session: a mistake here must not cost a session start and a licence.
            steps, contract = _steps(validation, pool)
        except SpilotError as exc:
            with ctx.log_path.open("a", encoding="utf-8") as log:
                log.write(f"[spilot] {exc}\n")
            # No request was made; 1 like a skill whose ack is FAIL (None reads as a crash).
            return RunOutcome(
                exit_code=1,
                duration_s=0.0,
                message=str(exc),
                command=[skill_script(spec.skill)],
                location=location,
            )
        duration = 0.0
        with ctx.log_path.open("a", encoding="utf-8") as log:
            try:
                session = pool.supervisor()
            except SpilotError as exc:  # SessionError, or a staged skill's broken contract
                log.write(f"[spilot] {exc}\n")
                return RunOutcome(
                    exit_code=None, duration_s=0.0, message=str(exc), location=location
                )
            log.write(f"[spilot] {pool.backend_name} session {session.run_dir}\n")
            for skill, args in steps:
                result = pool.run_skill(skill, args, timeout_s=spec.timeout_s)
                ack = result.ack
                duration += ack.duration_ms / 1000
                log.write(f"[spilot] {skill_script(skill)} {json.dumps(args)}\n")
                log.write(f"[spilot] ack: {ctx.secrets.text(ack.model_dump_json())}\n")
                artifacts = _keep_reports(result.reports, ctx.run_dir / REPORTS_DIR)
                if not ack.passed:
                    return _failed(skill, ack, duration, artifacts, location)
        return RunOutcome(
            exit_code=0,
            duration_s=duration,
            command=[skill_script(s) for s, _ in steps],
            metrics=ack.metrics,
            artifacts=artifacts,
            location=location,
            directions={
                name: metric.direction
                for name, metric in (contract.metrics.items() if contract else ())
                if metric.direction
            },
        )


def _steps(
    validation: PlannedValidation, pool: InnovusSession
) -> tuple[list[tuple[str, dict[str, object]]], SkillContract | None]:
    """The skills to request (restore_design first when a design is given), and the contract."""
    spec = validation.spec_as(InnovusValidation)
    where = f"{validation.file}: validation {validation.id!r}"
    skills = find_skills(pool.skill_dirs)
    if spec.skill not in skills:
        close = difflib.get_close_matches(spec.skill, skills, n=1)
        raise SpilotError(
            f"{where}: unknown skill {spec.skill!r}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; the {pool.backend_name} session has {', '.join(sorted(skills))}. A site's "
            "skills go in a folder named by 'skills' in [tool.spilot.innovus]"
        )
    script = skills[spec.skill]
    contract = contract_for(script) if script.with_suffix(".yaml").is_file() else None
    steps: list[tuple[str, dict[str, object]]] = []
    if spec.design:
        top = spec.args.get("top")
        if not top:
            raise SpilotError(
                f"{where}: 'design' needs the top cell's name in args.top (restoreDesign takes "
                "the database and the top cell)"
            )
        steps.append((RESTORE_SKILL, {"design": str(validation.resolve(spec.design)), "top": top}))
    steps.append((spec.skill, {k: v for k, v in spec.args.items() if k != "top"}))
    return steps, contract


def _keep_reports(reports: list[Path], folder: Path) -> list[Path]:
    """Copy the skill's reports into the validation's run directory (regex metrics read them)."""
    kept = []
    for report in reports:
        target = folder / report.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(report, target)
        except OSError:
            continue
        kept.append(target)
    return kept


def _failed(
    skill: str, ack: Ack, duration: float, artifacts: list[Path], location: str
) -> RunOutcome:
    return RunOutcome(
        exit_code=1,
        duration_s=duration,
        message=f"{skill}: {ack.error_type}: {ack.message}",
        timed_out=ack.error_type == "TIMEOUT",
        command=[skill_script(skill)],
        metrics=ack.metrics,
        artifacts=artifacts,
        location=location,
    )
