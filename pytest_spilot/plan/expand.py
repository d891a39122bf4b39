"""Matrix expansion: one PlannedValidation per combination, with ``{name}`` placeholders filled."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pytest_spilot.errors import PlanError, SpilotError
from pytest_spilot.plan.model import Scalar, Threshold, ValidationBase, ValidationFile
from pytest_spilot.plan.orfs_rules import RulesFile, load_rules
from pytest_spilot.yamlsource import Loc, YamlDocument, dotted

_Spec = TypeVar("_Spec", bound=ValidationBase)

# Only these fields get matrix values substituted (never regexes or thresholds).
SUBSTITUTED_FIELDS = ("run", "cwd", "env", "design", "args", "rules")


@dataclass(frozen=True)
class PlannedValidation:
    """One runnable validation after matrix expansion; ``key`` is unique across the plan."""

    # A built-in kind's model, a plugin runner's own, or a PluginValidation: which one depends
    # on the registered kinds, so a runner narrows it with ``spec_as``.
    spec: ValidationBase
    file: Path
    key: str
    id: str
    params: dict[str, Scalar] = field(default_factory=dict)
    markers: tuple[str, ...] = ()
    is_gate: bool = False
    # Where the entry is written, ("validations", 3), and the file it was read from: problems
    # found after loading (an unregistered marker, a warning) point into the YAML too.
    loc: Loc = ()
    source: YamlDocument | None = field(default=None, compare=False, repr=False)
    # The entries of its ``rules:`` file, as thresholds; those on a metric that ``acceptance``
    # also names are left out (the validation's own word wins), in ``rules_overridden``.
    rules: RulesFile | None = field(default=None, compare=False, repr=False)

    @property
    def base_dir(self) -> Path:
        """Paths in a validation file resolve relative to the file."""
        return self.file.parent

    @property
    def required(self) -> bool:
        """A gate whose failure skips the validations of its file."""
        return self.is_gate and bool(getattr(self.spec, "required", False))

    @property
    def thresholds(self) -> list[Threshold]:
        """``acceptance``, then the ``rules:`` file's entries on the metrics it leaves."""
        return [*self.spec.acceptance, *self.rule_thresholds]

    @property
    def rule_thresholds(self) -> list[Threshold]:
        if self.rules is None:
            return []
        written = {t.metric for t in self.spec.acceptance}
        return [t for t in self.rules.thresholds if t.metric not in written]

    @property
    def rules_overridden(self) -> list[Threshold]:
        """Entries of the rules file that a threshold under ``acceptance`` replaces."""
        if self.rules is None:
            return []
        written = {t.metric for t in self.spec.acceptance}
        return [t for t in self.rules.thresholds if t.metric in written]

    @property
    def matrix_env(self) -> dict[str, str]:
        return {f"SPILOT_MATRIX_{_env_name(k)}": str(v) for k, v in self.params.items()}

    def spec_as(self, model: type[_Spec]) -> _Spec:
        """``spec`` as the ``model`` its kind's runner reads; a SpilotError if it is another."""
        if not isinstance(self.spec, model):
            raise SpilotError(
                f"{self.file}: {'gate' if self.is_gate else 'validation'} {self.id!r} of kind "
                f"{self.spec.kind!r} reached a runner that reads {model.__name__}; the "
                "registry maps each kind to the runner of its model, so one of them is miswired"
            )
        return self.spec

    def resolve(self, path: str) -> Path:
        return (self.base_dir / path).resolve()

    def item_id(self, part: str) -> str:
        """The id of item ``part`` (``run``, a threshold's id) below the file: see ``item_id``."""
        return item_id(self.id, part)

    def threshold_loc(self, threshold: Threshold) -> Loc:
        """Where ``threshold`` is written in the entry's ``acceptance`` list (or ``rules``)."""
        for index, candidate in enumerate(self.spec.acceptance):
            if candidate is threshold:
                return (*self.loc, "acceptance", index)
        if self.rules is not None and any(t is threshold for t in self.rules.thresholds):
            return (*self.loc, "rules")
        return (*self.loc, "acceptance")

    def threshold_where(self, threshold: Threshold) -> tuple[Path, int | None]:
        """The file and line that state ``threshold``: the plan's, or its rules file's."""
        if self.rules is not None and any(t is threshold for t in self.rules.thresholds):
            return self.rules.path, self.rules.lines.get(threshold.metric)
        return self.file, self.line_of(self.threshold_loc(threshold))

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Line of ``loc`` (from the file's top) or of its deepest written prefix; None in code."""
        return self.source.line_of(loc) if self.source is not None else None

    def marker_loc(self, name: str) -> Loc:
        """Where marker ``name`` is written: in the entry's, the defaults' or the file's list."""
        data = self.source.data if self.source is not None else None
        for loc in ((*self.loc, "markers"), ("defaults", "markers"), ("markers",)):
            written = _at(data, loc)
            if isinstance(written, list) and name in written:
                return (*loc, written.index(name))
        if name in self.spec.markers:  # built in code: the defaults are merged in already
            return (*self.loc, "markers", self.spec.markers.index(name))
        return self.loc

    def plan_error(self, message: str, loc: Sequence[str | int]) -> PlanError:
        """``message`` about ``loc`` of this validation's file, naming the file, line and field."""
        return PlanError(self.file, message, line=self.line_of(loc), field=dotted(loc))


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def param_id(value: Scalar) -> str:
    """A matrix value as it appears in a test id (no '::', '/', or whitespace)."""
    return re.sub(r"::|[/\s]", "_", str(value)) or "_"


def item_id(validation_id: str, part: str) -> str:
    """``timing_report::run[ss-low]`` for validation ``timing_report[ss-low]``'s item ``run``.

    pytest reads the first ``[`` of a node id as the start of its last part's parameters
    (pytest 9's ``NodeId`` parses it so too): the matrix values go after the item's name,
    under a collector named like the entry, or a node id could not be selected again.
    """
    name, bracket, params = validation_id.partition("[")
    return f"{name}::{part}{bracket}{params}"


def substitute(value: Any, params: Mapping[str, Scalar]) -> Any:
    """Replace ``{name}`` for the matrix's own names only; other braces pass through."""
    if not params:
        return value
    pattern = re.compile(r"\{(" + "|".join(re.escape(k) for k in params) + r")\}")

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return pattern.sub(lambda m: str(params[m.group(1)]), v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value)


def expand(plan: ValidationFile, file: Path, file_key: str) -> Iterator[PlannedValidation]:
    """Gates first (they decide whether the rest is worth running), then validations."""
    entries = [(g, True, ("gates", i)) for i, g in enumerate(plan.gates)] + [
        (v, False, ("validations", i)) for i, v in enumerate(plan.validations)
    ]
    rule_files: dict[Path, RulesFile] = {}  # each read once, however many matrix entries
    for spec, is_gate, loc in entries:
        names = list(spec.matrix)
        combos = list(itertools.product(*spec.matrix.values())) if names else [()]
        seen: set[str] = set()
        for index, combo in enumerate(combos):
            params = dict(zip(names, combo, strict=True))
            vid = spec.name
            if params:
                vid += "[" + "-".join(param_id(v) for v in combo) + "]"
                if vid in seen:
                    vid = f"{vid[:-1]}-{index}]"
            seen.add(vid)
            update = {
                name: substitute(getattr(spec, name), params)
                for name in SUBSTITUTED_FIELDS
                if hasattr(spec, name)
            }
            markers = [*plan.markers, *spec.markers]
            rules = None
            if spec.rules is not None:
                rules = _rules_of(update["rules"], file, plan.source, (*loc, "rules"), rule_files)
            yield PlannedValidation(
                spec=spec.model_copy(update=update),
                file=file,
                key=f"{file_key}::{vid}",
                id=vid,
                params=params,
                markers=tuple(dict.fromkeys(markers)),
                is_gate=is_gate,
                loc=loc,
                source=plan.source,
                rules=rules,
            )


def _rules_of(
    written: str,
    file: Path,
    source: YamlDocument | None,
    loc: Loc,
    cache: dict[Path, RulesFile],
) -> RulesFile:
    """The rules file ``written`` in ``file`` (relative to it), read once per path."""
    path = (file.parent / written).resolve()
    if path not in cache:
        if not path.is_file():
            line = source.line_of(loc) if source is not None else None
            what = "is not a file" if path.exists() else "does not exist"
            raise PlanError(
                file,
                f"rules file {written!r} {what} (looked for {path}); fix the path (it resolves "
                "relative to the validation file) or remove 'rules:'",
                line=line,
                field=dotted(loc),
            )
        cache[path] = load_rules(path)
    return cache[path]
