"""OpenROAD-flow-scripts rule files (``rules-base.json``): read as thresholds, written back.

The format is ORFS's own, as ``flow/util/genRuleFile.py`` writes it and
``flow/util/checkMetadata.py`` reads it: one JSON object of ``metric: {"value": V, "compare":
OP}``, with ``"level": "warning"`` for a rule whose miss is reported and never fails (the older
``{"rules": [{"field", "value", "compare"}]}`` list is read too). Each entry becomes a
:class:`Threshold` with the same id and reporting as one written under ``acceptance:``. A
value that is not a number (ORFS keeps netlist hashes as warning rules) cannot be judged on
spilot's numeric metrics: such a ``warning`` entry is skipped and listed, any other is an error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, RootModel, ValidationError

from pytest_spilot.errors import PlanError, PlanErrors
from pytest_spilot.plan.model import OPERATORS, Level, Operator, StrictModel, Threshold

ENTRY_KEYS = ("value", "compare", "level")
_FORMAT_HINT = (
    'an OpenROAD-flow-scripts rules file is one JSON object of metric: {"value": NUMBER, '
    '"compare": "<=", "level": "warning" (optional)}'
)


class OrfsRule(StrictModel):
    """One rule of an ORFS rules file: ``metric compare value``."""

    value: float | str = Field(description="the bound; ORFS also keeps strings (netlist hashes)")
    compare: Operator = Field(description="the metric's value compared with 'value'")
    level: Literal["warning", "error"] | None = Field(
        None, description="warning: a miss is reported, never fails (default: it fails)"
    )


class OrfsRulesFile(RootModel[dict[str, OrfsRule]]):
    """An ORFS ``rules-*.json``: metric to rule."""


@dataclass(frozen=True)
class RulesFile:
    """The thresholds of one rules file, and what of it could not become one."""

    path: Path
    thresholds: tuple[Threshold, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (metric, why)
    lines: Mapping[str, int] = field(default_factory=dict)  # metric -> line of its entry
    entries: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # as written


def load_rules(path: Path) -> RulesFile:
    """Read ``path``; PlanError/PlanErrors name the file, line and field of every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(path, f"cannot read the rules file ({exc.strerror or exc})") from None
    return parse_rules(text, path)


def parse_rules(text: str, path: Path) -> RulesFile:
    """The thresholds of a rules file's ``text`` (read from ``path``, named in errors)."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise PlanError(
            path,
            f"not valid JSON: {exc.msg} (column {exc.colno}); {_FORMAT_HINT}",
            line=exc.lineno,
        ) from None
    errors: list[PlanError] = []
    for key in dict.fromkeys(duplicates):
        errors.append(
            PlanError(
                path,
                f"metric {key!r} has more than one rule (JSON keeps only the last); keep one",
                line=_line_of(text, key),
                field=key,
            )
        )
    if isinstance(data, dict) and isinstance(data.get("rules"), list):
        data = _legacy(data["rules"], path, text, errors)
    if not isinstance(data, dict):
        raise PlanError(path, f"the top level is not a JSON object; {_FORMAT_HINT}", line=1)
    if not data and not errors:
        raise PlanError(
            path,
            f"the file has no rules (ORFS's checker refuses one too); {_FORMAT_HINT}, or "
            "remove 'rules:' from the validation",
            line=1,
        )
    thresholds: list[Threshold] = []
    skipped: list[tuple[str, str]] = []
    lines: dict[str, int] = {}
    entries: dict[str, dict[str, Any]] = {}
    for metric, entry in data.items():
        line = _line_of(text, metric)
        if line is not None:
            lines[metric] = line
        found = _threshold(metric, entry, path, text, errors)
        if isinstance(found, Threshold):
            thresholds.append(found)
            entries[metric] = dict(entry)
        elif isinstance(found, str):
            skipped.append((metric, found))
            entries[metric] = dict(entry)
    if errors:
        raise errors[0] if len(errors) == 1 else PlanErrors(errors)
    return RulesFile(path, tuple(thresholds), tuple(skipped), lines, entries)


def _legacy(rules: list[Any], path: Path, text: str, errors: list[PlanError]) -> dict[str, Any]:
    """The older ``{"rules": [{"field", "value", "compare"}]}`` as metric to entry."""
    out: dict[str, Any] = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or not isinstance(rule.get("field"), str):
            errors.append(
                PlanError(
                    path,
                    'each rule of the "rules" list needs "field" (the metric), "value" and '
                    '"compare"; fix this entry',
                    line=_line_of(text, "rules"),
                    field=f"rules.{index}",
                )
            )
            continue
        out[rule["field"]] = {k: v for k, v in rule.items() if k != "field"}
    return out


def _threshold(
    metric: str, entry: Any, path: Path, text: str, errors: list[PlanError]
) -> Threshold | str | None:
    """The threshold of one entry; a string: why it is skipped; None: an error was added."""

    def error(message: str, key: str | None = None) -> None:
        where = _line_of(text, metric, key) if key else _line_of(text, metric)
        errors.append(
            PlanError(path, message, line=where, field=f"{metric}.{key}" if key else metric)
        )

    if not metric.strip():
        error(f"a rule has an empty metric name; name the metric it bounds. {_FORMAT_HINT}")
        return None
    if not isinstance(entry, dict):
        error(f"expected an object with value and compare (got {_shown(entry)}); {_FORMAT_HINT}")
        return None
    if isinstance(entry.get("value"), bool):
        error(f"'value' must be a number (got {_shown(entry['value'])}); write the bound", "value")
        return None
    try:
        rule = OrfsRule.model_validate(entry)
    except ValidationError as exc:
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else None
            error(_entry_message(err, entry), key)
        return None
    level: Level = "warning" if rule.level == "warning" else "error"
    value = _number(rule.value)
    if value is None:
        if level == "warning":
            return (
                f"value {rule.value!r} is not a number (a fingerprint ORFS compares); "
                "spilot judges numeric metrics only"
            )
        error(
            f"value {rule.value!r} is not a number, and spilot judges numeric metrics only; "
            'give a number, or mark the rule "level": "warning" to leave it to ORFS '
            "(spilot then skips it)",
            "value",
        )
        return None
    if math.isnan(value):
        error("value NaN never compares true; give a number", "value")
        return None
    return Threshold(metric=metric, op=rule.compare, value=value, level=level)


def _entry_message(err: Any, entry: Mapping[str, Any]) -> str:
    kind, key = err["type"], (err["loc"][0] if err["loc"] else "")
    if kind == "extra_forbidden":
        return f"unknown key {key!r}; an entry holds {', '.join(ENTRY_KEYS)}: remove or rename it"
    if kind == "missing":
        example = '{"value": 100, "compare": "<="}'
        return f"required key {key!r} is missing; add it, e.g. {example}"
    if key == "compare":
        return (
            f"unknown compare operator {entry.get('compare')!r}; use one of "
            f"{', '.join(OPERATORS)} (as OpenROAD-flow-scripts' checkMetadata.py reads them)"
        )
    if key == "level":
        return (
            f'{entry.get("level")!r} is not a level; use "warning" (a miss is reported, never '
            'fails) or "error", or leave it out (a miss fails)'
        )
    return f"'value' must be a number (got {_shown(entry.get(key))}); write the bound"


def _number(value: float | str) -> float | None:
    """ORFS's ``try_number``: a number, or a string that reads as one; else None."""
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except ValueError:
        return None


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    return repr(value)


def _line_of(text: str, metric: str, key: str | None = None) -> int | None:
    """The line of ``metric``'s entry (of its ``key`` within it) in the JSON ``text``."""
    found = re.search(re.escape(json.dumps(metric)) + r"\s*:", text)
    if found is None:
        return None
    at = found.start()
    if key is not None:
        inner = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text, found.end())
        closing = text.find("}", found.end())
        if inner is not None and (closing < 0 or inner.start() < closing):
            at = inner.start()
    return text.count("\n", 0, at) + 1


def render_rules(rules: Mapping[str, Mapping[str, Any]]) -> str:
    """An ORFS rules file's text, laid out as ``genRuleFile.py`` writes it."""
    out = {
        metric: {k: _plain(v) for k, v in entry.items() if v is not None}
        for metric, entry in rules.items()
    }
    return json.dumps(out, indent=4) + "\n"


def _plain(value: Any) -> Any:
    # Whole numbers as integers (2725, not 2725.0), as ORFS writes rounded rules.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value
