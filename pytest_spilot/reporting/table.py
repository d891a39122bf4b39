"""The release table: one row per validation with its result, key metrics, time and attempts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pytest_spilot.core.acceptance import format_value
from pytest_spilot.core.state import ReleaseState

_RANK = {"passed": 0, "skipped": 1, "warning": 2, "failed": 3, "error": 4}
MAX_METRICS = 3


@dataclass
class Row:
    validation: str
    location: str = ""
    result: str = "passed"
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    attempts: int | None = None

    def merge_result(self, outcome: str) -> None:
        """Keep the worst outcome of the validation's items."""
        if _RANK.get(outcome, 0) > _RANK.get(self.result, 0):
            self.result = outcome


class ReleaseTable:
    """Rows collected from item reports (in the order seen) or from a saved release state."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def row(self, validation: str) -> Row:
        return self.rows.setdefault(validation, Row(validation))

    def add_item(self, validation: str, outcome: str, props: Mapping[str, object]) -> None:
        """Fold one item's report (its outcome and properties) into its validation's row."""
        row = self.row(validation)
        row.merge_result(str(props.get("verdict", outcome)))
        if "location" in props:
            row.location = str(props["location"])
        if "duration_s" in props:
            row.seconds = float(str(props["duration_s"]))
        if "attempts" in props:
            row.attempts = int(str(props["attempts"]))
        if props.get("spilot") == "threshold" and props.get("value") not in (None, ""):
            row.metrics[str(props["metric"])] = float(str(props["value"]))

    @classmethod
    def from_state(cls, state: ReleaseState) -> ReleaseTable:
        table = cls()
        for key, record in state.validations.items():
            row = table.row(key)
            if record.run is None:
                row.result = "error"
                continue
            row.location = record.run.location
            row.seconds = record.run.duration_s
            row.attempts = record.run.attempts
            row.merge_result(record.run.outcome)
            for verdict in record.thresholds.values():
                row.merge_result(verdict.outcome)
                if verdict.value is not None:
                    row.metrics[verdict.metric] = verdict.value
            if record.regressions is not None:
                row.merge_result(record.regressions.outcome)
            if record.verdict == "unfinished":  # a declared verdict was never judged
                row.merge_result("error")
        return table

    def render(self, footer: Iterable[str] = ()) -> str:
        header = ("validation", "location", "result", "key metrics", "time", "attempts")
        lines = [header]
        for row in self.rows.values():
            metrics = ", ".join(
                f"{k}={format_value(v)}" for k, v in list(row.metrics.items())[:MAX_METRICS]
            )
            lines.append(
                (
                    row.validation,
                    row.location or "-",
                    row.result,
                    metrics or "-",
                    "-" if row.seconds is None else f"{row.seconds:.2f}s",
                    "-" if row.attempts is None else str(row.attempts),
                )
            )
        return "\n".join([*columns(lines[0], lines[1:]), *footer])


def columns(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """``header`` and ``rows`` as left-aligned text columns two spaces apart."""
    lines = [tuple(header), *(tuple(str(c) for c in row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
