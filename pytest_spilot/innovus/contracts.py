"""Skill contracts (``tcl/skills/<name>.yaml``): what a skill takes, writes and reports."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.design import FACT_NAMES
from pytest_spilot.innovus.rundir import SHIPPED_SKILLS
from pytest_spilot.plan.model import Direction
from pytest_spilot.yamlsource import load_yaml

# The skill that loads the design: run first, and the one a design-less session may run.
RESTORE_SKILL = "restore_design"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SkillArg(_Strict):
    type: Literal["string", "number", "integer", "boolean", "path"] = "string"
    required: bool = False
    default: Any = None
    description: str = ""


class SkillMetric(_Strict):
    description: str = ""
    unit: str = ""
    direction: Direction | None = Field(
        None,
        description="which way is better, for --spilot-regressions; spelled as in a validation "
        "file's regressions: (lower_is_better, higher_is_better)",
    )
    pseudo: float | None = Field(
        None,
        description="the figure the pseudo backend reports for it (default: the stand-in "
        "design's figure of that name; a site skill's own metrics need one to run on pseudo)",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_spelling(cls, data: Any) -> Any:
        # Contracts written before the one spelling say `better: lower`; they keep loading.
        if not isinstance(data, dict) or "better" not in data:
            return data
        data = dict(data)
        better = data.pop("better")
        if better not in ("higher", "lower"):
            raise ValueError(
                f"better: {better!r} is not 'higher' or 'lower'; write "
                "direction: lower_is_better or direction: higher_is_better instead"
            )
        direction = f"{better}_is_better"
        if data.get("direction", direction) != direction:
            raise ValueError(
                f"better: {better} contradicts direction: {data['direction']}; keep direction only"
            )
        data["direction"] = direction
        return data


class SkillContract(_Strict):
    """The promise a skill keeps on every backend: the pseudo backend answers from it."""

    name: str
    description: str = ""
    requires_design: bool = False
    args: dict[str, SkillArg] = Field(default_factory=dict)
    reports: list[str] = Field(default_factory=list, description="under reports/<request_id>/")
    metrics: dict[str, SkillMetric] = Field(default_factory=dict)
    commands: list[str] = Field(default_factory=list, description="Innovus commands it uses")

    def check_args(self, args: dict[str, Any]) -> list[str]:
        """What is wrong with ``args`` for this skill (empty when they fit)."""
        problems = [
            f"missing argument {n!r}" for n, a in self.args.items() if a.required and n not in args
        ]
        problems += [
            f"unknown argument {n!r} (known: {', '.join(sorted(self.args)) or 'none'})"
            for n in args
            if n not in self.args
        ]
        return problems

    def broken_by(self, reports: Iterable[str], metrics: Iterable[str]) -> str:
        """Why an answer breaks the contract, or "" (reports relative to reports/<request_id>/)."""
        written = {PurePosixPath(r).as_posix() for r in reports}
        missing_reports = [r for r in self.reports if PurePosixPath(r).as_posix() not in written]
        missing_metrics = sorted(set(self.metrics) - set(metrics))
        if not (missing_reports or missing_metrics):
            return ""
        return contract_break_message(self.name, missing_reports, missing_metrics)

    def pseudo_gaps(self) -> list[str]:
        """Metrics the pseudo backend has no figure for: neither ``pseudo:`` nor a design's."""
        return [
            m for m, spec in self.metrics.items() if spec.pseudo is None and m not in FACT_NAMES
        ]

    def staged(self) -> str:
        """The contract as the bootstrap reads it (scripts/contracts/<name>.json): JSON."""
        return json.dumps(
            {"name": self.name, "reports": self.reports, "metrics": sorted(self.metrics)}
        )


def contract_break_message(name: str, reports: list[str], metrics: list[str]) -> str:
    """The failure of a skill that did not keep its contract; bootstrap.tcl words it the same."""
    missing = [
        *([f"report(s) {', '.join(reports)} not written"] if reports else []),
        *([f"metric(s) {', '.join(metrics)} not reported"] if metrics else []),
    ]
    return (
        f"skill {name!r} broke its contract: {'; '.join(missing)}; "
        f"the skill must write every report and metric {name}.yaml names (or drop them there)"
    )


def pseudo_cannot_run(name: str, metrics: list[str]) -> str:
    """Why the pseudo backend cannot answer skill ``name``, and what to add."""
    return (
        f"the pseudo backend cannot run skill {name!r}: it runs no Tcl and answers from "
        f"{name}.yaml, which gives no figure for metric(s) {', '.join(metrics)}; add one to "
        f"each there (e.g. {metrics[0]}: {{pseudo: 0}}) or run it on the tcl or real backend "
        "(--spilot-backend)"
    )


@cache
def load_contract(path: Path) -> SkillContract:
    doc = load_yaml(path)
    try:
        contract = SkillContract.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        line = doc.line_of([p for p in first["loc"] if isinstance(p, (str, int))])
        raise SpilotError(
            f"{path}{f':{line}' if line else ''}: skill contract field {field!r}: "
            f"{first['msg']}; "
            "see tcl/README.md (Skill contracts) for the format"
        ) from None
    if contract.name != path.stem:
        raise SpilotError(
            f"{path}: contract name {contract.name!r} must be the file's name {path.stem!r}"
        )
    return contract


def find_skills(skill_dirs: list[Path]) -> dict[str, Path]:
    """Skill name → script, later folders overriding earlier ones (a site replaces a skill)."""
    found: dict[str, Path] = {}
    for folder in [SHIPPED_SKILLS, *skill_dirs]:
        for script in sorted(folder.glob("*.tcl")):
            found[script.stem] = script
    return found


def contract_for(script: Path) -> SkillContract:
    path = script.with_suffix(".yaml")
    if not path.is_file():
        raise SpilotError(
            f"{script}: skill has no contract; write {path.name} beside it "
            "(args, reports, metrics, commands; see tcl/README.md)"
        )
    return load_contract(path)
