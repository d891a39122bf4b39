"""``spilot rules tighten``: new threshold values from a good run, written into the user's YAML.

The margin policy follows OpenROAD-flow-scripts' rule generator, per metric:

* ``direct`` — the value itself: violation, error and DRC counts (what passed at 0 stays 0);
* ``padding`` — percent padding away from the value: areas, cell counts, wire length (15 %);
* ``period`` — slacks, padded relative to the clock period: WNS 5 %, TNS 20 %, with
  ``neg = min(v, 0)`` and ``rule = neg - max(|neg|·p, period·p)``.

Counts are rounded to integers (outwards: the rule never fails the run it came from), other
values to three significant figures. Only the number after ``value:`` changes in the file;
comments, order, quoting and layout stay as the user wrote them.

With ``--orfs OUT.json`` the same policy writes one validation's rules as an
OpenROAD-flow-scripts rules file instead (``{metric: {"value", "compare"}}``, what a
validation's ``rules:`` reads): its thresholds (``acceptance`` and ``rules:``) and, when OUT
exists, that file's rules, whose values are then the old ones the mode compares with. So
``--orfs`` naming the validation's own ``rules:`` file updates it in place; without ``--orfs``
only the YAML's ``value:`` numbers change, never a rules file.
"""

from __future__ import annotations

import argparse
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_spilot.atomic import write_atomic
from pytest_spilot.core.acceptance import compare, format_value
from pytest_spilot.core.state import ReleaseState, ValidationRecord
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.expand import expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.plan.model import Threshold, ValidationFile
from pytest_spilot.plan.orfs_rules import load_rules, render_rules
from pytest_spilot.reporting.table import columns
from pytest_spilot.yamlsource import YamlDocument, load_yaml

Mode = Literal["update", "tighten", "failing"]

PADDING = 0.15
WNS_PAD = 0.05
TNS_PAD = 0.20
_DIRECT_RE = re.compile(r"(drc|violat|error|lint|unmapped|latch|antenna|short|open)", re.I)
_TNS_RE = re.compile(r"tns", re.I)
_SLACK_RE = re.compile(r"(wns|__ws|slack|_ws$)", re.I)
_COUNT_RE = re.compile(r"(count|violat|error|drc|paths|cells|iterations)", re.I)


@dataclass(frozen=True)
class RuleChange:
    """One threshold whose value changes, and why."""

    file: Path
    validation: str
    threshold: str
    metric: str
    old: float
    new: float
    why: str


def policy(metric: str) -> tuple[str, float]:
    """(mode, fraction) for a metric name; see the module docstring."""
    if _TNS_RE.search(metric):
        return "period", TNS_PAD
    if _SLACK_RE.search(metric):
        return "period", WNS_PAD
    if _DIRECT_RE.search(metric):
        return "direct", 0.0
    return "padding", PADDING


def new_rule(metric: str, op: str, value: float, period: float | None) -> tuple[float, str] | None:
    """The rule a run that measured ``value`` earns, and why; None for ``==``/``!=``."""
    if op in ("==", "!="):
        return None
    upper = op in ("<", "<=")
    mode, pad = policy(metric)
    if mode == "period" and upper:  # an upper bound on a slack: pad like any other value
        mode, pad = "padding", PADDING
    if mode == "direct":
        rule, why = value, "direct: the value itself"
    elif mode == "padding":
        rule = value * (1 + pad) if upper else value * (1 - pad)
        why = f"padding {pad:.0%}"
    else:
        neg = min(value, 0.0)
        room = max(abs(neg) * pad, (period or 0.0) * pad)
        rule = neg - room
        why = f"{pad:.0%} of " + (f"clock period {format_value(period)}" if period else "|slack|")
        if not period:
            why += " (no clock period: --clock-period)"
    return _round(metric, rule, upper), why


def _round(metric: str, rule: float, upper: bool) -> float:
    """Counts to integers and the rest to 3 significant figures, always outwards."""
    if _COUNT_RE.search(metric) and not _SLACK_RE.search(metric):
        return float(math.ceil(rule - 1e-9) if upper else math.floor(rule + 1e-9))
    if rule == 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(abs(rule))) - 2)
    rounded = (math.ceil if upper else math.floor)(rule / step - (1e-9 if upper else -1e-9))
    return float(f"{rounded * step:.3g}")


def _stricter(op: str, new: float, old: float) -> bool:
    return new < old if op in ("<", "<=") else new > old


def tighten(
    state: ReleaseState,
    root: Path,
    mode: Mode = "tighten",
    period: float | None = None,
    write: bool = True,
) -> list[RuleChange]:
    """Compute new values for every ``value:`` threshold of the state's validations and, with
    ``write``, rewrite them in their files; the changes, in file order."""
    check_state(state)
    parsed: dict[str, tuple[ValidationFile, YamlDocument] | None] = {}

    def plan_of(file: str) -> tuple[ValidationFile, YamlDocument] | None:
        if file not in parsed:  # each file is read and parsed once
            path = root / file
            parsed[file] = (load_validation_file(path), load_yaml(path)) if path.is_file() else None
        return parsed[file]

    # (file, validation index, threshold index) -> every run's measured value (matrix expansion).
    measured: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    for record in state.validations.values():
        if record.run is None or record.run.outcome != "passed" or record.gate:
            continue
        found = plan_of(record.file)
        if found is None:
            continue
        for v_index, entry in enumerate(found[0].validations):
            if entry.name != record.name:
                continue
            for index, written in enumerate(entry.acceptance):
                value = record.run.metrics.get(written.metric)
                if written.value is not None and value is not None:
                    measured[(record.file, v_index, index)].append(value)
    changes: list[RuleChange] = []
    by_file: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for (file, v_index, index), values in sorted(measured.items()):
        plan, doc = parsed[file]  # type: ignore[misc]  # measured only holds parsed files
        entry = plan.validations[v_index]
        threshold: Threshold = entry.acceptance[index]
        assert threshold.value is not None
        worst = max(values) if threshold.op in ("<", "<=") else min(values)
        earned = new_rule(threshold.metric, threshold.op, worst, period)
        if earned is None or earned[0] == threshold.value:
            continue
        value, why = earned
        if mode == "tighten" and not _stricter(threshold.op, value, threshold.value):
            continue
        if mode == "failing" and all(
            compare(v, threshold.op, threshold.value, threshold.tolerance) for v in values
        ):
            continue
        span = doc.spans.get(("validations", v_index, "acceptance", index, "value"))
        if span is None:
            continue
        by_file[file].append((*span, value))
        changes.append(
            RuleChange(
                root / file, entry.name, threshold.id, threshold.metric, threshold.value, value, why
            )
        )
    if write:
        for file, edits in by_file.items():
            path = root / file
            text = path.read_text(encoding="utf-8")
            for start, end, value in sorted(edits, reverse=True):
                text = text[:start] + format_value(value) + text[end:]
            write_atomic(path, text)
    return changes


def render_changes(changes: list[RuleChange], root: Path, wrote: bool) -> str:
    if not changes:
        return "no threshold changes"
    header = ("file", "validation", "metric", "old", "new", "why")
    rows = [
        (
            str(c.file.relative_to(root) if c.file.is_relative_to(root) else c.file),
            c.validation,
            c.metric,
            format_value(c.old),
            format_value(c.new),
            c.why,
        )
        for c in changes
    ]
    lines = columns(header, rows)
    verb = "rewrote" if wrote else "would rewrite (--dry-run)"
    lines.append(f"{verb} {len(changes)} threshold{'s' if len(changes) != 1 else ''}")
    return "\n".join(lines)


def check_state(state: ReleaseState) -> None:
    failed = [k for k, r in state.validations.items() if r.run and r.run.outcome != "passed"]
    if failed and len(failed) == len(state.validations):
        raise SpilotError(
            f"release {state.version}: no validation passed; tighten rules from a good run"
        )


# -- OpenROAD-flow-scripts rules files ------------------------------------------------------


@dataclass(frozen=True)
class OrfsRules:
    """An ORFS rules file computed from a good run: its entries and what changed."""

    path: Path
    validation: str
    rules: dict[str, dict[str, object]]
    changes: list[RuleChange]


def tighten_orfs(
    state: ReleaseState,
    root: Path,
    out: Path,
    validation: str | None = None,
    mode: Mode = "tighten",
    period: float | None = None,
    write: bool = True,
) -> OrfsRules:
    """One validation's rules, by the policy of ``tighten``, as the ORFS rules file ``out``."""
    check_state(state)
    passed = [
        r
        for r in state.validations.values()
        if r.run is not None and r.run.outcome == "passed" and not r.gate
    ]
    names = sorted({r.name for r in passed})
    if validation is None:
        if len(names) != 1:
            raise SpilotError(
                f"release {state.version} holds {len(names)} passed validations "
                f"({', '.join(names) or 'none'}); an ORFS rules file is one design's: name "
                "one with --validation NAME"
            )
        validation = names[0]
    records = [r for r in passed if validation in (r.name, r.id)]
    if not records:
        raise SpilotError(
            f"release {state.version} has no passed run of validation {validation!r}; passed: "
            f"{', '.join(names) or 'none'}"
        )
    # metric -> (compare, old value, level), in the order they are written.
    rules: dict[str, tuple[str, float, str | None]] = {}
    verbatim: dict[str, dict[str, object]] = {}  # entries spilot cannot judge, kept as they are
    order: list[str] = []
    if out.is_file():
        old = load_rules(out)
        order = list(old.entries)
        for threshold in old.thresholds:
            level = old.entries.get(threshold.metric, {}).get("level")
            assert threshold.value is not None  # a rules file has no baseline ratios
            rules[threshold.metric] = (threshold.op, threshold.value, _level(level))
        verbatim = {metric: dict(old.entries[metric]) for metric, _ in old.skipped}
    for threshold in _thresholds(root, records):
        if threshold.value is not None and threshold.metric not in rules:
            level = "warning" if threshold.level == "warning" else None
            rules[threshold.metric] = (threshold.op, threshold.value, level)
    if not rules and not verbatim:
        raise SpilotError(
            f"validation {validation!r} has no 'value:' thresholds (acceptance or rules:) and "
            f"{out} does not exist: there is nothing to write rules for"
        )
    entries: dict[str, dict[str, object]] = {}
    changes = []
    for metric, (op, old_value, level) in rules.items():
        value = old_value
        measured = [r.run.metrics[metric] for r in records if r.run and metric in r.run.metrics]
        earned = _earned(metric, op, old_value, measured, mode, period)
        if earned is not None:
            value, why = earned
            changes.append(
                RuleChange(
                    out,
                    validation,
                    f"{metric}{op}{format_value(old_value)}",
                    metric,
                    old_value,
                    value,
                    why,
                )
            )
        entries[metric] = {"value": value, "compare": op, "level": level}
    # The old file's order (its string rules in place), then the plan's new ones.
    entries = {m: verbatim.get(m) or entries[m] for m in [*order, *entries]}
    if write:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, render_rules(entries))
    return OrfsRules(out, validation, entries, changes)


def _earned(
    metric: str,
    op: str,
    old: float,
    measured: list[float],
    mode: Mode,
    period: float | None,
) -> tuple[float, str] | None:
    """The new value of one rule and why, or None where the mode keeps the old one."""
    if not measured:
        return None
    worst = max(measured) if op in ("<", "<=") else min(measured)
    earned = new_rule(metric, op, worst, period)
    if earned is None or earned[0] == old:
        return None
    if mode == "tighten" and not _stricter(op, earned[0], old):
        return None
    if mode == "failing" and all(compare(v, op, old) for v in measured):
        return None
    return earned


def _thresholds(root: Path, records: list[ValidationRecord]) -> list[Threshold]:
    """The thresholds of the plan entries the records ran, in plan order, each metric once."""
    found: dict[str, Threshold] = {}
    for file in dict.fromkeys(r.file for r in records):
        path = root / file
        if not path.is_file():
            continue
        ids = {r.id for r in records if r.file == file}
        for planned in expand(load_validation_file(path), path, file):
            if planned.id in ids:
                for threshold in planned.thresholds:
                    found.setdefault(threshold.metric, threshold)
    return list(found.values())


def _level(level: object) -> str | None:
    return "warning" if level == "warning" else None


def render_orfs(result: OrfsRules, wrote: bool) -> str:
    """The changes table (without its YAML wording) and what was written."""
    table = render_changes(result.changes, result.path.parent, wrote).splitlines()
    lines = table[:-1] if result.changes else []
    verb = "wrote" if wrote else "would write (--dry-run)"
    count = len(result.rules)
    lines.append(
        f"{verb} {result.path}: {count} rule{'s' if count != 1 else ''} of validation "
        f"{result.validation!r}, {len(result.changes)} changed"
    )
    return "\n".join(lines)


def add_orfs_arguments(parser: argparse.ArgumentParser) -> None:
    """``--orfs OUT.json`` and ``--validation NAME`` of ``spilot rules tighten``."""
    parser.add_argument(
        "--orfs",
        type=Path,
        metavar="OUT",
        help="write one validation's rules as an OpenROAD-flow-scripts rules file (read by a "
        "validation's 'rules:'); an existing OUT gives the old values",
    )
    parser.add_argument(
        "--validation",
        metavar="NAME",
        help="with --orfs: the validation (name or id) whose rules to write; needed when the "
        "state holds more than one",
    )


def run_tighten(args: argparse.Namespace, load: Callable[[str], ReleaseState]) -> int:
    """``spilot rules tighten``: the YAML thresholds, or with ``--orfs`` a rules file."""
    state = load(args.state)
    root = args.root.resolve()
    write = not args.dry_run
    orfs: Path | None = args.orfs
    if orfs is not None:
        result = tighten_orfs(
            state,
            root,
            orfs,
            args.validation,
            args.mode,
            args.clock_period,
            write=write,
        )
        print(render_orfs(result, wrote=write))
        return 0
    changes = tighten(state, root, args.mode, args.clock_period, write=write)
    print(render_changes(changes, root, wrote=write))
    return 0
