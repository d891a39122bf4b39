"""What a LibreLane run left: its metrics (also of a failed run), artifacts, and which way
each metric should move."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pytest_spilot.errors import SpilotError

FINAL_METRICS = Path("final") / "metrics.json"
LOGS = ("flow.log", "warning.log", "error.log", "resolved.json")
ARTIFACT_SUFFIXES = (".gds", ".oas", ".def", ".odb", ".nl.v", ".pnl.v", ".sdc", ".lib", ".spef")


def flatten_metrics(data: Any) -> dict[str, float]:
    """LibreLane metrics as a flat ``name → number`` dict; per-corner keys
    (``timing__setup__ws__corner:nom_tt_025C_1v80``) stay as they are. Non-numbers are
    dropped (some metrics are strings or null)."""
    out: dict[str, float] = {}
    if not isinstance(data, dict):
        return out
    for key, value in data.items():
        if isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, int | float | Decimal):
            number = float(value)
            if math.isfinite(number):
                out[key] = number
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):
                out[key] = number
    return out


def step_dirs(run_dir: Path) -> list[Path]:
    """The run's step folders (``NN-step-slug``), in order."""
    steps = [p for p in run_dir.iterdir() if p.is_dir() and p.name.split("-", 1)[0].isdigit()]
    return sorted(steps, key=lambda p: int(p.name.split("-", 1)[0]))


def read_run_metrics(run_dir: Path) -> tuple[dict[str, float], str]:
    """The run's metrics and where they came from.

    ``final/metrics.json`` exists only after a successful run; a failed run's metrics come
    from the last step that wrote a ``state_out.json``, so what it reached is not lost.
    """
    final = run_dir / FINAL_METRICS
    if final.is_file():
        return aggregate_metrics(flatten_metrics(_load(final))), str(final)
    for step in reversed(step_dirs(run_dir) if run_dir.is_dir() else []):
        state = step / "state_out.json"
        if state.is_file():
            return aggregate_metrics(flatten_metrics(_load(state).get("metrics", {}))), str(state)
    return {}, ""


def aggregate_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` with the aggregate of every LibreLane metric that has only modified values.

    LibreLane defines, per metric, how its ``name__corner:X`` (and other ``key:value``
    modifier) values combine into ``name``: the worst case (min of slacks, max of drops, the
    sum of violation counts), skipping the modifiers of ``dont_aggregate`` (routing
    iterations). Its steps store the aggregate beside the corners; where a run left only the
    corners (a failed run's last step, a custom step), it is made here by that definition, so a
    threshold or a regression on the plain name judges the worst corner. A value the run wrote
    itself is kept. Without ``librelane`` installed nothing is added.
    """
    definitions = _definitions()
    if not definitions:
        return dict(metrics)
    values: dict[str, tuple[_Aggregator, list[float]]] = {}
    for name, value in metrics.items():
        base, modifiers = _modifiers(name)
        aggregator, dont_aggregate = definitions.get(base, (None, set()))
        if not modifiers or aggregator is None or {k for k, _ in modifiers} & dont_aggregate:
            continue
        # Into the plain name and each prefix short of the full name, as LibreLane does.
        prefix = base
        for key, modifier in modifiers:
            values.setdefault(prefix, (aggregator, []))[1].append(value)
            prefix += f"__{key}:{modifier}"
    out = dict(metrics)
    for name, ((start, reduce), found) in values.items():
        if name in out:
            continue
        total = float(start)
        for value in found:
            total = float(reduce([total, value]))
        if math.isfinite(total):
            out[name] = total
    return out


_Aggregator = tuple[float, Callable[[Iterable[float]], float]]


def _definitions() -> dict[str, tuple[_Aggregator | None, set[str]]]:
    """LibreLane's metrics: name to (aggregator, modifiers never aggregated); {} without it."""
    try:
        from librelane.common.metrics.metric import Metric
    except ImportError:
        return {}
    return {
        name: (
            getattr(metric, "aggregator", None),
            set(getattr(metric, "dont_aggregate", None) or ()),
        )
        for name, metric in getattr(Metric, "by_name", {}).items()
    }


def _modifiers(name: str) -> tuple[str, list[tuple[str, str]]]:
    """``timing__setup__ws__corner:tt`` -> (``timing__setup__ws``, [(corner, tt)]), in order."""
    parts = name.split("__")
    modifiers: list[tuple[str, str]] = []
    while len(parts) > 1 and ":" in parts[-1]:
        key, value = parts.pop().split(":", 1)
        modifiers.insert(0, (key, value))
    return "__".join(parts), modifiers


def artifacts(run_dir: Path) -> list[Path]:
    """Logs, final metrics, the final views (GDS, netlists, ...) and every step's reports."""
    found = [run_dir / name for name in LOGS if (run_dir / name).is_file()]
    if (run_dir / FINAL_METRICS).is_file():
        found.append(run_dir / FINAL_METRICS)
    final = run_dir / "final"
    if final.is_dir():
        found += sorted(
            p for p in final.rglob("*") if p.is_file() and p.name.endswith(ARTIFACT_SUFFIXES)
        )
    for step in step_dirs(run_dir) if run_dir.is_dir() else []:
        found += sorted(p for p in (step / "reports").rglob("*") if p.is_file())
    return found


@dataclass(frozen=True)
class MetricDirection:
    higher_is_better: bool
    critical: bool = False


def metric_direction(name: str) -> MetricDirection | None:
    """Which way ``name`` should move, from ``librelane.common.metrics`` when it is installed.

    Per-corner names (``…__corner:X``) take their base metric's definition.
    """
    try:
        # The package's own definitions (its metrics package re-exports Metric without __all__).
        from librelane.common.metrics.metric import Metric
    except ImportError:
        return None
    base = name.split("__corner:", 1)[0].split("__macro:", 1)[0]
    metric = Metric.by_name.get(base) if hasattr(Metric, "by_name") else None
    if metric is None:
        return None
    higher = getattr(metric, "higher_is_better", None)
    if higher is None:
        return None
    return MetricDirection(bool(higher), bool(getattr(metric, "critical", False)))


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise SpilotError(f"{path}: unreadable LibreLane metrics ({exc})") from None
    return data if isinstance(data, dict) else {}
