"""The metric-source extension point: read one number for a run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol


class MetricMissing(Exception):
    """The metric has no value for this run; the message says why."""


@dataclass(frozen=True)
class MetricContext:
    """What a metric source may read: the job's log and the run directory."""

    log_path: Path
    run_dir: Path


class MetricSource(Protocol):
    """Reads one metric; ``key`` is the source's name in a validation file (``regex``, ``json``)."""

    key: ClassVar[str]

    def read(self, spec: Any, ctx: MetricContext) -> float:
        """Return the metric's value for the run, or raise MetricMissing saying why."""
        ...


def run_file(ctx: MetricContext, name: str) -> Path:
    """``name`` in the run directory; a relative name whose links lead outside it is refused."""
    path = ctx.run_dir / name
    if Path(name).is_absolute():
        return path  # said so on purpose in the validation file
    resolved = path.resolve()
    if not resolved.is_relative_to(ctx.run_dir.resolve()):
        raise MetricMissing(
            f"{path} leads outside the run directory (to {resolved}, through a symbolic "
            "link); metrics read files the job wrote, or an absolute path named in the plan"
        )
    return path


def as_number(value: Any, where: str) -> float:
    """``value`` as a float, or MetricMissing naming ``where`` it came from."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise MetricMissing(f"{where} is {value!r}, not a number")
