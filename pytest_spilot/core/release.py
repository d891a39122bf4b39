"""One release being validated: runs validations, judges thresholds, journals every result."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_spilot.core.acceptance import judge
from pytest_spilot.core.execution import LOG_NAME, execute, fresh_run_dir, run_dir_for
from pytest_spilot.core.journal import (
    GateDecided,
    JobStarted,
    RegressionJudged,
    RunFinished,
    RunSkipped,
    RunStarted,
    RunWaiting,
    StepProgress,
    ThresholdJudged,
    ToolSeen,
    ValidationsPlanned,
)
from pytest_spilot.core.provenance import tool_probe, tool_version
from pytest_spilot.core.regressions import (
    DEFAULT_MARGIN,
    MetricChange,
    compare_runs,
    levels_for,
    summarize,
)
from pytest_spilot.core.settings import SPILOT_DIR, Settings
from pytest_spilot.core.state import (
    Progress,
    RegressionRecord,
    ReleaseState,
    RunRecord,
    ThresholdRecord,
    ValidationInfo,
    ValidationRecord,
    now,
)
from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import Threshold
from pytest_spilot.redact import Redactor
from pytest_spilot.resources import (
    Held,
    JobTokens,
    Placement,
    PoolSizes,
    TokenPool,
    job_env,
    job_tokens,
    license_pool,
)

# The licence an Innovus session holds for the validations that run in it.
SESSION_FEATURE = "innovus"

if TYPE_CHECKING:
    from datetime import datetime

    from pytest_spilot.core.gates import GateBoard
    from pytest_spilot.innovus.session import InnovusSession
    from pytest_spilot.librelane.progress import Progress as FlowProgress
    from pytest_spilot.librelane.service import LibreLaneFlows
    from pytest_spilot.registry import Registry
    from pytest_spilot.remote.node import NodePool

Notify = Callable[[ValidationRecord], None]


class Release:
    """The kernel behind the pytest items (and any other runner): run, judge, journal.

    Every result is one line in this process's journal; the records of the validations this
    process judged are kept in memory (a validation's items run in one process), so recording
    a result never reads the release back.
    """

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        notify: Notify | None = None,
        innovus: InnovusSession | None = None,
        librelane: LibreLaneFlows | None = None,
        nodes: NodePool | None = None,
        gates: GateBoard | None = None,
        worker: str = "main",
        secrets: Redactor | None = None,
        pools: PoolSizes | None = None,
    ) -> None:
        self.settings = settings
        # Jobs hold tokens of these pools while they run (None: no pools, as in library use).
        self.pools = pools
        self.tokens = (
            TokenPool(settings.root / SPILOT_DIR / "resources", pools.tokens) if pools else None
        )
        self.secrets = secrets or Redactor()
        self.registry = registry
        self.innovus = innovus
        self.librelane = librelane
        self.nodes = nodes
        self.gates = gates
        self.worker = worker
        self.store = ReleaseStore(settings.state_path, settings.version)
        self.journal = self.store.writer(worker, settings.root, self.secrets)
        self.warnings: list[str] = []  # from reading earlier results: torn or foreign lines
        self._notify = notify
        self._records: dict[str, ValidationRecord] = {}
        self._running: tuple[str, datetime] | None = None  # the run progress events belong to
        self._tools: set[str] = set()
        self._host = socket.gethostname()
        # Read once per process: resume decisions and baselines are about earlier runs.
        self._previous: ReleaseState | None = None
        if settings.resume:
            folded = self.store.read()
            self._previous, self.warnings = folded.state, folded.warnings
        self._baseline = settings.load_baseline()
        self._skipped: set[str] = set()
        if innovus is not None:
            innovus.on_wait = self._wait_for_slot

    def close(self) -> None:
        """Sync and close this process's journal (results after this open a new file)."""
        self.journal.close()

    def passed_before(self, validation: PlannedValidation) -> ValidationRecord | None:
        """With --spilot-resume: this validation's record if it already passed in this release."""
        if self._previous is None:
            return None
        record = self._previous.validations.get(validation.key)
        return record if record is not None and record.passed else None

    def planned(self, validations: list[PlannedValidation], session: str) -> None:
        """Journal what this test run will run (once per test run: live views show the queue)."""
        infos = [self._info(v) for v in validations]
        self.journal.write(ValidationsPlanned(session=session, validations=infos))

    def skipped(self, validation: PlannedValidation, reason: str) -> None:
        """Journal that the validation will not run in this test run (once per validation)."""
        if validation.key not in self._skipped:
            self._skipped.add(validation.key)
            self.journal.write(RunSkipped(key=validation.key, reason=reason))

    def waiting(self, validation: PlannedValidation, waiting_for: str) -> None:
        """Journal that the validation waits before its job can start ("" once it no longer)."""
        self.journal.write(
            RunWaiting(key=validation.key, worker=self.worker, waiting_for=waiting_for)
        )

    def _wait_for_slot(self, message: str) -> None:
        if self._running is not None:
            key = self._running[0]
            self.journal.write(RunWaiting(key=key, worker=self.worker, waiting_for=message))

    def run(self, validation: PlannedValidation, rerun: str = "") -> RunRecord:
        """Run the validation's job once and journal the run (earlier verdicts are dropped).

        A gate runs once per test run across all processes sharing the gate board; the
        others get its record. ``rerun`` is the command line that runs it again.
        """
        if validation.is_gate and self.gates is not None:
            session = self.innovus
            if (
                session is not None
                and not self.gates.decided(validation.key)
                and self._needs_innovus(validation)
                and (session.holds_slot or self._starts_sessions(validation))
            ):
                # The gate needs Innovus licences (its session, sessions of its own, or its
                # resources): an idle session this process holds while it evaluates, or waits
                # on the board for another worker evaluating, the gate could keep the last
                # slot from it (and deadlock across workers).
                session.close()
            run, evaluated = self.gates.record(validation.key, lambda: self._run(validation, rerun))
            if evaluated:
                self.journal.write(
                    GateDecided(key=validation.key, outcome=run.outcome, message=run.message)
                )
            return run
        return self._run(validation, rerun)

    def _runner(self, validation: PlannedValidation) -> object:
        return self.registry.runners.get(validation.spec.kind)

    def _starts_sessions(self, validation: PlannedValidation) -> bool:
        return bool(getattr(self._runner(validation), "starts_innovus_sessions", False))

    def _needs_innovus(self, validation: PlannedValidation) -> bool:
        """Whether the validation's job takes Innovus licences (a session or tokens)."""
        spec = validation.spec
        return (
            spec.kind == "innovus"
            or self._starts_sessions(validation)
            or spec.resources.licenses.get(SESSION_FEATURE, 0) > 0
        )

    def failed_gate(
        self, gates: list[PlannedValidation], waiting: PlannedValidation | None = None
    ) -> tuple[PlannedValidation, RunRecord] | None:
        """The first of ``gates`` that is required and fails (evaluating it if no one has);
        ``waiting`` is the validation that waits for them meanwhile."""
        for gate in gates:
            if gate.required:
                board = self.gates
                if waiting is not None and board is not None and not board.decided(gate.key):
                    self.waiting(waiting, f"gate {gate.id}")
                record = self.run(gate)
                if record.outcome != "passed":
                    return gate, record
        return None

    def placement(self, validation: PlannedValidation) -> Placement:
        """Where the job's processes run: here, in a batch system, or on a remote node."""
        from pytest_spilot.launchers.local import LocalLauncher
        from pytest_spilot.launchers.template import TemplateLauncher

        spec = validation.spec
        location = spec.location
        # Flows and sessions run where the site's service launches them, not at ``location``.
        if spec.kind == "librelane" and self.librelane is not None:
            location = self.librelane.config.launcher
        elif spec.kind == "innovus" and self.innovus is not None:
            location = self.innovus.config.launcher
        launcher = self.registry.launchers.get(location)
        if isinstance(launcher, TemplateLauncher):
            return "batch"
        if location == "local" or isinstance(launcher, LocalLauncher):
            return "here"
        return "remote"

    def job_tokens(self, validation: PlannedValidation) -> JobTokens:
        """The pool tokens the validation's job takes here (``--spilot-plan`` shows them)."""
        if self.pools is None:
            return JobTokens()
        spec = validation.spec
        in_session = spec.kind == "innovus" or self._starts_sessions(validation)
        return job_tokens(
            spec.resources.cpus,
            spec.resources.licenses,
            self.pools,
            placement=self.placement(validation),
            session_feature=SESSION_FEATURE if in_session else None,
        )

    def _take_tokens(self, validation: PlannedValidation) -> tuple[Held | None, float]:
        """All the job's tokens (its session's licence too, where it has none): the held
        tokens and the seconds waited for them; SpilotError for a request no pool can serve."""
        pool = self.tokens
        if pool is None:
            return None, 0.0
        session = self.innovus
        # A kind innovus job runs in this process's session (a migration gate starts sessions
        # of its own, which take their slots themselves).
        uses_session = (
            session is not None
            and session.licenses is not None
            and validation.spec.kind == "innovus"
        )

        def wanted() -> dict[str, int]:
            want = dict(self.job_tokens(validation).tokens)
            if uses_session and session is not None and not session.holds_slot:
                # Taken with the job's other tokens, all or none: a session that took it
                # inside the run would wait while holding them.
                key = license_pool(SESSION_FEATURE)
                want[key] = want.get(key, 0) + 1
            return want

        want = wanted()
        if not want:
            return None, 0.0
        held = pool.try_acquire(want)
        waited = 0.0
        if held is None:
            if session is not None and session.holds_slot:
                # A waiter holds nothing: this process's idle session gives its licence back,
                # or a run queued for it (behind this one's wait) could never start.
                session.close()
                want = wanted()
            begun = time.monotonic()
            told: list[str] = []

            def on_wait(short: str) -> None:
                told.append(short)
                self.waiting(validation, short)

            held = pool.acquire(want, on_wait=on_wait)
            waited = time.monotonic() - begun
            if told:
                self.waiting(validation, "")
        if uses_session and session is not None and not session.holds_slot:
            session.adopt_slot(held.take(license_pool(SESSION_FEATURE), 1))
        return held, waited

    def _refused(self, validation: PlannedValidation, message: str, started: datetime) -> RunRecord:
        """The failed run of a job that cannot take its tokens (asks more than a pool has)."""
        run_dir = run_dir_for(self.settings.runs_root, self.settings.version, validation)
        fresh_run_dir(run_dir)
        log = run_dir / LOG_NAME
        text = f"{validation.file}: validation {validation.id!r}: {message}"
        log.write_text(f"[spilot] {text}\n", encoding="utf-8")
        return RunRecord(
            outcome="failed",
            message=text,
            location=str(validation.spec.location),
            started=started,
            finished=now(),
            duration_s=0.0,
            run_dir=str(run_dir),
            log=str(log),
        )

    def _run(self, validation: PlannedValidation, rerun: str = "") -> RunRecord:
        run_dir = run_dir_for(self.settings.runs_root, self.settings.version, validation)
        info = self._info(validation)
        # Before the run starts: its journalled interval is the time it held its tokens.
        try:
            held, waited_s = self._take_tokens(validation)
        except SpilotError as exc:
            held, waited_s, refused = None, 0.0, str(exc)
        else:
            refused = ""
        started = now()
        try:
            self._records[info.key] = ValidationRecord(**dict(info), started=started)
            self.journal.write(
                RunStarted(
                    validation=info,
                    started=started,
                    worker=self.worker,
                    host=self._host,
                    location=str(getattr(validation.spec, "location", validation.spec.kind)),
                    log=str(run_dir / LOG_NAME),
                    rerun=rerun,
                )
            )
            self._running = (info.key, started)
            if refused:
                run = self._refused(validation, refused, started)
            else:
                spec = validation.spec
                told_cpus = (held.counts if held else {}).get("cpus") or spec.resources.cpus
                run = execute(
                    validation,
                    self.registry,
                    run_dir,
                    self.innovus,
                    self.librelane,
                    self.nodes,
                    started=started,
                    secrets=self.secrets,
                    on_job_start=lambda job: self.journal.write(
                        JobStarted(key=info.key, run_started=started, job=job)
                    ),
                    env=job_env(told_cpus, spec.resources.licenses),
                )
                if held is not None or waited_s:
                    run = run.model_copy(
                        update={
                            "held": held.counts if held else {},
                            "waited_s": round(waited_s, 3),
                        }
                    )
        finally:
            self._running = None
            if held is not None:
                held.release()
        if self.innovus is not None:
            # An idle session keeps its licence between runs only while no one queues for it.
            self.innovus.give_back_if_wanted()
        self._tool_seen(run.location)
        record = self._update(info.key, run=run)
        self.journal.write(RunFinished(key=info.key, run=run, verdict=record.verdict))
        self._notified(record)
        return run

    def judge(
        self, validation: PlannedValidation, threshold: Threshold, run: RunRecord
    ) -> ThresholdRecord:
        """Judge one threshold on the run's metrics and journal the verdict."""
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
        threshold_record = ThresholdRecord(
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
        current = self._record_of(validation, run)
        record = self._update(
            current.key, thresholds={**current.thresholds, threshold.id: threshold_record}
        )
        self.journal.write(
            ThresholdJudged(
                key=record.key,
                run_started=run.started,
                threshold=threshold_record,
                verdict=record.verdict,
            )
        )
        self._notified(record)
        return threshold_record

    def judge_regressions(
        self, validation: PlannedValidation, run: RunRecord, margin: float = DEFAULT_MARGIN
    ) -> tuple[RegressionRecord, list[MetricChange] | None]:
        """The run's metrics against the baseline's, journalled; None: not in the baseline."""
        if self._baseline is None:
            raise SpilotError(
                "--spilot-regressions compares with a baseline release: pass "
                "--spilot-baseline PATH|VERSION"
            )
        earlier = self._baseline.validations.get(validation.key)
        changes = None
        if run.outcome != "passed":
            verdict = RegressionRecord(
                outcome="failed", message=f"run failed: {run.message or run.exit_code}"
            )
        elif earlier is None or earlier.run is None:
            verdict = RegressionRecord(
                outcome="passed",
                message=f"not in the baseline release {self._baseline.version}; nothing to compare",
            )
        else:
            spec = validation.spec
            level_of = levels_for(spec.regressions, spec.noncritical_regressions)
            changes = compare_runs(validation.id, earlier.run, run, margin, level_of=level_of)
            summary = summarize(changes, self._baseline.version)
            verdict = RegressionRecord(
                outcome=summary.outcome,
                message=summary.message,
                regressed=[c.metric for c in changes if c.verdict == "regressed"],
                warned=summary.warned,
                changes=[c.line() for c in changes],
            )
        record = self._update(self._record_of(validation, run).key, regressions=verdict)
        self.journal.write(
            RegressionJudged(
                key=record.key, run_started=run.started, regressions=verdict, verdict=record.verdict
            )
        )
        self._notified(record)
        return verdict, changes

    def progress(self, progress: FlowProgress) -> None:
        """Journal where the running validation's LibreLane flow got to."""
        if self._running is None:
            return
        key, started = self._running
        fields = {name: getattr(progress, name) for name in Progress.model_fields}
        self.journal.write(StepProgress(key=key, run_started=started, progress=Progress(**fields)))

    def _info(self, validation: PlannedValidation) -> ValidationInfo:
        return ValidationInfo(
            key=validation.key,
            id=validation.id,
            name=validation.spec.name,
            file=validation.key.rsplit("::", 1)[0],
            kind=validation.spec.kind,
            gate=validation.is_gate,
            params=validation.params,
            thresholds_declared=[t.id for t in validation.thresholds],
            regressions_declared=self.settings.regressions and not validation.is_gate,
        )

    def _record_of(self, validation: PlannedValidation, run: RunRecord) -> ValidationRecord:
        """This process's record of the run a verdict judges.

        A gate's run may have been made by another process (the gate board); its verdicts
        then start a record here, and the fold joins them to that run by its start time.
        """
        current = self._records.get(validation.key)
        if current is None or current.run_started != run.started:
            current = ValidationRecord(**dict(self._info(validation)), started=run.started, run=run)
            self._records[validation.key] = current
        return current

    def _update(self, key: str, **fields: object) -> ValidationRecord:
        record = self._records[key].model_copy(update=fields)
        self._records[key] = record
        return record

    def _notified(self, record: ValidationRecord) -> None:
        if self._notify is not None:
            self._notify(record)

    def _tool_seen(self, location: str) -> None:
        config = getattr(self.innovus, "config", None)
        probe = tool_probe(
            location,
            getattr(config, "binary", "innovus"),
            getattr(config, "tclsh", "tclsh"),
        )
        if probe is None or probe[0] in self._tools:
            return
        self._tools.add(probe[0])
        self.journal.write(ToolSeen(name=probe[0], version=tool_version(*probe)))
