"""``kind: innovus``: restore a design, run one skill on this process's session, keep its ack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import ClassVar

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.client import skill_script
from pytest_spilot.innovus.contracts import contract_for, find_skills
from pytest_spilot.innovus.protocol import Ack
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.innovus.supervisor import SessionError
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.runners.base import RunContext, RunOutcome

RESTORE_SKILL = "restore_design"
REPORTS_DIR = "reports"


class InnovusRunner:
    kind: ClassVar[str] = "innovus"

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        spec = validation.spec
        pool: InnovusSession | None = ctx.innovus
        if pool is None:
            raise SpilotError(
                f"{validation.file}: validation {validation.id!r}: no Innovus sessions are "
                "configured in this runner (the pytest plugin provides them)"
            )
        skills = find_skills(pool.skill_dirs)
        if spec.skill not in skills:
            raise SpilotError(
                f"{validation.file}: validation {validation.id!r}: unknown skill "
                f"{spec.skill!r} (known: {', '.join(sorted(skills))}); a site's skills go in "
                "a folder named by 'skills' in [tool.spilot.innovus]"
            )
        steps: list[tuple[str, dict[str, object]]] = []
        if spec.design:
            design = validation.resolve(spec.design)
            top = spec.args.get("top")
            if not top:
                raise SpilotError(
                    f"{validation.file}: validation {validation.id!r}: 'design' needs the top "
                    "cell's name in args.top (restoreDesign takes the database and the top cell)"
                )
            steps.append((RESTORE_SKILL, {"design": str(design), "top": top}))
        steps.append((spec.skill, {k: v for k, v in spec.args.items() if k != "top"}))
        duration = 0.0
        with ctx.log_path.open("a", encoding="utf-8") as log:
            try:
                session = pool.supervisor()
            except SessionError as exc:
                log.write(f"[spilot] {exc}\n")
                return RunOutcome(exit_code=None, duration_s=0.0, message=str(exc))
            log.write(f"[spilot] {pool.backend_name} session {session.run_dir}\n")
            for skill, args in steps:
                result = pool.run_skill(skill, args, timeout_s=spec.timeout_s)
                ack = result.ack
                duration += ack.duration_ms / 1000
                log.write(f"[spilot] {skill_script(skill)} {json.dumps(args)}\n")
                log.write(f"[spilot] ack: {ctx.secrets.text(ack.model_dump_json())}\n")
                artifacts = _keep_reports(result.reports, ctx.run_dir / REPORTS_DIR)
                if not ack.passed:
                    return _failed(skill, ack, duration, artifacts, f"innovus:{pool.backend_name}")
        contract = contract_for(skills[spec.skill])
        return RunOutcome(
            exit_code=0,
            duration_s=duration,
            command=[skill_script(s) for s, _ in steps],
            metrics=ack.metrics,
            artifacts=artifacts,
            location=f"innovus:{pool.backend_name}",
            directions={
                name: f"{metric.better}_is_better"
                for name, metric in contract.metrics.items()
                if metric.better
            },
        )


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
