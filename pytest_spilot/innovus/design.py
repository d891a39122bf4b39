"""The stand-in design database (``fixtures/innovus/*.json``) and the figures skills report on it.

The Tcl stand-in serves this database through Innovus commands; the pseudo backend reads it
here. Both must give a skill the same numbers, so the derived figures are defined once, here,
and the stand-in's report formats round them the same way (3 decimals).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Instance(_Strict):
    name: str
    cell: str
    area: float = Field(ge=0)


class TimingMode(_Strict):
    wns_ns: float
    tns_ns: float
    violating_paths: int = Field(ge=0)
    all_paths: int = Field(ge=0)


class Timing(_Strict):
    setup: TimingMode
    hold: TimingMode


class Violation(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


class StandinDesign(_Strict):
    schema_version: int = 1
    name: str
    top: str
    core_area_um2: float = Field(gt=0)
    instances: list[Instance]
    timing: Timing
    drc: list[Violation] = Field(default_factory=list)
    connectivity: list[Violation] = Field(default_factory=list)

    def facts(self) -> dict[str, float]:
        """Every figure a shipped skill can report, by its metric name."""
        t = self.timing
        facts: dict[str, float] = {
            "instance_count": len(self.instances),
            "utilization_pct": round(
                100.0 * sum(i.area for i in self.instances) / self.core_area_um2, 3
            ),
            "drc_violations": len(self.drc),
            "connectivity_violations": len(self.connectivity),
            "health_ok": 1 if t.setup.wns_ns >= 0 and t.hold.wns_ns >= 0 else 0,
        }
        for mode, figures in (("setup", t.setup), ("hold", t.hold)):
            for key, value in figures.model_dump().items():
                facts[f"{mode}_{key}"] = value
        return facts


# The names facts() gives, whatever the design: what the pseudo backend can answer without a
# contract's own figure.
FACT_NAMES = frozenset(
    {
        "instance_count",
        "utilization_pct",
        "drc_violations",
        "connectivity_violations",
        "health_ok",
        *(f"{mode}_{key}" for mode in ("setup", "hold") for key in TimingMode.model_fields),
    }
)


class DesignError(Exception):
    """The database cannot be restored (the RESTORE_FAIL of the protocol)."""


def load_design(path: Path, top: str | None = None) -> StandinDesign:
    try:
        design = StandinDesign.model_validate(json.loads(path.read_bytes()))
    except OSError as exc:
        raise DesignError(f"cannot read design database {path}: {exc.strerror or exc}") from None
    except (ValueError, ValidationError) as exc:
        raise DesignError(
            f"design database {path} is corrupt: {str(exc).splitlines()[0]}"
        ) from None
    if top is not None and top != design.top:
        raise DesignError(f"design database {path} has top cell {design.top!r}, not {top!r}")
    return design
