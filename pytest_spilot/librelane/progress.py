"""Live progress of a LibreLane run, from its ``flow.log`` and the flow's known step list.

LibreLane writes bare messages to ``flow.log``: ``Running 'Yosys.Synthesis' at 'runs/t/…'…``
when a step starts, ``Skipping step 'Floorplan Init'…``, ``Flow complete.`` at the end, and
``The following error was encountered while running the flow:`` before a failure's message.
Position and stage come from the step list (``Flow.factory.get(name).Steps``), never from
guessing at words in other lines. Skipped steps need no line of their own: the next
``Running`` says where the flow is.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from io import FileIO
from pathlib import Path

PROGRESS_FILE = "spilot-progress.jsonl"
RUNNING = b"Running '"
COMPLETE = b"Flow complete."
ERROR = b"The following error was encountered while running the flow:"
# The end of a flow ("Flow complete." or the error and its message, perhaps a traceback) is
# the last thing it writes: it is looked for only in the last 4 KiB of each read (of at most
# READ_SIZE). A pass of ``bytes.find`` over the data costs more than a whole grep; this keeps
# following a log at one cheap pass. (The runner takes a failure's message from the run itself
# too, so a longer tail loses nothing.)
END_WINDOW = 4 * 1024
# ``Running '`` is found through its quote: ``bytes.find`` of one byte is a ``memchr`` (about
# ten times as fast as a search for the whole marker, which is slower than grep's whole count),
# and quotes are rare in flow.log, so each is checked for the marker before it. Where quotes
# turn out to be dense (after QUOTE_PROBES of them, one per fewer than QUOTE_SPACING bytes on
# average), the rest of the read is searched for the whole marker instead, so a log full of
# quotes costs little more than that search.
QUOTE = b"'"
QUOTE_LEAD = len(RUNNING) - 1  # the bytes of the marker before its quote
QUOTE_PROBES = 32
QUOTE_SPACING = 256
# Reads go into one reused buffer of this size (a long log is read and scanned a piece at a
# time, each piece still in the CPU's cache; no fresh memory per read).
READ_SIZE = 1 << 20

STAGES = (
    "initialization",
    "synthesis",
    "floorplan",
    "placement",
    "cts",
    "routing",
    "gdsii",
    "drc",
    "lvs",
    "complete",
)
# Step id → coarse stage, first match wins. Steps no rule names (most Odb.* and Checker.*
# steps) keep the stage of the step before them: the list's order carries the meaning.
STAGE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), stage)
    for pattern, stage in (
        (r"^(Verilator|Checker\.(LintErrors|LintWarnings|LintTimingConstructs))", "initialization"),
        (
            r"^(Yosys\.|Checker\.(Yosys|NetlistAssign)|OpenROAD\.(CheckSDCFiles|STAPrePNR))",
            "synthesis",
        ),
        (r"^OpenROAD\.(Floorplan|TapEndcap|IOPlacement|GeneratePDN|CutRows)", "floorplan"),
        (
            r"^Odb\.(SetPowerConnections|ManualMacroPlacement|CustomIOPlacement|AddPDNObstructions)",
            "floorplan",
        ),
        (
            r"^OpenROAD\.(GlobalPlacement|BasicMacroPlacement|RepairDesign(?!PostGRT)|DetailedPlacement)",
            "placement",
        ),
        (r"^OpenROAD\.(CTS|ResizerTimingPostCTS)", "cts"),
        (
            r"^OpenROAD\.(GlobalRouting|RepairDesignPostGRT|ResizerTimingPostGRT|DetailedRouting|RCX|STAPostPNR|IRDropReport|FillInsertion)",
            "routing",
        ),
        (r"^Checker\.(TrDRC|WireLength)", "routing"),
        (r"^(Magic\.StreamOut|KLayout\.(StreamOut|XOR)|Checker\.XOR)", "gdsii"),
        (r"^(Magic\.DRC|KLayout\.DRC|Checker\.(MagicDRC|KLayoutDRC|IllegalOverlap))", "drc"),
        (r"^(Magic\.SpiceExtraction|Netgen\.|Checker\.LVS)", "lvs"),
    )
)


def stages_for(steps: Sequence[str]) -> list[str]:
    """The coarse stage of every step of a flow, in order."""
    out: list[str] = []
    current = STAGES[0]
    for step in steps:
        for pattern, stage in STAGE_RULES:
            if pattern.search(step):
                current = stage
                break
        out.append(current)
    return out


@dataclass(frozen=True)
class Progress:
    """One line of ``spilot-progress.jsonl``."""

    ts: float
    state: str  # running | complete | failed
    step_index: int  # 1-based; 0 before the first step
    step_count: int
    step_id: str
    stage: str
    percent: float
    message: str = ""

    def line(self) -> str:
        if self.step_id:
            where = f"step {self.step_index}/{self.step_count} {self.step_id} [{self.stage}]"
        else:
            where = f"{self.step_count} steps"
        return f"{self.state}: {where} {self.percent:.0f}% {self.message}".strip()


class FlowLogFollower:
    """Reads ``flow.log`` as it grows (call :meth:`poll`), reporting each change of position.

    Only the newly appended bytes are read (into one reused buffer) and scanned: ``memchr``
    for the quote of ``Running '``, ``bytes.find`` for the end of the flow in the last
    4 KiB, so following a long log costs less than one ``grep`` over it.
    """

    def __init__(
        self,
        log_path: Path,
        steps: Sequence[str],
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.log_path = log_path
        self.steps = list(steps)
        self.index = {step: i for i, step in enumerate(self.steps)}
        self.stages = stages_for(self.steps)
        self.on_progress = on_progress
        self.offset = 0
        self.pending = b""  # an incomplete last line, kept until its newline arrives
        self.last: Progress | None = None
        self.failure: str | None = None
        self._in_error = False
        self._fh: FileIO | None = None
        self._buf = bytearray()

    def poll(self) -> Progress | None:
        """Scan what was appended since the last call; the latest progress, if any."""
        if self._fh is None:
            try:  # kept open and unbuffered: a poll is then one read() into the same buffer
                self._fh = self.log_path.open("rb", buffering=0)
            except FileNotFoundError:
                return self.last
            self._buf = bytearray(READ_SIZE)
        buf = self._buf
        while True:
            size = self._fh.readinto(buf)
            if not size:
                break
            self.offset += size
            self._take(buf, size)
            if size < len(buf):  # the end of the file as it is now
                break
        return self.last

    def _take(self, data: bytearray, size: int) -> None:
        """Scan the whole lines of ``data[:size]``; keep its incomplete last line."""
        start = 0
        if self.pending:  # finish the line cut at the last read, without copying the rest
            newline = data.find(b"\n", 0, size)
            if newline < 0:
                self.pending += data[:size]
                return
            head, self.pending = self.pending + data[: newline + 1], b""
            self._scan(head, 0, len(head))
            start = newline + 1
        cut = data.rfind(b"\n", start, size) + 1
        if cut > start:
            self._scan(data, start, cut)
        self.pending = bytes(data[max(cut, start) : size])

    def finish(self) -> Progress | None:
        """Scan the rest, including a last line without a newline."""
        self.poll()
        if self.pending:
            tail, self.pending = self.pending + b"\n", b""
            self._scan(tail, 0, len(tail))
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._buf = bytearray()
        return self.last

    def fail(self, message: str) -> None:
        """The flow ended in failure: report it at the position reached (API runs write no
        error line to flow.log)."""
        if self.last is not None and self.last.state == "failed":
            return
        self.failure = self.failure or message
        last = self.last
        self._emit(
            "failed",
            last.step_index if last else 0,
            last.step_id if last else "",
            last.stage if last else STAGES[0],
            last.percent if last else 0.0,
            message,
        )

    def _scan(self, data: bytes | bytearray, begin: int, size: int) -> None:
        """Scan ``data[begin:size]``: whole lines."""
        if self._in_error:
            self._error_message(data, begin, size)
        events = [(at, RUNNING) for at in _line_starts_running(data, begin, size)]
        end_from = max(begin, size - END_WINDOW)
        for marker in (COMPLETE, ERROR):
            at = data.find(marker, end_from, size)
            while at >= 0:
                if at == begin or data[at - 1] == 0x0A:  # only at the start of a line
                    events.append((at, marker))
                at = data.find(marker, at + len(marker), size)
        if len(events) > 1:
            events.sort()
        for at, marker in events:
            end = data.find(b"\n", at, size)
            if end < 0:
                end = size
            if marker is RUNNING:
                quote = data.find(QUOTE, at + len(RUNNING), end)
                step = data[at + len(RUNNING) : quote if quote >= 0 else end]
                self._running(step.decode("utf-8", "replace"))
            elif marker is COMPLETE:
                self._emit("complete", len(self.steps), "", "complete", 100.0)
            elif marker is ERROR:
                self._error_message(data, end + 1, size)

    def _running(self, step: str) -> None:
        i = self.index.get(step)
        if i is None:  # a step outside the known list: say where we are, keep the position
            prior = self.last.step_index if self.last else 0
            stage = self.last.stage if self.last else STAGES[0]
            self._emit("running", prior, step, stage, self._percent(max(prior - 1, 0)))
            return
        self._emit("running", i + 1, step, self.stages[i], self._percent(i))

    def _error_message(self, data: bytes | bytearray, start: int, size: int) -> None:
        # The failure's message is the next non-empty line (it may come in the next chunk).
        while start < size:
            end = data.find(b"\n", start, size)
            if end < 0:
                end = size
            text = data[start:end].decode("utf-8", "replace").strip()
            if text:
                self._in_error = False
                self.failure = text
                self.fail(text)
                return
            start = end + 1
        self._in_error = True

    def _percent(self, done: int) -> float:
        return round(100.0 * done / len(self.steps), 1) if self.steps else 0.0

    def _emit(
        self, state: str, index: int, step: str, stage: str, percent: float, message: str = ""
    ) -> None:
        progress = Progress(
            time.time(), state, index, len(self.steps), step, stage, percent, message
        )
        self.last = progress
        if self.on_progress is not None:
            self.on_progress(progress)


def _line_starts_running(data: bytes | bytearray, begin: int, size: int) -> list[int]:
    """Where lines of ``data[begin:size]`` start with ``Running '`` (found by their quote)."""
    found: list[int] = []
    find = data.find
    at = find(QUOTE, begin + QUOTE_LEAD, size)
    probes, since = 0, begin
    while at >= 0:
        start = at - QUOTE_LEAD
        if data.startswith(RUNNING, start) and (start == begin or data[start - 1] == 0x0A):
            found.append(start)
        probes += 1
        if probes == QUOTE_PROBES:
            if at - since < QUOTE_PROBES * QUOTE_SPACING:  # dense: search for the marker
                # Every marker that starts at or before ``start`` has been checked.
                at = find(RUNNING, start + 1, size)
                while at >= 0:
                    if data[at - 1] == 0x0A:  # only at the start of a line (at > begin)
                        found.append(at)
                    at = find(RUNNING, at + len(RUNNING), size)
                return found
            probes, since = 0, at
        at = find(QUOTE, at + 1, size)
    return found


class ProgressFile:
    """Appends progress as JSON lines to ``<run>/spilot-progress.jsonl`` (for dashboards)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / PROGRESS_FILE
        run_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, progress: Progress) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(progress)) + "\n")


def read_progress(run_dir: Path) -> list[Progress]:
    path = run_dir / PROGRESS_FILE
    if not path.is_file():
        return []
    return [Progress(**json.loads(line)) for line in path.read_text().splitlines() if line]
