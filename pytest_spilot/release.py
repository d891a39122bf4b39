"""One release being validated: runs validations, judges thresholds, records every result."""

from __future__ import annotations

from collections.abc import Callable

from pytest_spilot.acceptance import judge
from pytest_spilot.errors import SpilotError
from pytest_spilot.execution import execute, run_dir_for
from pytest_spilot.gates import GateBoard
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.librelane.service import LibreLaneFlows
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import Threshold
from pytest_spilot.registry import Registry
from pytest_spilot.regressions import DEFAULT_MARGIN, MetricChange, compare_runs
from pytest_spilot.remote.node import NodePool
from pytest_spilot.settings import Settings
from pytest_spilot.state import (
    ReleaseState,
    RunRecord,
    StateStore,
    ThresholdRecord,
    ValidationRecord,
)

Notify = Callable[[ValidationRecord], None]


class Release:
    """The kernel behind the pytest items (and any other runner): run, judge, save."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        notify: Notify | None = None,
        innovus: InnovusSession | None = None,
        librelane: LibreLaneFlows | None = None,
        nodes: NodePool | None = None,
        gates: GateBoard | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.innovus = innovus
        self.librelane = librelane
        self.nodes = nodes
        self.gates = gates
        self.store = StateStore(settings.state_path, settings.version)
        self._notify = notify
        # Read once per process: resume decisions and baselines are about earlier runs.
        self._previous: ReleaseState | None = self.store.load() if settings.resume else None
        self._baseline = settings.load_baseline()

    def passed_before(self, validation: PlannedValidation) -> ValidationRecord | None:
        """With --spilot-resume: this validation's record if it already passed in this release."""
        if self._previous is None:
            return None
        record = self._previous.validations.get(validation.key)
        return record if record is not None and record.passed else None

    def run(self, validation: PlannedValidation) -> RunRecord:
        """Run the validation's job once and save the run (earlier verdicts are dropped).

        A gate runs once per test run across all processes sharing the gate board; the
        others get its record.
        """
        if validation.is_gate and self.gates is not None:
            if (
                validation.spec.kind == "migration"
                and self.innovus is not None
                and not self.gates.decided(validation.key)
            ):
                # A migration gate starts sessions of its own, under the same licence slots:
                # a session this process holds while it evaluates, or waits for, the gate
                # could take the last slot from it (and deadlock across workers).
                self.innovus.close()
            return self.gates.record(validation.key, lambda: self._run(validation))[0]
        return self._run(validation)

    def failed_gate(
        self, gates: list[PlannedValidation]
    ) -> tuple[PlannedValidation, RunRecord] | None:
        """The first of ``gates`` that is required and fails (evaluating it if no one has)."""
        for gate in gates:
            if gate.required:
                record = self.run(gate)
                if record.outcome != "passed":
                    return gate, record
        return None

    def regressions(
        self, validation: PlannedValidation, run: RunRecord, margin: float = DEFAULT_MARGIN
    ) -> list[MetricChange] | None:
        """The run's metrics against the baseline's; None when the baseline lacks the run."""
        if self._baseline is None:
            raise SpilotError(
                "--spilot-regressions compares with a baseline release: pass "
                "--spilot-baseline PATH|VERSION"
            )
        earlier = self._baseline.validations.get(validation.key)
        if earlier is None or earlier.run is None:
            return None
        return compare_runs(validation.id, earlier.run, run, margin)

    def _run(self, validation: PlannedValidation) -> RunRecord:
        run_dir = run_dir_for(self.settings.runs_root, self.settings.version, validation)
        run = execute(validation, self.registry, run_dir, self.innovus, self.librelane, self.nodes)
        self._save(validation, lambda _: _fresh_record(validation, run))
        return run

    def judge(
        self, validation: PlannedValidation, threshold: Threshold, run: RunRecord
    ) -> ThresholdRecord:
        """Judge one threshold on the run's metrics and save the verdict."""
        baseline = None
        if self._baseline is not None:
            earlier = self._baseline.validations.get(validation.key)
            baseline = earlier.run.metrics if earlier and earlier.run else {}
        run_error = None
        if run.outcome != "passed":
            run_error = run.message or f"exit code {run.exit_code}"
        verdict = judge(
            threshold, run.metrics, run.missing_metrics, run_error=run_error, baseline=baseline
        )
        record = ThresholdRecord(
            id=threshold.id,
            metric=threshold.metric,
            op=threshold.op,
            outcome=verdict.outcome,
            value=verdict.value,
            expected=verdict.expected,
            baseline=verdict.baseline,
            tolerance=threshold.tolerance,
            level=threshold.level,
            message=verdict.message,
        )

        def change(current: ValidationRecord | None) -> ValidationRecord:
            if current is None or current.run is None or current.run.started != run.started:
                # The run was saved by this process a moment ago; anything else means the state
                # file was replaced under us: record the verdict with the run it was judged on.
                current = _fresh_record(validation, run)
            return current.model_copy(
                update={"thresholds": {**current.thresholds, threshold.id: record}}
            )

        self._save(validation, change)
        return record

    def _save(
        self,
        validation: PlannedValidation,
        change: Callable[[ValidationRecord | None], ValidationRecord],
    ) -> None:
        record = self.store.update(validation.key, change)
        if self._notify is not None:
            self._notify(record)


def _fresh_record(validation: PlannedValidation, run: RunRecord) -> ValidationRecord:
    return ValidationRecord(
        key=validation.key,
        id=validation.id,
        name=validation.spec.name,
        file=validation.key.rsplit("::", 1)[0],
        kind=validation.spec.kind,
        gate=validation.is_gate,
        params=validation.params,
        thresholds_declared=[t.id for t in validation.thresholds],
        run=run,
    )
