"""Regressions: every metric with a known direction, compared with the baseline release.

A metric regresses when it moves the wrong way by more than its margin, a fraction of the
baseline's magnitude (default 5 %): lower-is-better 100 -> 106 regresses, 100 -> 104 does not.
From a baseline of 0 any worsening regresses (0 DRC errors -> 1). Unlike LibreLane's own
compare, which only reports, a regression fails its test and ``spilot compare`` exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from pytest_spilot.core.acceptance import format_value
from pytest_spilot.core.state import ReleaseState, RunRecord
from pytest_spilot.reporting.table import columns

DEFAULT_MARGIN_PCT = 5.0  # allowed worsening, in percent of the baseline value
DEFAULT_MARGIN = DEFAULT_MARGIN_PCT / 100
ChangeVerdict = Literal["regressed", "worse", "better", "same", "new", "gone", "no direction"]


@dataclass(frozen=True)
class MetricChange:
    """One metric of one validation, baseline vs. now."""

    validation: str
    metric: str
    old: float | None
    new: float | None
    direction: str | None
    margin: float
    verdict: ChangeVerdict

    @property
    def change(self) -> str:
        if self.old is None or self.new is None:
            return ""
        if self.old == 0:
            return "±0" if self.new == 0 else f"{self.new - self.old:+g}"
        return f"{(self.new - self.old) / abs(self.old):+.1%}"

    def line(self) -> str:
        allowed = f"{self.margin:.0%}" if self.direction else "-"
        return (
            f"{self.metric} {format_value(self.old)} -> {format_value(self.new)} "
            f"({self.change or 'n/a'}, "
            f"{self.direction or 'no direction'}, margin {allowed}): {self.verdict}"
        )


def judge_change(old: float, new: float, direction: str | None, margin: float) -> ChangeVerdict:
    """How ``old`` -> ``new`` looks for a metric that should move in ``direction``."""
    if direction is None:
        return "no direction"
    if new == old:
        return "same"
    worse_by = (new - old) if direction == "lower_is_better" else (old - new)
    if worse_by < 0:
        return "better"
    return "regressed" if worse_by > margin * abs(old) else "worse"


def compare_runs(
    validation: str,
    old: RunRecord,
    new: RunRecord,
    default_margin: float = DEFAULT_MARGIN,
) -> list[MetricChange]:
    """Every metric of either run; directions and margins are the new run's."""
    directions: Mapping[str, str] = {**old.directions, **new.directions}
    changes = []
    for metric in sorted({*old.metrics, *new.metrics}):
        direction = directions.get(metric)
        margin = new.margins.get(metric, old.margins.get(metric, default_margin))
        before, after = old.metrics.get(metric), new.metrics.get(metric)
        if before is None or after is None:
            verdict: ChangeVerdict = "new" if before is None else "gone"
        else:
            verdict = judge_change(before, after, direction, margin)
        changes.append(MetricChange(validation, metric, before, after, direction, margin, verdict))
    return changes


def compare_states(
    old: ReleaseState, new: ReleaseState, default_margin: float = DEFAULT_MARGIN
) -> list[MetricChange]:
    """Every validation that ran in both releases, metric by metric."""
    changes = []
    for key in sorted(set(old.validations) & set(new.validations)):
        before, after = old.validations[key].run, new.validations[key].run
        if before is not None and after is not None:
            changes += compare_runs(new.validations[key].id, before, after, default_margin)
    return changes


def render_table(changes: list[MetricChange], title: str) -> str:
    header = ("validation", "metric", "old", "new", "change", "direction", "verdict")
    rows = [
        (
            c.validation,
            c.metric,
            format_value(c.old),
            format_value(c.new),
            c.change,
            c.direction or "-",
            c.verdict.upper() if c.verdict == "regressed" else c.verdict,
        )
        for c in changes
    ]
    lines = [title, *columns(header, rows)]
    regressed = sum(c.verdict == "regressed" for c in changes)
    lines.append(f"{regressed} regression{'s' if regressed != 1 else ''} in {len(changes)} metrics")
    return "\n".join(lines)


def to_json(changes: list[MetricChange]) -> str:
    return json.dumps([{**asdict(c), "change": c.change} for c in changes], indent=2)
