"""One release as the live page shows it, kept up to date event by event from its journal.

The records (runs, verdicts, progress) come from the core's own fold (``ReleaseFold``) of the
document and the journal; the live part (queued, waiting, skipped, where a run runs, its log
and rerun command, its batch job) comes from the journal events the document does not keep.
Applying an event rebuilds only the rows it names, so its cost does not grow with the release.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from pytest_spilot.core.journal import (
    Event,
    GateDecided,
    JobStarted,
    ProcessFinished,
    ProcessStarted,
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
from pytest_spilot.core.state import JobHandle, ValidationInfo, ValidationRecord, now, read_state
from pytest_spilot.core.store import ReleaseFold, journal_dir
from pytest_spilot.innovus.evidence import COMPATIBILITY_FILE, CompatibilityGate
from pytest_spilot.live.follower import JournalTail, Polled, TailedFile
from pytest_spilot.live.view import ReleaseSummary, ReleaseView, RowsChanged, Status, ValidationRow
from pytest_spilot.logtail import tail_lines
from pytest_spilot.redact import Redactor

LOG_TAIL_LINES = 40
# A release where thousands failed reads this much of each log when it is first shown.
LOG_TAIL_BYTES = 32 * 1024
# Events the document folds; kept per journal file until the fold removes that file, so the
# records can be rebuilt on a new document without re-reading the journal.
_RECORD_EVENTS = (
    ProcessStarted,
    RunStarted,
    RunFinished,
    ThresholdJudged,
    RegressionJudged,
    StepProgress,
    JobStarted,
    GateDecided,
    ToolSeen,
)
_Signature = tuple[int, int, int] | None


@dataclass
class _Live:
    """What the journal says of one validation beyond its record."""

    started: RunStarted | None = None
    source: TailedFile | None = None  # the file the run_started came from
    job: JobHandle | None = None
    waiting: RunWaiting | None = None
    waiting_source: TailedFile | None = None
    skipped: RunSkipped | None = None


@dataclass
class _Plan:
    event: ValidationsPlanned
    source: TailedFile | None
    keys: set[str] = field(default_factory=set)


class LiveRelease:
    """A release of ``folder`` (``<version>.json`` + ``<version>.journal/``), followed live.

    ``roots``: folders besides ``folder`` whose logs and evidence may be read (run roots kept
    outside it). Not thread-safe: one caller at a time.
    """

    def __init__(
        self,
        folder: Path,
        version: str,
        redactor: Redactor | None = None,
        roots: Sequence[Path] = (),
    ) -> None:
        self.folder = folder
        self.version = version
        self.redactor = redactor or Redactor()
        self.allowed = [p.resolve() for p in (folder, *roots)]
        self.document = folder / f"{version}.json"
        self.tail = JournalTail(journal_dir(self.document))
        self.seq = 0
        self.warnings: list[str] = []
        self.rows: dict[str, ValidationRow] = {}
        self.counts: Counter[Status] = Counter()
        self.updated: datetime | None = None
        self._infos: dict[str, ValidationInfo] = {}
        self._live: dict[str, _Live] = {}
        self._plan: _Plan | None = None
        self._kept: dict[Path, list[Event]] = {}
        self._running: set[str] = set()
        # Per journal file, the validations whose status holds only while it is written:
        # running, waiting, queued by its plan.
        self._by_file: dict[Path, set[str]] = {}
        # Journal first, then the document: a file a concurrent fold removes in between has
        # its events in the document read after it (the fold writes it before removing).
        polled = self.tail.poll()
        self._signature = self._stat()
        self.fold = ReleaseFold(read_state(self.document), version)
        self._take(polled)
        for key in self._keys():
            self._refresh(key)
        # What the page was last told about the release running: its end changes no row.
        self._sent_running = self.tail.running

    def view(self) -> ReleaseView:
        """The whole release now (elapsed times of running rows as of this call)."""
        for key in self._running:
            row = self._row(key)
            if row is not None:
                self.rows[key] = row
        return ReleaseView(
            summary=self.summary(),
            rows=list(self.rows.values()),
            gates={key: gate.outcome for key, gate in self.fold.gates.items()},
            warnings=[self.redactor.text(w) for w in self.warnings],
        )

    def summary(self) -> ReleaseSummary:
        base = self.fold.base
        return ReleaseSummary(
            version=self.version,
            created=base.created if base is not None else self.fold.first,
            updated=self.updated or (base.updated if base is not None else None),
            running=self.tail.running,
            counts={status: n for status, n in self.counts.items() if n},
        )

    def poll(self) -> RowsChanged | None:
        """Read what the journal (and a rewritten document) added; the rows that changed."""
        polled = self.tail.poll()
        changed = self._take(polled)
        signature = self._stat()
        if signature != self._signature:
            self._signature = signature
            changed |= self._rebuild()
        return self._changed(changed)

    def apply(
        self, events: Iterable[Event], source: TailedFile | None = None
    ) -> RowsChanged | None:
        """Apply events (as if read from ``source``); the rows they changed, None if none."""
        changed: set[str] = set()
        for event in events:
            changed |= self._apply(event, source)
        return self._changed(changed)

    def log_path(self, key: str) -> Path | None:
        """The log of ``key``'s latest run, resolved, if it lies where logs may be served."""
        record = self.fold.records.get(key)
        live = self._live.get(key)
        path = None
        current = live.started if live is not None else None
        if current is not None and (record is None or record.run_started == current.started):
            path = current.log
        if path is None and record is not None and record.run is not None:
            path = record.run.log
        return self.servable(path) if path else None

    def servable(self, path: str) -> Path | None:
        """``path`` (relative ones: to the project, the folder's parent) with every link
        resolved, if inside the folder or a root; None otherwise."""
        given = Path(path)
        real = (given if given.is_absolute() else self.folder.parent / given).resolve()
        if any(real.is_relative_to(root) for root in self.allowed):
            return real
        return None

    def close(self) -> None:
        self.tail.close()

    # The journal's events.

    def _take(self, polled: Polled) -> set[str]:
        changed: set[str] = set()
        self.warnings += polled.warnings
        for source, event in polled.events:
            header = source.header
            if header is not None and header.version != self.version:
                continue
            changed |= self._apply(event, source)
        for done in polled.finished:
            if done.header is not None and done.header.version != self.version:
                self.warnings.append(
                    f"{done.path}: written for release {done.header.version!r}, not "
                    f"{self.version!r}; skipped (a journal file copied into the wrong folder?)"
                )
            changed |= self._by_file.pop(done.path, set())
        for gone in polled.removed:
            self._kept.pop(gone.path, None)
        return changed

    def _apply(self, event: Event, source: TailedFile | None) -> set[str]:
        if isinstance(event, _RECORD_EVENTS):
            if source is not None:
                self._kept.setdefault(source.path, []).append(event)
            problem = self.fold.apply(event)
            if problem:
                where = f"{source.path}: " if source is not None else ""
                self.warnings.append(where + problem)
        if not isinstance(event, ProcessStarted | ProcessFinished | ToolSeen):
            self.updated = event.ts if self.updated is None else max(self.updated, event.ts)
        match event:
            case ValidationsPlanned():
                if self._plan is not None and event.ts < self._plan.event.ts:
                    return set()
                before = self._plan.keys if self._plan is not None else set()
                self._plan = _Plan(event, source, {v.key for v in event.validations})
                self._watch(source, *self._plan.keys)
                for info in event.validations:
                    self._infos.setdefault(info.key, info)
                return before | self._plan.keys
            case RunStarted():
                key = event.validation.key
                self._infos[key] = event.validation
                live = self._live.setdefault(key, _Live())
                if live.started is None or live.started.started <= event.started:
                    live.started, live.source, live.job = event, source, None
                    self._watch(source, key)
                return {key}
            case JobStarted():
                live = self._live.setdefault(event.key, _Live())
                if live.started is not None and live.started.started == event.run_started:
                    live.job = event.job
                return {event.key}
            case RunWaiting():
                live = self._live.setdefault(event.key, _Live())
                if live.waiting is None or live.waiting.ts <= event.ts:
                    live.waiting, live.waiting_source = event, source
                    self._watch(source, event.key)
                return {event.key}
            case RunSkipped():
                live = self._live.setdefault(event.key, _Live())
                if live.skipped is None or live.skipped.ts <= event.ts:
                    live.skipped = event
                return {event.key}
            case RunFinished() | ThresholdJudged() | RegressionJudged() | StepProgress():
                return {event.key}
            case GateDecided():
                return {event.key}
        return set()

    def _watch(self, source: TailedFile | None, *keys: str) -> None:
        if source is not None and not source.finished:
            self._by_file.setdefault(source.path, set()).update(keys)

    def _rebuild(self) -> set[str]:
        """Fold a rewritten document again with the events of the files still there."""
        try:
            state = read_state(self.document)
        except Exception as exc:  # a document being replaced by hand: keep what we have
            self.warnings.append(str(exc))
            return set()
        self.fold = ReleaseFold(state, self.version)
        for events in self._kept.values():
            for event in events:
                self.fold.apply(event)
        return set(self._keys())

    def _changed(self, keys: set[str]) -> RowsChanged | None:
        rows = []
        for key in keys:
            before = self.rows.get(key)
            row = self._refresh(key)
            if row is not None and row != before:
                rows.append(row)
        running = self.tail.running
        if not rows and running == self._sent_running:
            return None
        self._sent_running = running
        self.seq += 1
        return RowsChanged(summary=self.summary(), rows=rows, seq=self.seq)

    def _keys(self) -> list[str]:
        return list(dict.fromkeys([*self.fold.records, *self._infos]))

    # Rows.

    def _refresh(self, key: str) -> ValidationRow | None:
        row = self._row(key)
        if row is None:
            return None
        before = self.rows.get(key)
        if before is not None:
            self.counts[before.status] -= 1
        self.counts[row.status] += 1
        self.rows[key] = row
        if row.status == "running":
            self._running.add(key)
        else:
            self._running.discard(key)
        return row

    def _status(self, key: str, record: ValidationRecord | None, live: _Live) -> tuple[Status, str]:
        """The latest thing that happened to ``key`` decides: planned, waiting, skipped, run;
        with why it is skipped."""
        # A plan or a wait whose writer ended before the run started: it will not run now.
        moments: list[tuple[datetime, int, Status, str]] = []
        plan = self._plan
        if plan is not None and key in plan.keys:
            queued = _writing(plan.source)
            why = "" if queued else "not run: its test run ended before it started"
            moments.append((plan.event.ts, 0, "queued" if queued else "skipped", why))
        # An empty waiting_for ends a wait that began inside a run (a licence slot).
        if live.waiting is not None and live.waiting.waiting_for:
            waiting = _writing(live.waiting_source)
            why = f"not run: its worker ended while it waited for {live.waiting.waiting_for}"
            moments.append(
                (live.waiting.ts, 1, "waiting" if waiting else "skipped", "" if waiting else why)
            )
        if live.skipped is not None:
            if record is not None and record.passed:
                # A resumed run skips what passed before: the record's verdict stands.
                moments.append((live.skipped.ts, 2, self._verdict(record, live), ""))
            else:
                moments.append((live.skipped.ts, 2, "skipped", live.skipped.reason))
        if record is not None and record.run_started is not None:
            moments.append((record.run_started, 3, self._verdict(record, live), ""))
        if not moments:
            return "queued", ""
        _, _, status, why = max(moments)
        return status, why

    def _verdict(self, record: ValidationRecord, live: _Live) -> Status:
        verdict = record.verdict
        if verdict == "failed":
            return "failed"
        if verdict == "passed":
            warned = any(t.outcome == "warning" for t in record.thresholds.values()) or (
                record.regressions is not None and record.regressions.outcome == "warning"
            )
            return "warning" if warned else "passed"
        # Events applied without their file (``apply``) are taken as from a live writer.
        writing = (
            live.started is not None
            and live.started.started == record.run_started
            and (live.source is None or not live.source.finished)
        )
        return "running" if writing else "failed"  # its writer is gone: it never finishes

    def _row(self, key: str) -> ValidationRow | None:
        """``key``'s row now, secrets redacted; None for a key known only by a stray event."""
        row = self._build(key)
        if row is None or not self.redactor.values:
            return row
        return ValidationRow.model_validate_json(self.redactor.text(row.model_dump_json()))

    def _build(self, key: str) -> ValidationRow | None:
        record = self.fold.records.get(key)
        info: ValidationInfo | None = record or self._infos.get(key)
        if info is None:
            return None
        live = self._live.get(key) or _Live()
        status, skipped = self._status(key, record, live)
        current = live.started
        if current is not None and record is not None and record.run_started != current.started:
            current = None  # a run the record replaced (or one it never saw)
        identity = ValidationRow(
            key=key,
            id=info.id,
            name=info.name,
            file=info.file,
            kind=info.kind,
            gate=info.gate,
            params=info.params,
            status=status,
        )
        if status in ("queued", "waiting"):
            waiting = live.waiting if status == "waiting" else None
            return identity.model_copy(
                update={
                    "waiting_for": waiting.waiting_for if waiting else "",
                    "worker": waiting.worker if waiting else "",
                    "rerun": current.rerun if current else "",
                }
            )
        if record is None:  # skipped before it ever ran
            return identity.model_copy(update={"message": skipped})
        run = record.run
        job = live.job if current is not None else None
        elapsed = run.duration_s if run is not None else None
        if run is None and record.started is not None and status == "running":
            elapsed = (now() - record.started).total_seconds()
        log = self.log_path(key)
        return identity.model_copy(
            update={
                "worker": current.worker if current else "",
                "host": current.host if current else (job.host if job else ""),
                "location": run.location if run else (current.location if current else ""),
                "node": job.node if job else None,
                "job_id": run.job_id if run and run.job_id else (job.job_id if job else None),
                "started": record.run_started,
                "finished": record.finished,
                "elapsed_s": elapsed,
                "progress": record.progress,
                "metrics": run.metrics if run else {},
                "thresholds": list(record.thresholds.values()),
                "regressions": record.regressions,
                "message": skipped if status == "skipped" else self._message(record, status),
                "log": self._shown(log),
                "log_tail": tail_lines(log, LOG_TAIL_LINES, max_bytes=LOG_TAIL_BYTES)
                if status == "failed" and log is not None
                else [],
                "rerun": current.rerun if current and current.rerun else _rerun(record, self),
                "evidence": self._evidence(record) if run else [],
            }
        )

    def _message(self, record: ValidationRecord, status: Status) -> str:
        run = record.run
        if status == "running":
            return ""
        if run is None:
            return "the run never finished (its process ended first)" if status == "failed" else ""
        parts = []
        if run.outcome == "failed":
            parts.append(run.message or f"the job failed (exit code {run.exit_code})")
        parts += [
            f"{t.id}: {t.message}" for t in record.thresholds.values() if t.outcome != "passed"
        ]
        regressions = record.regressions
        # A failed run's regressions verdict only repeats the run's failure.
        if run.outcome == "passed" and regressions is not None and regressions.outcome == "failed":
            parts.append(regressions.message or "regressed")
        missing = set(record.thresholds_declared) - set(record.thresholds)
        if run.outcome == "passed" and missing and status == "failed":
            parts.append(f"never judged: {', '.join(sorted(missing))}")
        return "\n".join(parts)

    def _shown(self, log: Path | None) -> str | None:
        if log is None:
            return None
        home = self.allowed[0]
        return log.relative_to(home).as_posix() if log.is_relative_to(home) else str(log)

    def _evidence(self, record: ValidationRecord) -> list[CompatibilityGate]:
        if record.run is None or not (record.gate or record.kind == "migration"):
            return []
        path = self.servable(os.path.join(record.run.run_dir, COMPATIBILITY_FILE))
        if path is None:
            return []
        try:
            return [CompatibilityGate.model_validate_json(path.read_bytes())]
        except (OSError, ValidationError):
            return []  # not a migration gate, or its run directory was rotated away

    def _stat(self) -> _Signature:
        try:
            st = os.stat(self.document)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)


def _writing(source: TailedFile | None) -> bool:
    """Whether an event's file may still grow (events applied without a file: assume so)."""
    return source is None or not source.finished


def _rerun(record: ValidationRecord, release: LiveRelease) -> str:
    """The command the HTML report shows, where the journal named none."""
    from pytest_spilot.live.report import rerun_command

    return rerun_command(record, release.version)
