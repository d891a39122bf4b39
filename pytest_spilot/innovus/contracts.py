"""Skill contracts (``tcl/skills/<name>.yaml``): what a skill takes, writes and reports."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.rundir import SHIPPED_SKILLS
from pytest_spilot.yamlsource import load_yaml


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
    better: Literal["higher", "lower"] | None = None


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


@cache
def load_contract(path: Path) -> SkillContract:
    doc = load_yaml(path)
    try:
        contract = SkillContract.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise SpilotError(
            f"{path}: skill contract field {field!r}: {first['msg']}; "
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
