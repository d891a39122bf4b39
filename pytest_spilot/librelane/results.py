"""What a LibreLane run left: its metrics (also of a failed run), artifacts, and which way
each metric should move."""

from __future__ import annotations

import json
import math
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
        return flatten_metrics(_load(final)), str(final)
    for step in reversed(step_dirs(run_dir) if run_dir.is_dir() else []):
        state = step / "state_out.json"
        if state.is_file():
            return flatten_metrics(_load(state).get("metrics", {})), str(state)
    return {}, ""


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
