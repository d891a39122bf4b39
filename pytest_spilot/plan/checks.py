"""Static checks of a planned validation: what can be found wrong before any job runs.

Given what the site provides (its skill folders and their contracts), each check names the
file, line and field, and a near name when there is one. A check refuses only what would fail
at run time for certain: where the harness cannot know (a site skill without a contract, a
LibreLane metric it has no list of), it accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_spilot.errors import PlanError, PlanErrors, SpilotError
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.yamlsource import Loc

if TYPE_CHECKING:
    from pytest_spilot.innovus.contracts import SkillContract

SKILL_DIRS_HINT = "a site's skills go in a folder named by 'skills' in [tool.spilot.innovus]"
# What the migration gate reports of its own (runners/migration_gate.py).
MIGRATION_METRICS = ("claims_pass", "claims_fail", "claims_insufficient_evidence")


def check_plan(planned: Sequence[PlannedValidation], skill_dirs: Iterable[Path] = ()) -> None:
    """Raise PlanErrors with every problem of ``planned`` found without running; none: return."""
    problems = plan_problems(planned, skill_dirs)
    if problems:
        raise PlanErrors(problems)


def check_plan_file(path: Path, skill_dirs: Iterable[Path] = ()) -> list[PlanError]:
    """Every problem of one validation file, as collection reports it (for ``spilot doctor``)."""
    try:
        plan = load_validation_file(path)
        # Expanding reads what the file refers to (a rules file): its errors are the file's.
        planned = list(expand(plan, path, path.as_posix()))
    except PlanErrors as exc:
        return list(exc.errors)
    except PlanError as exc:
        return [exc]
    return plan_problems(planned, skill_dirs)


def plan_problems(
    planned: Sequence[PlannedValidation], skill_dirs: Iterable[Path] = ()
) -> list[PlanError]:
    """Every problem of ``planned`` (one file's validations), each once, in file order."""
    checker = _Checker(list(skill_dirs))
    for validation in planned:
        checker.check(validation)
    checker.check_default_rules()
    found: dict[str, PlanError] = {}
    for error in checker.errors:
        found.setdefault(str(error), error)
    return sorted(found.values(), key=lambda e: e.line or 0)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` did you mean 'x'?`` for the nearest of ``candidates``, else nothing."""
    near = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" did you mean {near[0]!r}?" if near else ""


@dataclass
class _Metrics:
    """The metrics one validation can have: declared, and what its tool reports."""

    declared: list[str]
    reported: list[str] = field(default_factory=list)
    # Names the tool may report beyond ``reported``: LibreLane's open set, or anything for a
    # skill without a contract (its metrics are whatever it acks).
    accepts: Callable[[str], bool] | None = None
    source: str = ""  # who reports them, for the message: "skill 'x' (path)" or "librelane"

    def known(self, name: str) -> bool:
        if name in self.declared or name in self.reported:
            return True
        return self.accepts is not None and self.accepts(name)


def _librelane_like(name: str) -> bool:
    # LibreLane's metrics are category__name[__modifier][__corner:X]; it has no closed list
    # (steps and plugins add their own), so any such name may come out of a run.
    return "__" in name.split("__corner:", 1)[0].strip("_")


class _Checker:
    def __init__(self, skill_dirs: list[Path]) -> None:
        self.skill_dirs = skill_dirs
        self.errors: list[PlanError] = []
        self._skills: dict[str, Path] | None = None
        # Rules written under defaults.regressions: fine when any validation of the file has
        # the metric (the others never compare it).
        self._default_rules: dict[str, PlannedValidation] = {}
        self._rule_known: set[str] = set()
        self._file_metrics: set[str] = set()  # every name known in the file, for suggestions

    @property
    def skills(self) -> dict[str, Path]:
        if self._skills is None:
            from pytest_spilot.innovus.contracts import find_skills

            self._skills = find_skills(self.skill_dirs)
        return self._skills

    def check(self, v: PlannedValidation) -> None:
        spec = v.spec
        metrics: _Metrics | None = None
        if spec.kind == "command":
            self._path(v, "cwd", must_be="dir")
            metrics = _Metrics(list(spec.metrics))
        elif spec.kind in ("node", "python"):
            metrics = _Metrics(list(spec.metrics))
        elif spec.kind == "migration":
            self._path(v, "design", must_be="any")
            metrics = _Metrics(list(spec.metrics), list(MIGRATION_METRICS))
        elif spec.kind == "innovus":
            self._path(v, "design", must_be="any")
            self._design_top(v)
            metrics = self._innovus_metrics(v)
        elif spec.kind == "librelane":
            self._path(v, "design", must_be="dir")
            pdk = getattr(spec, "pdk", None)
            if pdk and "/" in pdk:
                self._path(v, "pdk", must_be="dir")
            profile = getattr(spec, "pseudo", {}).get("profile")
            metrics = _Metrics(
                list(spec.metrics),
                list(profile) if isinstance(profile, dict) else [],
                accepts=_librelane_like,
                source="librelane",
            )
        if metrics is None:
            return
        self._file_metrics.update(metrics.declared, metrics.reported)
        for index, threshold in enumerate(spec.acceptance):
            if not metrics.known(threshold.metric):
                loc = (*v.loc, "acceptance", index, "metric")
                self._metric_error(v, threshold.metric, metrics, loc, "threshold on")
        for name in spec.regressions:
            loc = self._rule_loc(v, name)
            if loc[0] == "defaults":
                self._default_rules.setdefault(name, v)
                if metrics.known(name):
                    self._rule_known.add(name)
            elif not metrics.known(name):
                self._metric_error(v, name, metrics, loc, "regression rule for")

    def check_default_rules(self) -> None:
        for name, v in self._default_rules.items():
            if name not in self._rule_known:
                self.errors.append(
                    v.plan_error(
                        f"regression rule for metric {name!r}: no validation of this file "
                        "declares or reports it;"
                        + did_you_mean(name, self._file_metrics)
                        + " fix the name, or remove the rule",
                        ("defaults", "regressions", name),
                    )
                )

    # -- metrics ------------------------------------------------------------------------------

    def _innovus_metrics(self, v: PlannedValidation) -> _Metrics | None:
        skill: str = getattr(v.spec, "skill", "")
        declared = list(v.spec.metrics)
        script = self.skills.get(skill)
        if script is None:
            self.errors.append(
                v.plan_error(
                    f"{_who(v)}: unknown skill {skill!r};"
                    + did_you_mean(skill, self.skills)
                    + f" known: {', '.join(sorted(self.skills))} ({SKILL_DIRS_HINT})",
                    (*v.loc, "skill"),
                )
            )
            return None  # its metrics are unknowable: one error is enough
        contract = self._contract(v, script)
        if contract is None:
            return _Metrics(declared, accepts=lambda _: True)
        return _Metrics(
            declared,
            list(contract.metrics),
            source=f"skill {skill!r} ({script.with_suffix('.yaml')})",
        )

    def _contract(self, v: PlannedValidation, script: Path) -> SkillContract | None:
        from pytest_spilot.innovus.contracts import load_contract

        path = script.with_suffix(".yaml")
        if not path.is_file():
            return None  # a site skill need not have one; its metrics are whatever it acks
        try:
            return load_contract(path)
        except SpilotError as exc:
            self.errors.append(
                v.plan_error(f"skill {script.stem!r}: broken contract: {exc}", (*v.loc, "skill"))
            )
            return None

    def _metric_error(
        self, v: PlannedValidation, name: str, metrics: _Metrics, loc: Loc, what: str
    ) -> None:
        candidates = [*metrics.declared, *metrics.reported]
        if metrics.source == "librelane":
            candidates += _librelane_names()
            text = (
                f"{_who(v)}: {what} metric {name!r}, which is neither declared "
                "under 'metrics:' nor a LibreLane metric (those are named like "
                "design__instance__count);"
            )
        elif metrics.source:
            text = (
                f"{_who(v)}: {what} metric {name!r}, which is neither declared "
                f"under 'metrics:' nor reported by {metrics.source};"
            )
        else:
            text = f"{_who(v)}: {what} metric {name!r}, which is not declared under 'metrics:';"
        listed = ", ".join(sorted(set(metrics.declared + metrics.reported)))
        text += did_you_mean(name, candidates)
        text += f" known here: {listed};" if listed else " it declares no metrics;"
        text += " fix the name, or declare the metric under 'metrics:'"
        self.errors.append(v.plan_error(text, loc))

    def _rule_loc(self, v: PlannedValidation, name: str) -> Loc:
        data = v.source.data if v.source is not None else None
        own = _at(data, (*v.loc, "regressions"))
        defaults = _at(data, ("defaults", "regressions"))
        written_own = isinstance(own, dict) and name in own
        if not written_own and isinstance(defaults, dict) and name in defaults:
            return ("defaults", "regressions", name)
        return (*v.loc, "regressions", name)

    # -- paths --------------------------------------------------------------------------------

    def _path(self, v: PlannedValidation, name: str, must_be: str) -> None:
        written = getattr(v.spec, name, None)
        if not written:
            return
        path = v.resolve(written)
        if path.is_dir() or (must_be == "any" and path.exists()):
            return
        what = {
            "design": "design folder" if must_be == "dir" else "design",
            "pdk": "PDK folder",
            "cwd": "working directory",
        }[name]
        if path.exists():
            problem = f"{what} {written!r} is {path}, which is not a directory;"
        else:
            problem = f"{what} {written!r} does not exist (looked for {path});"
        hint = _near_path(written, path, dirs_only=must_be == "dir")
        loc = self._field_loc(v, name)
        # Written once under defaults: one paragraph for the file, not one per validation.
        who = "" if loc[0] == "defaults" else f"{_who(v)}: "
        self.errors.append(
            v.plan_error(
                f"{who}{problem}{hint} fix the path (it resolves relative to the validation file)",
                loc,
            )
        )

    def _design_top(self, v: PlannedValidation) -> None:
        args = getattr(v.spec, "args", {})
        if getattr(v.spec, "design", None) and not args.get("top"):
            self.errors.append(
                v.plan_error(
                    f"{_who(v)}: 'design' needs the top cell's name in "
                    "args.top (restoreDesign takes the database and the top cell); add "
                    "args: {top: CELL}",
                    (*v.loc, "args"),
                )
            )

    @staticmethod
    def _field_loc(v: PlannedValidation, name: str) -> Loc:
        data = v.source.data if v.source is not None else None
        if _at(data, (*v.loc, name)) is None and _at(data, ("defaults", name)) is not None:
            return ("defaults", name)
        return (*v.loc, name)


def _who(v: PlannedValidation) -> str:
    return f"{'gate' if v.is_gate else 'validation'} {v.spec.name!r}"


def _near_path(written: str, path: Path, dirs_only: bool) -> str:
    """`` did you mean 'as/written/near'?`` from the entries beside ``path``."""
    try:
        entries = [p.name for p in path.parent.iterdir() if p.is_dir() or not dirs_only]
    except OSError:
        return f" folder {path.parent} does not exist either;"
    near = difflib.get_close_matches(path.name, entries, n=1, cutoff=0.6)
    if not near:
        return ""
    head = written.rstrip("/").rpartition("/")[0]
    return f" did you mean {(head + '/' if head else '') + near[0]!r}?"


def _librelane_names() -> list[str]:
    """Metric names to suggest: the pseudo flow's, and LibreLane's definitions when installed."""
    from pytest_spilot.librelane.pseudo_flow import DEFAULT_PROFILE

    names = list(DEFAULT_PROFILE)
    try:
        # Its defining module: the package re-exports it without marking it public for mypy.
        from librelane.common.metrics.metric import Metric
    except ImportError:
        return names
    return names + list(getattr(Metric, "by_name", {}))


def _at(data: object, loc: Loc) -> object:
    for part in loc:
        if isinstance(data, list) and isinstance(part, int):
            if not -len(data) <= part < len(data):
                return None
            data = data[part]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data
