"""Matrix expansion: one PlannedValidation per combination, with ``{name}`` placeholders filled."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_spilot.plan.model import (
    CommandGate,
    CommandValidation,
    InnovusValidation,
    LibreLaneValidation,
    NodeGate,
    PythonGate,
    Scalar,
    Threshold,
    ValidationFile,
)

AnyValidation = (
    CommandValidation
    | CommandGate
    | NodeGate
    | PythonGate
    | InnovusValidation
    | LibreLaneValidation
)
# Only these fields get matrix values substituted (never regexes or thresholds).
SUBSTITUTED_FIELDS = ("run", "cwd", "env", "design", "args")


@dataclass(frozen=True)
class PlannedValidation:
    """One runnable validation after matrix expansion; ``key`` is unique across the plan."""

    spec: AnyValidation
    file: Path
    key: str
    id: str
    params: dict[str, Scalar] = field(default_factory=dict)
    markers: tuple[str, ...] = ()
    is_gate: bool = False

    @property
    def base_dir(self) -> Path:
        """Paths in a validation file resolve relative to the file."""
        return self.file.parent

    @property
    def required(self) -> bool:
        """A gate whose failure skips the validations of its file."""
        return self.is_gate and bool(getattr(self.spec, "required", False))

    @property
    def thresholds(self) -> list[Threshold]:
        return list(self.spec.acceptance)

    @property
    def matrix_env(self) -> dict[str, str]:
        return {f"SPILOT_MATRIX_{_env_name(k)}": str(v) for k, v in self.params.items()}

    def resolve(self, path: str) -> Path:
        return (self.base_dir / path).resolve()


def _env_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def param_id(value: Scalar) -> str:
    """A matrix value as it appears in a test id (no '::', '/', or whitespace)."""
    return re.sub(r"::|[/\s]", "_", str(value)) or "_"


def substitute(value: Any, params: Mapping[str, Scalar]) -> Any:
    """Replace ``{name}`` for the matrix's own names only; other braces pass through."""
    if not params:
        return value
    pattern = re.compile(r"\{(" + "|".join(re.escape(k) for k in params) + r")\}")

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return pattern.sub(lambda m: str(params[m.group(1)]), v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value)


def expand(plan: ValidationFile, file: Path, file_key: str) -> Iterator[PlannedValidation]:
    """Gates first (they decide whether the rest is worth running), then validations."""
    entries = [(g, True) for g in plan.gates] + [(v, False) for v in plan.validations]
    for spec, is_gate in entries:
        names = list(spec.matrix)
        combos = list(itertools.product(*spec.matrix.values())) if names else [()]
        seen: set[str] = set()
        for index, combo in enumerate(combos):
            params = dict(zip(names, combo, strict=True))
            vid = spec.name
            if params:
                vid += "[" + "-".join(param_id(v) for v in combo) + "]"
                if vid in seen:
                    vid = f"{vid[:-1]}-{index}]"
            seen.add(vid)
            update = {
                name: substitute(getattr(spec, name), params)
                for name in SUBSTITUTED_FIELDS
                if hasattr(spec, name)
            }
            markers = [*plan.markers, *spec.markers]
            yield PlannedValidation(
                spec=spec.model_copy(update=update),
                file=file,
                key=f"{file_key}::{vid}",
                id=vid,
                params=params,
                markers=tuple(dict.fromkeys(markers)),
                is_gate=is_gate,
            )
