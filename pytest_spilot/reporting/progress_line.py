"""What runs where while a release runs, as terminal text: a progress line for logs without a
terminal (CI) and a block of one line per worker that a terminal redraws in place.

The state comes from the release journal (which worker runs which validation, since when,
where its LibreLane run got to) and from pytest's item reports (how many items are done).
The block is drawn below the line the terminal's cursor is on and the cursor is put back where
it was, so whoever writes next only has to erase from the cursor down (``ERASE``) first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from pytest_spilot.core.journal import (
    Event,
    JobStarted,
    ProcessFinished,
    RunFinished,
    RunStarted,
    RunWaiting,
    StepProgress,
)
from pytest_spilot.core.state import Progress

ERASE = "\x1b[J"  # from the cursor to the end of the screen: the block and nothing above it
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[@-~]|\x1b[78]")


def elapsed(seconds: float) -> str:
    """``12s``, ``3m05s``, ``2h07m``."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def label(key: str) -> str:
    """A validation's name as the release table shows it (its key without the plan file)."""
    return key.rsplit("::", 1)[-1]


def _natural(worker: str) -> tuple[str, int, str]:
    """gw2 before gw10."""
    head = worker.rstrip("0123456789")
    digits = worker[len(head) :]
    return (head, int(digits) if digits else -1, worker)


@dataclass
class WorkerRun:
    """What one worker does now; ``key`` empty: idle."""

    worker: str
    key: str = ""
    location: str = ""
    host: str = ""
    since: datetime | None = None  # the run's start, or when the waiting began
    waiting_for: str = ""
    progress: Progress | None = None
    job_id: str | None = None

    def step(self) -> str:
        """A LibreLane run's position: ``3/6 Yosys.Synthesis``."""
        p = self.progress
        if p is None:
            return ""
        if p.state == "running" and p.step_id:
            return f"{p.step_index}/{p.step_count} {p.step_id}"
        return p.state  # complete or failed: the run is about to end

    def seconds(self, now: datetime) -> float:
        return (now - self.since).total_seconds() if self.since is not None else 0.0


class ReleaseProgress:
    """The release as the controller sees it: item counts from pytest, runs from the journal."""

    def __init__(self, host: str = "") -> None:
        self.host = host  # the controller's: only other hosts are named
        self.workers: dict[str, WorkerRun] = {}
        self.total: int | None = None
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    @property
    def done(self) -> int:
        return self.passed + self.failed + self.skipped

    def add_worker(self, worker: str) -> None:
        self.workers.setdefault(worker, WorkerRun(worker))

    def remove_worker(self, worker: str) -> None:
        self.workers.pop(worker, None)

    def item_done(self, outcome: str) -> None:
        """One pytest item's outcome: passed, failed (an error too) or skipped."""
        if outcome == "passed":
            self.passed += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:
            self.failed += 1

    def apply(self, event: Event, writer: str | None = None) -> None:
        """One journal event; ``writer`` is the worker whose journal file it came from."""
        if isinstance(event, RunStarted):
            self.workers[event.worker] = WorkerRun(
                event.worker,
                event.validation.key,
                event.location,
                event.host,
                since=event.started,
            )
        elif isinstance(event, RunWaiting):
            current = self.workers.get(event.worker)
            if not event.waiting_for and current is not None and current.key == event.key:
                current.waiting_for = ""  # a wait inside a run ended: the run goes on
            else:
                self.workers[event.worker] = WorkerRun(
                    event.worker, event.key, since=event.ts, waiting_for=event.waiting_for
                )
        elif isinstance(event, RunFinished):
            for run in self._runs_of(event.key):
                self.workers[run.worker] = WorkerRun(run.worker)
        elif isinstance(event, StepProgress):
            for run in self._runs_of(event.key):
                if run.since is None or run.since == event.run_started:
                    run.progress = event.progress
        elif isinstance(event, JobStarted):
            for run in self._runs_of(event.key):
                run.job_id = event.job.job_id or run.job_id
        elif isinstance(event, ProcessFinished) and writer in self.workers:
            self.workers[writer] = WorkerRun(writer)

    def _runs_of(self, key: str) -> list[WorkerRun]:
        return [w for w in self.workers.values() if w.key == key]

    def _sorted(self) -> list[WorkerRun]:
        return [self.workers[w] for w in sorted(self.workers, key=_natural)]

    def counts(self) -> str:
        """``[5/22] 4 passed 1 failed``."""
        total = "?" if self.total is None else str(self.total)
        text = f"[{self.done}/{total}] {self.passed} passed {self.failed} failed"
        return text + (f" {self.skipped} skipped" if self.skipped else "")

    def line(self, now: datetime) -> str:
        """The line for a log without a terminal: counts, then what each busy worker runs."""
        running = []
        for run in self._sorted():
            if not run.key:
                continue
            what = f"waiting for {run.waiting_for}" if run.waiting_for else run.step()
            parts = [run.worker, label(run.key), what, elapsed(run.seconds(now))]
            running.append(" ".join(p for p in parts if p))
        return f"spilot: {self.counts()}; running: {', '.join(running) or 'none'}"

    def worker_lines(self, now: datetime) -> list[str]:
        """One line per worker for the terminal's live block."""
        lines = []
        for run in self._sorted():
            if not run.key:
                lines.append(f"[{run.worker}] idle")
                continue
            where = run.location
            if run.host and run.host != self.host:
                where = f"{where} on {run.host}" if where else run.host
            if run.job_id:
                where = f"{where} job {run.job_id}".strip()
            parts = [f"[{run.worker}]", label(run.key)]
            if run.waiting_for:
                parts += [f"waiting for {run.waiting_for}", elapsed(run.seconds(now))]
            else:
                parts += [where, elapsed(run.seconds(now))]
                if run.progress is not None:
                    p = run.progress
                    step = f"step {run.step()}" if p.state == "running" else run.step()
                    parts.append(f"{step} [{p.stage}]" if p.stage else step)
            lines.append("  ".join(p for p in parts if p))
        return lines


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide characters count two)."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def fit(text: str, columns: int) -> str:
    """``text`` cut to fewer than ``columns`` columns: a line that wraps breaks the block."""
    if width(text) < columns:
        return text
    out, used = [], 0
    for c in text:
        used += width(c)
        if used > columns - 4:
            break
        out.append(c)
    return "".join(out) + "..."


def draw(lines: list[str], column: int) -> str:
    """The block below the cursor's line, then the cursor back at ``column`` of that line.

    Relative moves only: when the block scrolls the screen, the cursor's line moves up with it.
    """
    if not lines:
        return ""
    back = f"\x1b[{len(lines)}A\r" + (f"\x1b[{column}C" if column else "")
    return "\n" + "\n".join(lines) + back


def block(lines: list[str], column: int, columns: int, rows: int) -> str:
    """``draw`` of ``lines`` made to fit a terminal of ``columns`` x ``rows``; "" if they cannot."""
    if column >= columns or rows < 2 or columns < 8:
        return ""  # a line that wrapped: where its cursor is cannot be told
    room = rows - 1
    if len(lines) > room:
        lines = [*lines[: room - 1], f"... {len(lines) - room + 1} more workers"]
    return draw([fit(line, columns) for line in lines], column)


class CursorColumn:
    """Follows the text written to a terminal to know the column its cursor is at."""

    def __init__(self) -> None:
        self.column = 0

    def feed(self, text: str) -> None:
        line = text.rsplit("\n", 1)
        if len(line) == 2:
            self.column = 0
        tail = line[-1]
        if "\r" in tail:
            self.column = 0
            tail = tail.rsplit("\r", 1)[-1]
        self.column += width(_CONTROL.sub("", tail))
