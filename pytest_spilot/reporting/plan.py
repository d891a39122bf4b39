"""``--spilot-plan``: the expanded release plan as text — what would run, where, judged how."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from pytest_spilot.launchers.base import Job
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.registry import Registry
from pytest_spilot.settings import Settings


def _command(validation: PlannedValidation) -> str:
    spec = validation.spec
    run = getattr(spec, "run", None)
    if isinstance(run, str):
        return run
    if isinstance(run, list):
        return shlex.join(run)
    return " ".join(
        f"{k}={getattr(spec, k)}"
        for k in ("skill", "target", "reference", "design", "pdk", "preset", "node", "check")
        if getattr(spec, k, None)
    )


def render_plan(
    validations: Sequence[PlannedValidation],
    registry: Registry,
    settings: Settings,
    where_by_kind: Mapping[str, str] | None = None,
) -> str:
    """``where_by_kind`` says where kinds run that ``location:`` does not place
    (``{"innovus": "innovus:tcl via local", "librelane": "librelane:pseudo"}``)."""
    where_by_kind = where_by_kind or {}
    lines = [
        f"spilot plan for release {settings.version} "
        f"(state: {settings.state_path}): {len(validations)} validations"
    ]
    for v in validations:
        spec = v.spec
        known = "" if spec.kind in registry.runners else "  [no runner installed for this kind]"
        placed = (
            spec.location
            if spec.location in registry.launchers
            else f"{spec.location} [unknown location]"
        )
        where = where_by_kind.get(spec.kind, placed)
        role = f"{spec.kind} gate" if v.is_gate else spec.kind
        lines.append(f"{v.key}  {role} @ {where}  timeout {spec.timeout_s:g}s{known}")
        lines.append(f"    run: {_command(v)}")
        launcher = registry.launchers.get(spec.location)
        run = getattr(spec, "run", None)
        if spec.location != "local" and launcher is not None and run is not None:
            argv = ["/bin/sh", "-c", run] if isinstance(run, str) else list(run)
            job = Job(argv, Path("<run dir>"), Path("job.log"), spec.timeout_s, name=v.id)
            lines.append(f"    via: {shlex.join(launcher.command_line(job))}")
        for name, metric in spec.metrics.items():
            lines.append(f"    metric {name}: {metric.source_key}")
        for t in v.thresholds:
            level = "" if t.level == "error" else f" ({t.level})"
            lines.append(f"    threshold {t.id}{level}")
    return "\n".join(lines)
