"""Run one planned validation: fresh run directory, runner, metrics, and the run's record."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_spilot.core.regressions import run_levels
from pytest_spilot.core.retry import transient_reason
from pytest_spilot.core.state import JobHandle, RunRecord, now
from pytest_spilot.errors import SpilotError
from pytest_spilot.metrics.base import MetricContext, MetricMissing
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.redact import Redactor
from pytest_spilot.registry import Registry
from pytest_spilot.runners.base import RunContext, RunOutcome

if TYPE_CHECKING:
    from pytest_spilot.innovus.session import InnovusSession
    from pytest_spilot.librelane.service import LibreLaneFlows
    from pytest_spilot.remote.node import NodePool

LOG_NAME = "job.log"
KEPT_RUNS = 2  # earlier runs of a validation kept beside its run directory: <id>~1, <id>~2


def run_dir_for(root: Path, version: str, validation: PlannedValidation) -> Path:
    """``<root>/<version>/<file key without suffix>/<validation id>/``."""
    file_part = validation.key.rsplit("::", 1)[0]
    return root / version / Path(file_part).with_suffix("") / validation.id


def fresh_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` empty, moving an earlier run's aside (``~1`` the latest).

    A process of an earlier run that is still writing (through the files it holds open)
    writes into the moved folder, never into the new one.
    """
    if run_dir.exists():

        def earlier(n: int) -> Path:
            return run_dir.with_name(f"{run_dir.name}~{n}")

        if earlier(KEPT_RUNS).exists():
            shutil.rmtree(earlier(KEPT_RUNS))
        for n in range(KEPT_RUNS - 1, 0, -1):
            if earlier(n).exists():
                earlier(n).rename(earlier(n + 1))
        run_dir.rename(earlier(1))
    run_dir.mkdir(parents=True)


def execute(
    validation: PlannedValidation,
    registry: Registry,
    run_dir: Path,
    innovus: InnovusSession | None = None,
    librelane: LibreLaneFlows | None = None,
    nodes: NodePool | None = None,
    started: datetime | None = None,
    secrets: Redactor | None = None,
    on_job_start: Callable[[JobHandle], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> RunRecord:
    """Run the job once in a fresh ``run_dir`` and read its metrics; failures become records.

    ``started`` names the run (verdicts refer to it): the moment its start was journalled.
    ``env`` is added to the job's environment (the resources it holds: SPILOT_CPUS, ...).
    """
    fresh_run_dir(run_dir)
    log_path = run_dir / LOG_NAME
    log_path.touch()
    started = started or now()
    spec = validation.spec
    secrets = secrets or Redactor()
    ctx = RunContext(
        run_dir=run_dir,
        log_path=log_path,
        launchers=registry.launchers,
        env={
            "SPILOT_RUN_DIR": str(run_dir),
            "SPILOT_PLAN_DIR": str(validation.base_dir),
            **validation.matrix_env,
            **(env or {}),
        },
        innovus=innovus,
        librelane=librelane,
        nodes=nodes,
        gate_checks=registry.gate_checks,
        secrets=secrets,
        on_job_start=on_job_start,
    )
    attempts = 1 + spec.retries
    retried_because: list[str] = []
    for attempt in range(1, attempts + 1):
        offset = log_path.stat().st_size
        outcome = run_once(validation, registry, ctx)
        if outcome.ok or attempt == attempts:
            break
        # Only transient failures are tried again; the log keeps every attempt's output.
        reason = transient_reason(outcome, _lines_since(log_path, offset), spec.retry_on)
        if not reason:
            break
        retried_because.append(reason)
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"[spilot] attempt {attempt} of {attempts} failed transiently: {reason}\n")
            log.write(f"[spilot] attempt {attempt + 1} of {attempts}\n")
    # Metrics are read even from a failed run: what it reached must not be lost.
    metrics, missing = read_metrics(validation, registry, MetricContext(log_path, run_dir))
    metrics = {**outcome.metrics, **metrics}
    rules = spec.regressions
    directions = {
        name: direction
        for name in metrics
        if (
            direction := (rules[name].direction if name in rules else None)
            or outcome.directions.get(name)
        )
    }
    return RunRecord(
        outcome="passed" if outcome.ok else "failed",
        exit_code=outcome.exit_code,
        timed_out=outcome.timed_out,
        message=secrets.text(outcome.message),
        location=outcome.location or spec.location,
        attempts=len(retried_because) + 1,
        retried_because=retried_because,
        job_id=outcome.job_id,
        directions=directions,
        margins={k: r.margin for k, r in rules.items() if r.margin is not None},
        levels=run_levels(metrics, rules, spec.noncritical_regressions, outcome.critical),
        command=[secrets.text(word) for word in outcome.command],
        started=started,
        finished=now(),
        duration_s=round(outcome.duration_s, 6),
        run_dir=str(run_dir),
        log=str(log_path),
        artifacts=[str(p) for p in outcome.artifacts],
        metrics=metrics,
        missing_metrics={
            k: secrets.text(v) for k, v in missing.items() if k not in outcome.metrics
        },
    )


def _lines_since(path: Path, offset: int) -> list[str]:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read().decode("utf-8", "replace").splitlines()


def run_once(validation: PlannedValidation, registry: Registry, ctx: RunContext) -> RunOutcome:
    """One attempt of the validation's job; a SpilotError becomes a failed outcome."""
    runner = registry.runners.get(validation.spec.kind)
    try:
        if runner is None:
            raise SpilotError(
                f"{validation.file}: validation {validation.id!r}: no runner for kind "
                f"{validation.spec.kind!r} is installed here "
                f"(known: {', '.join(sorted(registry.runners))})"
            )
        return runner.run(validation, ctx)
    except SpilotError as exc:
        with ctx.log_path.open("a", encoding="utf-8") as log:
            log.write(f"[spilot] {ctx.secrets.text(str(exc))}\n")
        return RunOutcome(
            exit_code=None,
            duration_s=0.0,
            message=str(exc),
            transient=bool(getattr(exc, "transient", False)),
        )


def read_metrics(
    validation: PlannedValidation, registry: Registry, ctx: MetricContext
) -> tuple[dict[str, float], dict[str, str]]:
    """The declared metrics' values, and for each one without a value the reason."""
    values: dict[str, float] = {}
    missing: dict[str, str] = {}
    for name, spec in validation.spec.metrics.items():
        key = spec.source_key
        source = registry.metric_sources.get(key)
        if source is None:
            missing[name] = (
                f"no metric source {key!r} is installed "
                f"(known: {', '.join(sorted(registry.metric_sources))})"
            )
            continue
        try:
            values[name] = source.read(spec, ctx)
        except MetricMissing as exc:
            missing[name] = str(exc)
    return values, missing
