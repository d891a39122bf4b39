"""A release on disk: its document (``<version>.json``) and its journal (``<version>.journal/``).

Readers fold document + journal, so they see a run while it is still going. Folding is
idempotent and does not depend on the order of the files: each verdict names the run it was
judged on (its start time), a later run replaces an earlier one, and a verdict of a replaced
run is dropped. ``ReleaseStore.fold`` writes the folded document and removes the journal files
whose writers are done; that is the only step that takes a lock, and no result waits for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from filelock import FileLock

from pytest_spilot.atomic import write_atomic
from pytest_spilot.core.journal import (
    GateDecided,
    JobStarted,
    JournalFile,
    JournalWriter,
    ProcessStarted,
    RegressionJudged,
    RunFinished,
    RunStarted,
    StepProgress,
    ThresholdJudged,
    ToolSeen,
    read_journal,
)
from pytest_spilot.core.state import (
    GateDecision,
    Provenance,
    ReleaseState,
    ValidationRecord,
    now,
    read_state,
)
from pytest_spilot.errors import SpilotError
from pytest_spilot.redact import Redactor


@dataclass
class Folded:
    """A release as read: None when it has neither document nor journal."""

    state: ReleaseState | None
    warnings: list[str] = field(default_factory=list)
    files: list[JournalFile] = field(default_factory=list)


def journal_dir(document: Path) -> Path:
    """``.spilot/2026.12.json`` keeps its journal in ``.spilot/2026.12.journal/``."""
    return document.with_suffix(".journal")


class ReleaseStore:
    """One release's document and journal; ``version`` None accepts the version found."""

    def __init__(self, path: Path, version: str | None = None) -> None:
        self.path = path
        self.version = version
        self.journal_dir = journal_dir(path)

    def writer(
        self, worker: str, plan_root: Path, secrets: Redactor | None = None
    ) -> JournalWriter:
        """This process's journal of the release (its file appears with the first event)."""
        assert self.version is not None, "a writer needs the release's version"
        return JournalWriter(self.journal_dir, self.version, worker, plan_root, secrets)

    def exists(self) -> bool:
        return self.path.is_file() or self.journal_dir.is_dir()

    def read(self) -> Folded:
        """Document + journal, folded in memory."""
        # The journal first: a concurrent fold may write the document and then remove files;
        # read in this order, a removed file's events are in the document read after it.
        files = list(read_journal(self.journal_dir))
        state = read_state(self.path)
        if state is not None and self.version is not None and state.version != self.version:
            raise SpilotError(
                f"{self.path} holds release {state.version!r}, not {self.version!r}; give each "
                "version its own --spilot-state file (the default is .spilot/<version>.json)"
            )
        return fold(state, files, self.version)

    def fold(self) -> Folded:
        """Fold the journal into the document, write it, remove journal files that are done."""
        if not self.exists():
            return Folded(None)
        with FileLock(str(self.path) + ".lock"):
            folded = self.read()
            if folded.state is None:
                return folded
            state = folded.state.model_copy(update={"updated": now()})
            write_atomic(self.path, state.model_dump_json())
            for done in (f for f in folded.files if f.finished):
                done.path.unlink(missing_ok=True)
            return Folded(state, folded.warnings, folded.files)


def fold(state: ReleaseState | None, files: list[JournalFile], version: str | None) -> Folded:
    """``state`` with the events of ``files`` applied (neither argument is changed)."""
    warnings = [w for f in files for w in f.warnings]
    folder = ReleaseFold(state, version)
    for journal in files:
        header = next((e for e in journal.events if isinstance(e, ProcessStarted)), None)
        if header is not None and folder.version not in (None, header.version):
            warnings.append(
                f"{journal.path}: written for release {header.version!r}, not "
                f"{folder.version!r}; skipped (a journal file copied into the wrong folder?)"
            )
            continue
        for event in journal.events:
            problem = folder.apply(event)
            if problem:
                warnings.append(f"{journal.path}: {problem}")
    return Folded(folder.result(), warnings, files)


class ReleaseFold:
    """Folds events into a release, one at a time (records are replaced, never changed)."""

    def __init__(self, state: ReleaseState | None, version: str | None) -> None:
        self.base = state
        self.version = state.version if state is not None else version
        self.records = dict(state.validations) if state else {}
        self.gates = dict(state.gates) if state else {}
        self.provenance: Provenance | None = (
            state.provenance.model_copy(deep=True) if state else None
        )
        self.first: datetime | None = None
        self.latest: datetime | None = None  # of the newest process header applied
        self.touched = False

    def apply(self, event: object) -> str:
        """Apply one event; a message when it cannot be placed (it is then skipped)."""
        self.touched = True
        match event:
            case ProcessStarted():
                self._process(event)
            case RunStarted():
                key = event.validation.key
                current = self.records.get(key)
                if current is None or _before(current.run_started, event.started):
                    self.records[key] = ValidationRecord(
                        **dict(event.validation), started=event.started
                    )
            case RunFinished():
                current = self.records.get(event.key)
                if current is None:
                    return f"run of {event.key!r} without its run_started line; skipped"
                if _before(current.run_started, event.run.started):
                    self.records[event.key] = current.model_copy(
                        update={
                            "started": event.run.started,
                            "run": event.run,
                            "thresholds": {},
                            "regressions": None,
                            "progress": None,
                            "jobs": [],
                        }
                    )
                elif current.run_started == event.run.started and current.run is None:
                    self.records[event.key] = current.model_copy(
                        update={"run": event.run, "jobs": []}
                    )
            case ThresholdJudged() | RegressionJudged() | StepProgress() | JobStarted():
                return self._verdict(event)
            case GateDecided():
                earlier = self.gates.get(event.key)
                if earlier is None or earlier.decided <= event.ts:
                    self.gates[event.key] = GateDecision(
                        outcome=event.outcome, message=event.message, decided=event.ts
                    )
            case ToolSeen():
                self._provenance().tools[event.name] = event.version
        return ""

    def _verdict(
        self, event: ThresholdJudged | RegressionJudged | StepProgress | JobStarted
    ) -> str:
        current = self.records.get(event.key)
        if current is None or _before(current.run_started, event.run_started):
            return f"{event.event} of {event.key!r} for a run it has no record of; skipped"
        if current.run_started != event.run_started:
            return ""  # judged on a run that a later one replaced
        if isinstance(event, ThresholdJudged):
            thresholds = {**current.thresholds, event.threshold.id: event.threshold}
            update: dict[str, object] = {"thresholds": thresholds}
        elif isinstance(event, RegressionJudged):
            update = {"regressions": event.regressions}
        elif isinstance(event, JobStarted):
            if current.run is not None:
                return ""  # the run finished (a line order across files is not guaranteed)
            update = {"jobs": [*current.jobs, event.job]}
        else:
            update = {"progress": event.progress}
        self.records[event.key] = current.model_copy(update=update)
        return ""

    def _process(self, event: ProcessStarted) -> None:
        provenance = self._provenance()
        if event.host not in provenance.hosts:
            provenance.hosts.append(event.host)
        if self.latest is None or self.latest <= event.ts:
            self.latest = event.ts
            provenance.plugin_version = event.plugin_version
            provenance.git_commit = event.git_commit
        if self.first is None or event.ts < self.first:
            self.first = event.ts
        if self.version is None:
            self.version = event.version

    def _provenance(self) -> Provenance:
        if self.provenance is None:
            self.provenance = Provenance()
        return self.provenance

    def result(self) -> ReleaseState | None:
        if self.base is None and not self.touched:
            return None
        if self.base is not None and not self.touched:
            return self.base
        assert self.version is not None
        if self.base is not None:
            return self.base.model_copy(
                update={
                    "schema_version": 2,
                    "validations": self.records,
                    "gates": self.gates,
                    "provenance": self._provenance(),
                }
            )
        return ReleaseState(
            version=self.version,
            created=self.first or now(),
            validations=self.records,
            gates=self.gates,
            provenance=self._provenance(),
        )


def _before(current: datetime | None, started: datetime) -> bool:
    """Whether a run that started at ``started`` is newer than the record's current one."""
    return current is None or current < started


def read_release(
    path: Path, version: str | None = None, warn: Callable[[str], None] | None = None
) -> ReleaseState | None:
    """A release's state, folded and written back to its document where the folder allows it.

    ``warn`` gets each warning of the fold (a torn or foreign journal line); default stderr.
    """
    store = ReleaseStore(path, version)
    try:
        folded = store.fold()
    except OSError:  # a shared release area this user may read but not write
        folded = store.read()
    for warning in folded.warnings:
        (warn or warn_on_stderr)(warning)
    return folded.state


def warn_on_stderr(text: str) -> None:
    print(f"spilot: warning: {text}", file=sys.stderr)
