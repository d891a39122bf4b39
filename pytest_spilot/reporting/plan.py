"""``--spilot-plan``: the expanded release plan as text — what would run, where, judged how."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pytest_spilot.core.acceptance import format_value
from pytest_spilot.core.settings import Settings
from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.launchers.base import Job, batch_job_name
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import Threshold, ValidationBase
from pytest_spilot.registry import Registry
from pytest_spilot.resources import JobTokens, PoolSizes, job_env


def _command(validation: PlannedValidation) -> str:
    spec = validation.spec
    run = getattr(spec, "run", None)
    if isinstance(run, str):
        return run
    if isinstance(run, list):
        return shlex.join(run)
    shown = [
        f"{k}={getattr(spec, k)}"
        for k in ("skill", "target", "reference", "design", "pdk", "preset", "node", "check")
        if getattr(spec, k, None)
    ]
    if shown:
        return " ".join(shown)
    # A plugin's kind: what its own model (or its extra keys) adds to every validation's fields.
    own = {k: v for k, v in spec if k not in ValidationBase.model_fields and k != "kind"}
    own |= spec.model_extra or {}
    return " ".join(f"{k}={v}" for k, v in own.items() if v not in (None, "", [], {}))


def render_plan(
    validations: Sequence[PlannedValidation],
    registry: Registry,
    settings: Settings,
    where_by_kind: Mapping[str, str] | None = None,
    *,
    pools: PoolSizes | None = None,
    tokens: Callable[[PlannedValidation], JobTokens] | None = None,
) -> str:
    """``where_by_kind`` says where kinds run that ``location:`` does not place
    (``{"innovus": "innovus:tcl via local", "librelane": "librelane:pseudo"}``); ``pools``
    are the resource pools, ``tokens`` what each validation's job takes of them."""
    where_by_kind = where_by_kind or {}
    lines = [
        f"spilot plan for release {settings.version} "
        f"(state: {settings.state_path}): {len(validations)} validations",
        f"baseline: {_baseline(settings)}",
    ]
    if pools is not None:
        lines.append(f"resource pools: {pools.describe()}")
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
        lines.append(
            f"{v.key}  {role} @ {where}  timeout {spec.timeout_s:g}s, {_retries(v)}{known}"
        )
        lines.append(f"    run: {_command(v)}")
        asked = spec.resources
        if asked.cpus or asked.licenses:
            taken = f"; holds {tokens(v).describe()}" if tokens is not None else ""
            lines.append(f"    resources: {_asked(asked.cpus, asked.licenses)}{taken}")
        launcher = registry.launchers.get(spec.location)
        run = getattr(spec, "run", None)
        if spec.location != "local" and launcher is not None and run is not None:
            argv = ["/bin/sh", "-c", run] if isinstance(run, str) else list(run)
            job = Job(
                argv,
                Path("<run dir>"),
                Path("job.log"),
                spec.timeout_s,
                env=job_env(asked.cpus, asked.licenses),
                name=batch_job_name(v.id),
            )
            lines.append(f"    via: {shlex.join(launcher.command_line(job))}")
        for name, metric in spec.metrics.items():
            lines.append(f"    metric {name}: {metric.source_key}")
        for t in v.thresholds:
            lines.append(f"    threshold {t.id}  ({_judged(t, settings)})")
        if not v.is_gate:
            lines.append(f"    regressions: {_regressions(v, settings)}")
    return "\n".join(lines)


def _asked(cpus: int | None, licenses: Mapping[str, int]) -> str:
    parts = [f"cpus {cpus}"] if cpus else []
    parts += [f"licence {feature} {n}" for feature, n in licenses.items()]
    return ", ".join(parts)


def _baseline(settings: Settings) -> str:
    """The release that baseline thresholds and regressions compare with, and its state file."""
    if not settings.baseline:
        return "none (baseline thresholds and --spilot-regressions need --spilot-baseline)"
    # Settings.load_baseline's order: a state path first, then a version beside our state.
    for candidate in (
        settings.root / settings.baseline,
        settings.state_path.parent / f"{settings.baseline}.json",
    ):
        if ReleaseStore(candidate).exists():
            return f"{settings.baseline} ({candidate})"
    return (
        f"{settings.baseline} [no state file at {settings.root / settings.baseline} nor "
        f"{settings.state_path.parent / f'{settings.baseline}.json'}]"
    )


def _retries(validation: PlannedValidation) -> str:
    spec = validation.spec
    if not spec.retries:
        return "no retries"
    on = spec.retry_on
    causes = [*(f"exit code {c}" for c in on.exit_codes)]
    causes += [f"log matching {p!r}" for p in on.patterns]
    causes += ["built-in transient patterns"] if on.builtin else []
    causes += ["launcher-reported drops"]
    return f"{spec.retries} retr{'y' if spec.retries == 1 else 'ies'} on {', '.join(causes)}"


def _judged(threshold: Threshold, settings: Settings) -> str:
    """How a threshold is judged: level, tolerance, and the release a ratio is taken from."""
    parts: list[str] = [threshold.level]
    tolerance = threshold.tolerance
    parts.append(
        f"tolerance {format_value(tolerance)}" if tolerance is not None else "no tolerance"
    )
    if threshold.baseline is not None:
        parts.append(
            f"against baseline {settings.baseline}"
            if settings.baseline
            else "no baseline given (pass --spilot-baseline)"
        )
    return ", ".join(parts)


def _regressions(validation: PlannedValidation, settings: Settings) -> str:
    rules = [
        f"{name} {rule.direction or 'default direction'}"
        + (f" margin {format_value(rule.margin)}" if rule.margin is not None else "")
        for name, rule in validation.spec.regressions.items()
    ]
    said = f"; rules: {', '.join(rules)}" if rules else ""
    if not settings.regressions:
        return f"no test (--spilot-regressions adds one){said}"
    against = settings.baseline or "no baseline given (pass --spilot-baseline)"
    return f"test added, against {against}{said}"
