"""Judge one acceptance threshold against a run's metrics (and a baseline release's)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from pytest_spilot.plan.model import Threshold

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

Outcome = Literal["passed", "failed", "warning"]


def format_value(value: float | None) -> str:
    """A metric value as people write it: integers without '.0', others to 6 significant digits."""
    if value is None:
        return "n/a"
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def compare(value: float, op: str, expected: float, tolerance: float | None = None) -> bool:
    """``value op expected``, with an absolute ``tolerance`` loosening the comparison."""
    if not tolerance:
        return _COMPARE[op](value, expected)
    if op == "==":
        return abs(value - expected) <= tolerance
    if op == "!=":
        return abs(value - expected) > tolerance
    if op in ("<", "<="):
        return _COMPARE[op](value, expected + tolerance)
    return _COMPARE[op](value, expected - tolerance)


@dataclass(frozen=True)
class ThresholdVerdict:
    """The outcome of one threshold, with everything a report shows about it."""

    outcome: Outcome
    value: float | None
    expected: float | None
    baseline: float | None
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


def judge(
    threshold: Threshold,
    metrics: Mapping[str, float],
    missing: Mapping[str, str],
    *,
    run_error: str | None = None,
    baseline: Mapping[str, float] | None = None,
) -> ThresholdVerdict:
    """Decide one threshold; a failed run or a missing metric is never a pass."""
    miss: Outcome = "warning" if threshold.level == "warning" else "failed"
    name = threshold.metric
    if run_error is not None:
        return ThresholdVerdict("failed", None, threshold.value, None, f"run failed: {run_error}")
    base_value: float | None = None
    expected = threshold.value
    if threshold.baseline is not None:
        if baseline is None:
            return ThresholdVerdict(
                miss,
                metrics.get(name),
                None,
                None,
                f"{threshold.id}: no baseline release given; pass --spilot-baseline PATH|VERSION",
            )
        if name not in baseline:
            return ThresholdVerdict(
                miss,
                metrics.get(name),
                None,
                None,
                f"{threshold.id}: baseline has no metric {name!r}",
            )
        base_value = baseline[name]
        expected = threshold.baseline * base_value
    assert expected is not None
    if name not in metrics:
        why = missing.get(name, "no source produced it")
        return ThresholdVerdict(miss, None, expected, base_value, f"metric missing: {name}: {why}")
    value = metrics[name]
    ok = compare(value, threshold.op, expected, threshold.tolerance)
    shown = format_value(expected)
    if base_value is not None:
        factor, base = format_value(threshold.baseline), format_value(base_value)
        shown = f"{shown} = {factor} x baseline {base}"
    if threshold.tolerance:
        shown += f" ± {format_value(threshold.tolerance)}"
    word = "ok" if ok else ("WARNING" if miss == "warning" else "FAILED")
    return ThresholdVerdict(
        "passed" if ok else miss,
        value,
        expected,
        base_value,
        f"{name} = {format_value(value)} ({threshold.op} {shown}) {word}",
    )
