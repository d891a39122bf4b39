"""What runs where, on the controller's terminal while the release runs (also under xdist).

With a terminal: a block of one line per worker below pytest's own output, redrawn in place
and erased before pytest writes anything. Without one (CI): a line at every validation's end
and at least every ``SPILOT_PROGRESS_S`` seconds (default 60), so a log is never silent long.
Everything comes from the release journal, which every worker appends to.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest

from pytest_spilot.live.follower import JournalTail
from pytest_spilot.reporting.progress_line import ERASE, CursorColumn, ReleaseProgress, block

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController

INTERVAL_ENV = "SPILOT_PROGRESS_S"
DEFAULT_INTERVAL_S = 60.0
TICK_S = 0.25
CLOCK_SLACK_S = 1.0  # a worker's first journal line may carry a time just before ours


def interval_from_env() -> float:
    """Seconds between progress lines without a terminal (``SPILOT_PROGRESS_S``)."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise pytest.UsageError(
            f"{INTERVAL_ENV}={text!r}: not a number of seconds above 0; set it to how often a "
            f"log without a terminal gets a progress line (default {DEFAULT_INTERVAL_S:.0f}), "
            "or unset it"
        )
    return value


class TerminalFile:
    """Stands in for pytest's terminal file: the live block is erased before each write.

    Writes go to a duplicate of the terminal's descriptor, so they reach the terminal even while
    pytest captures the descriptor for a test (without xdist, tests run in this process) and
    in the order they were made.
    """

    def __init__(self, original: IO[str], lock: threading.RLock) -> None:
        self.original = original
        self.lock = lock
        self.encoding = getattr(original, "encoding", None) or "utf-8"
        self.cursor = CursorColumn()
        self.drawn = False
        self.shown = ""
        original.flush()
        try:
            self.fd: int | None = os.dup(original.fileno())
        except (AttributeError, OSError, ValueError):  # not a real file (an in-process run)
            self.fd = None

    def write(self, text: str) -> int:
        data = text.encode(self.encoding)  # pytest escapes what the terminal cannot encode
        with self.lock:
            self.erase()
            self._out(data)
            self.cursor.feed(text)
        return len(text)

    def erase(self) -> None:
        if self.drawn:
            self.drawn = False
            self._out(ERASE.encode())

    def draw(self, text: str) -> None:
        """Write the block (``text`` from ``block``): it stays until the next write erases it."""
        with self.lock:
            if self.drawn and text == self.shown:
                return
            self.erase()
            if text:
                self._out(text.encode(self.encoding, "replace"))
                self.drawn, self.shown = True, text

    def _out(self, data: bytes) -> None:
        if self.fd is None:
            self.original.write(data.decode(self.encoding))
            self.original.flush()
            return
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def flush(self) -> None:
        if self.fd is None:
            self.original.flush()

    def isatty(self) -> bool:
        return self.original.isatty()

    def __getattr__(self, name: str) -> Any:
        if name == "original":  # not set yet (a copy): no endless lookup
            raise AttributeError(name)
        return getattr(self.original, name)  # anything else a plugin asks the file

    def fileno(self) -> int:
        return self.original.fileno()

    def size(self, columns: int) -> tuple[int, int]:
        """The terminal's columns (at most pytest's width) and rows."""
        try:
            real = os.get_terminal_size(self.fd if self.fd is not None else self.fileno())
        except (OSError, ValueError):
            return columns, 24
        # A terminal that tells no size (0 x 0, as under `script` run without one) gets pytest's.
        return min(columns, real.columns or columns), real.lines or 24

    def close(self) -> None:
        with self.lock:
            self.erase()
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


class ReleaseProgressView:
    """Registered on the controller only: follows the journal and shows what runs where."""

    def __init__(self, journal: Path, interval_s: float | None = None) -> None:
        self.tail = JournalTail(journal)
        self.state = ReleaseProgress(socket.gethostname())
        self.interval_s = interval_s
        self.lock = threading.RLock()  # the terminal and the state
        self.tail_lock = threading.Lock()
        self.reporter: Any = None
        self.file: TerminalFile | None = None
        self.live = False
        self.last_line = 0.0
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Journal files of earlier runs of the release (a killed run's are never folded) are
        # not this run's: their unfinished runs would show as running for the whole run.
        self.since = datetime.now(UTC) - timedelta(seconds=CLOCK_SLACK_S)

    def pytest_configure(self, config: pytest.Config) -> None:
        if self.interval_s is None:
            self.interval_s = interval_from_env()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        tw = getattr(reporter, "_tw", None)
        if reporter is None or tw is None or not hasattr(tw, "_file"):
            return  # no terminal output at all (-p no:terminal), or a pytest that hides it
        self.reporter = reporter
        # Tests writing straight to the terminal (-s, no xdist) would run through the block.
        capture_off = session.config.getoption("capture", "fd") == "no"
        xdist = bool(getattr(session.config.option, "numprocesses", None))
        self.live = bool(reporter.isatty() and reporter.hasmarkup and (xdist or not capture_off))
        self.file = TerminalFile(tw._file, self.lock)
        tw._file = self.file
        self.last_line = time.monotonic()
        self._thread = threading.Thread(target=self._follow, name="spilot-progress", daemon=True)
        self._thread.start()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodeready(self, node: WorkerController) -> None:
        with self.lock:
            self.state.add_worker(node.gateway.id)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: WorkerController, error: object | None) -> None:
        with self.lock:
            self.state.remove_worker(node.gateway.id)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: WorkerController, ids: list[str]) -> None:
        with self.lock:
            self.state.total = max(self.state.total or 0, len(ids))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        with self.lock:
            self.state.total = len(session.items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        ran = dict(report.user_properties).get("spilot") == "run" and not report.skipped
        if ran and not self.live:
            self._poll()  # the run's end is in the journal already: show its worker free
        with self.lock:
            self.state.item_done(report.outcome)
            if ran and not self.live and self.file is not None:
                self._line()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.stop()

    def pytest_unconfigure(self) -> None:
        self.stop()

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.error:
            terminalreporter.write_line(f"spilot progress: stopped showing progress: {self.error}")

    def stop(self) -> None:
        """Stop following, erase the block and give pytest its terminal back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self.lock:
            if self.file is not None:
                self.file.close()
                self.reporter._tw._file = self.file.original
                self.file = None
        with self.tail_lock:
            self.tail.close()

    def _follow(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self._poll()
                with self.lock:
                    if self.file is None:
                        return
                    if self.live:
                        self._redraw()
                    elif time.monotonic() - self.last_line >= (self.interval_s or 0):
                        self._line()
            except Exception as exc:  # the run goes on without a view; the summary says why
                self.error = f"{type(exc).__name__}: {exc}"
                with self.lock:
                    if self.file is not None:
                        self.file.erase()
                return

    def _poll(self) -> None:
        with self.tail_lock:  # read outside self.lock: pytest's writes do not wait for it
            events = [
                (t.header.worker, e)
                for t, e in self.tail.poll().events
                if t.header is not None and t.header.ts >= self.since
            ]
        with self.lock:
            for writer, event in events:
                self.state.apply(event, writer)

    def _redraw(self) -> None:
        assert self.file is not None
        columns, rows = self.file.size(self.reporter._tw.fullwidth)
        lines = self.state.worker_lines(datetime.now(UTC))
        self.file.draw(block(lines, self.file.cursor.column, columns, rows))

    def _line(self) -> None:
        """One progress line on a line of its own (pytest's dots go on below it)."""
        assert self.file is not None
        self.last_line = time.monotonic()
        if self.file.cursor.column and not self.reporter.currentfspath:
            self.reporter._tw.write("\n")
        self.reporter.write_line(self.state.line(datetime.now(UTC)))
