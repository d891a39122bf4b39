"""A project as pytest would see it: its pytest ini values, plan folders and validations."""

from __future__ import annotations

import configparser
import shlex
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.loader import PLAN_SUFFIXES, load_validation_file

INVENTORY_NAMES = ("nodes.yaml", "nodes.yml")


@dataclass(frozen=True)
class ProjectPlan:
    """What ``pytest`` would collect in a project: its plan folders and their validations."""

    root: Path
    dirs: list[Path]
    validations: list[PlannedValidation] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    broken: list[tuple[Path, str]] = field(default_factory=list)  # (file, its error)
    ini: dict[str, Any] = field(default_factory=dict)  # the spilot_* pytest ini values

    def check(self, skill_dirs: Iterable[Path]) -> None:
        """Collection's static checks of every file: a file with problems counts as broken
        (its validations stay, so the doctor's own rows still say what each one lacks)."""
        from pytest_spilot.plan.checks import plan_problems

        by_file: dict[Path, list[PlannedValidation]] = {}
        for validation in self.validations:
            by_file.setdefault(validation.file, []).append(validation)
        dirs = list(skill_dirs)
        for path, planned in by_file.items():
            problems = plan_problems(planned, dirs)
            if problems:
                self.broken.append((path, "\n".join(str(p) for p in problems)))

    def where(self, validation: PlannedValidation, *loc: str | int) -> str:
        """``validations/a.yaml:12 (name)``: where a check's finding is written."""
        line = validation.line_of((*validation.loc, *loc))
        return f"{self.rel(validation.file)}{f':{line}' if line else ''} ({validation.id})"

    def rel(self, path: Path) -> str:
        return (
            path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)
        )

    def summary(self) -> str:
        dirs = ", ".join(f"{self.rel(d)}/" for d in self.dirs)
        if not self.files:
            return f"no validation files under {dirs}: only the site defaults are checked"
        return f"{len(self.validations)} validations in {len(self.files)} files under {dirs}"

    def setting(self, name: str) -> Path | None:
        """A path-valued ``spilot_*`` ini value, relative to the project root."""
        value = self.ini.get(name)
        return self.root / str(value) if value else None

    def inventory(self) -> Path | None:
        """As pytest finds it: ini ``spilot_nodes``, else ``nodes.yaml`` in a plan folder."""
        given = self.setting("spilot_nodes")
        if given is not None:
            return given
        found = (d / n for d in self.dirs for n in INVENTORY_NAMES if (d / n).is_file())
        return next(found, None)


def pytest_ini(root: Path) -> tuple[Path | None, dict[str, Any]]:
    """The ``spilot_*`` values of the ini file pytest picks in ``root``, in pytest's order."""
    for name in ("pytest.toml", ".pytest.toml"):  # pytest 9: a [pytest] table, native types
        path = root / name
        if path.is_file():
            table = _toml(path).get("pytest", {})
            return path, {k: v for k, v in table.items() if k.startswith("spilot_")}
    for name in ("pytest.ini", ".pytest.ini"):
        path = root / name
        if path.is_file():  # pytest takes these even without a [pytest] section
            return path, _ini_section(path, "pytest") or {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        pytest_table = _toml(pyproject).get("tool", {}).get("pytest", {})
        if isinstance(pytest_table, dict) and pytest_table:
            # pytest 8 reads [tool.pytest.ini_options]; pytest 9 also [tool.pytest] itself.
            options = pytest_table.get("ini_options", pytest_table)
            return pyproject, {k: v for k, v in options.items() if k.startswith("spilot_")}
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = root / name
        if path.is_file():
            values = _ini_section(path, section)
            if values is not None:
                return path, values
    return None, {}


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpilotError(f"{path}: cannot read it as TOML: {exc}") from None


def _ini_section(path: Path, section: str) -> dict[str, Any] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise SpilotError(f"{path}: cannot read it as an ini file: {exc}") from None
    if not parser.has_section(section):
        return None
    return {k: v for k, v in parser.items(section) if k.startswith("spilot_")}


def read_plan(root: Path) -> ProjectPlan:
    """The validation files under the plan folders (ini ``spilot_paths``, default
    ``validations``), loaded and expanded as pytest would; a broken file is kept as its error."""
    ini_path, ini = pytest_ini(root)
    given = ini.get("spilot_paths")
    if isinstance(given, str):
        given = shlex.split(given)
    base = ini_path.parent if ini_path is not None else root
    dirs = [base / str(d) for d in given] if given else [root / "validations"]
    plan = ProjectPlan(root, dirs, ini=ini)
    for folder in dirs:
        files = (
            [folder] if folder.is_file() else sorted(folder.rglob("*")) if folder.is_dir() else []
        )
        for path in files:
            if (
                path.suffix not in PLAN_SUFFIXES
                or path.name in INVENTORY_NAMES
                or not path.is_file()
                or any(p.startswith(".") for p in path.relative_to(folder).parts[:-1])
            ):
                continue
            plan.files.append(path)
            key = plan.rel(path)
            try:
                plan.validations.extend(expand(load_validation_file(path), path, key))
            except SpilotError as exc:
                plan.broken.append((path, str(exc)))
    return plan
