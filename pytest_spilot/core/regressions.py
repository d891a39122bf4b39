"""Regressions: every metric with a known direction, compared with the baseline release.

A metric regresses when it moves the wrong way by more than its margin, a fraction of the
baseline's magnitude (default 5 %): lower-is-better 100 -> 106 regresses, 100 -> 104 does not.
From a baseline of 0 any worsening regresses (0 DRC errors -> 1). Unlike LibreLane's own
compare, which only reports, a regression fails its test and ``spilot compare`` exits 1.

How much a regression weighs follows LibreLane's metric library: a metric it marks
``critical`` (violation counts, DRC and LVS errors, TNS/WNS) fails; one it defines without
``critical`` (areas, power, worst slack) is a warning unless the validation says
``noncritical_regressions: error``; a metric it does not define (a skill's, your own) fails as
before. A rule's own ``level`` overrides both. Each metric's level is decided when the run is
made and recorded with it (``RunRecord.levels``), so that ``spilot compare`` reaches the run's
verdict on any machine, with or without LibreLane and without the plan; a record made before
``levels`` existed is weighed as then, by the LibreLane installed where compare runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

from pytest_spilot.core.acceptance import format_value
from pytest_spilot.core.state import ReleaseState, RunRecord
from pytest_spilot.plan.model import Level, RegressionRule
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
    level: Level = "error"  # what a regression of it does: fail, or warn
    why_level: str = field(default="", compare=False)

    @property
    def failed(self) -> bool:
        return self.verdict == "regressed" and self.level == "error"

    @property
    def warned(self) -> bool:
        return self.verdict == "regressed" and self.level == "warning"

    @property
    def change(self) -> str:
        if self.old is None or self.new is None:
            return ""
        if self.old == 0:
            return "±0" if self.new == 0 else f"{self.new - self.old:+g}"
        return f"{(self.new - self.old) / abs(self.old):+.1%}"

    def line(self) -> str:
        allowed = f"{self.margin:.0%}" if self.direction else "-"
        text = (
            f"{self.metric} {format_value(self.old)} -> {format_value(self.new)} "
            f"({self.change or 'n/a'}, "
            f"{self.direction or 'no direction'}, margin {allowed}): {self.verdict}"
        )
        if self.warned:
            text += f" (warning: {self.why_level})" if self.why_level else " (warning)"
        return text


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


LevelOf = Callable[[str], tuple[Level, str]]


def regression_level(
    metric: str,
    rules: Mapping[str, RegressionRule] | None = None,
    noncritical: Level = "warning",
) -> tuple[Level, str]:
    """What a regression of ``metric`` does, and why: see the module docstring."""
    rule = (rules or {}).get(metric)
    if rule is not None and rule.level is not None:
        return rule.level, f"level {rule.level} in its regression rule"
    # Imported here: every pytest process imports this module, LibreLane support only on use.
    from pytest_spilot.librelane.results import metric_direction

    known = metric_direction(metric)
    if known is None:
        return "error", ""
    if known.critical:
        return "error", "LibreLane marks it critical"
    return noncritical, "not critical in LibreLane's metric library"


def levels_for(rules: Mapping[str, RegressionRule], noncritical: Level = "warning") -> LevelOf:
    """``regression_level`` for one validation's ``regressions`` and ``noncritical_regressions``."""
    return lambda metric: regression_level(metric, rules, noncritical)


def run_levels(
    metrics: Iterable[str],
    rules: Mapping[str, RegressionRule],
    noncritical: Level = "warning",
    critical: Mapping[str, bool] | None = None,
) -> dict[str, Level]:
    """``RunRecord.levels``: what a regression of each of the run's metrics does.

    ``critical`` is what the run's tool says of the metrics it defines (``RunOutcome``). Other
    metrics are looked up in LibreLane's library by name only when named as LibreLane names
    its metrics (``a__b``): a command's ``area`` or ``sps`` never loads LibreLane. Recorded
    with the run, so a later ``spilot compare`` needs no LibreLane.
    """
    critical = critical or {}
    levels: dict[str, Level] = {}
    for metric in sorted(metrics):
        rule = rules.get(metric)
        if rule is not None and rule.level is not None:
            levels[metric] = rule.level
        elif metric in critical:
            levels[metric] = "error" if critical[metric] else noncritical
        elif "__" in metric:
            levels[metric] = regression_level(metric, rules, noncritical)[0]
        else:
            levels[metric] = "error"
    return levels


def recorded_levels(run: RunRecord) -> LevelOf | None:
    """The levels ``run`` recorded (a metric it did not record fails); None: none recorded."""
    levels = run.levels
    if levels is None:
        return None

    def level_of(metric: str) -> tuple[Level, str]:
        level = levels.get(metric, "error")
        return level, "recorded as a warning when the run was made" if level == "warning" else ""

    return level_of


def compare_runs(
    validation: str,
    old: RunRecord,
    new: RunRecord,
    default_margin: float = DEFAULT_MARGIN,
    level_of: LevelOf | None = None,
) -> list[MetricChange]:
    """Every metric of either run; directions and margins are the new run's.

    ``level_of`` weighs each regression (default: the levels the new run recorded; for a record
    without them, LibreLane's ``critical`` with nothing declared).
    """
    directions: Mapping[str, str] = {**old.directions, **new.directions}
    weigh = level_of or recorded_levels(new) or regression_level
    changes = []
    for metric in sorted({*old.metrics, *new.metrics}):
        direction = directions.get(metric)
        margin = new.margins.get(metric, old.margins.get(metric, default_margin))
        before, after = old.metrics.get(metric), new.metrics.get(metric)
        if before is None or after is None:
            verdict: ChangeVerdict = "new" if before is None else "gone"
        else:
            verdict = judge_change(before, after, direction, margin)
        level, why = weigh(metric) if verdict == "regressed" else ("error", "")
        changes.append(
            MetricChange(validation, metric, before, after, direction, margin, verdict, level, why)
        )
    return changes


RegressionOutcome = Literal["passed", "failed", "warning"]


@dataclass(frozen=True)
class RegressionSummary:
    """A run's regressions verdict: failed on an error-level regression, warning on others."""

    outcome: RegressionOutcome
    message: str
    failed: list[str]  # metrics whose regression fails
    warned: list[str]  # metrics whose regression is reported only


def summarize(changes: list[MetricChange], baseline: str) -> RegressionSummary:
    """The verdict of ``changes`` against the baseline release named ``baseline``."""
    failed = [c.metric for c in changes if c.failed]
    warned = [c.metric for c in changes if c.warned]

    def count(names: list[str]) -> str:
        return f"{len(names)} metric{'s' if len(names) != 1 else ''}"

    if failed:
        message = f"{count(failed)} regressed against the baseline {baseline}"
        if warned:
            message += f" ({count(warned)} more as warnings)"
        return RegressionSummary("failed", message, failed, warned)
    if warned:
        message = (
            f"{count(warned)} regressed against the baseline {baseline}, none critical: "
            "reported as warnings (noncritical_regressions: error makes them fail)"
        )
        return RegressionSummary("warning", message, failed, warned)
    return RegressionSummary("passed", f"no regression against the baseline {baseline}", [], [])


def compare_states(
    old: ReleaseState, new: ReleaseState, default_margin: float = DEFAULT_MARGIN
) -> list[MetricChange]:
    """Every validation that ran in both releases, metric by metric, named by its key (one id
    may be in several plan files), weighed as the new release's run recorded."""
    changes = []
    for key in sorted(set(old.validations) & set(new.validations)):
        before, after = old.validations[key].run, new.validations[key].run
        if before is not None and after is not None:
            changes += compare_runs(key, before, after, default_margin)
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
            _shown_verdict(c),
        )
        for c in changes
    ]
    lines = [title, *columns(header, rows)]
    regressed = sum(c.verdict == "regressed" for c in changes)
    summary = f"{regressed} regression{'s' if regressed != 1 else ''} in {len(changes)} metrics"
    warned = sum(c.warned for c in changes)
    if warned:
        summary += f" ({warned} not critical: warnings)"
    lines.append(summary)
    return "\n".join(lines)


def _shown_verdict(change: MetricChange) -> str:
    if change.warned:
        return "regressed (warning)"
    return change.verdict.upper() if change.verdict == "regressed" else change.verdict


def to_json(changes: list[MetricChange]) -> str:
    return json.dumps([{**asdict(c), "change": c.change} for c in changes], indent=2)
