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
from pathlib import Path
from typing import BinaryIO

PROGRESS_FILE = "spilot-progress.jsonl"
RUNNING = b"Running '"
COMPLETE = b"Flow complete."
ERROR = b"The following error was encountered while running the flow:"
# The end of a flow ("Flow complete." or the error and its message, perhaps a traceback) is
# the last thing it writes: it is looked for only in the last 4 KiB of each read. Every pass
# over the data costs as much as a whole grep; this keeps following a log at one pass. (The
# runner takes a failure's message from the run itself too, so a longer tail loses nothing.)
END_WINDOW = 4 * 1024

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

    Only the newly appended bytes are scanned, with ``bytes.find`` for the few markers, so
    following a long log costs about what one ``grep`` over it costs.
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
        self._fh: BinaryIO | None = None

    def poll(self) -> Progress | None:
        """Scan what was appended since the last call; the latest progress, if any."""
        if self._fh is None:
            try:
                self._fh = self.log_path.open("rb")  # kept open: a poll is then one read()
            except FileNotFoundError:
                return self.last
        data = self._fh.read()
        if not data:
            return self.last
        self.offset += len(data)
        start = 0
        if self.pending:  # finish the line cut at the last read, without copying the rest
            newline = data.find(b"\n")
            if newline < 0:
                self.pending += data
                return self.last
            head, self.pending = self.pending + data[: newline + 1], b""
            self._scan(head, 0, len(head))
            start = newline + 1
        cut = data.rfind(b"\n") + 1
        self.pending = data[max(cut, start) :]
        if cut > start:
            self._scan(data, start, cut)
        return self.last

    def finish(self) -> Progress | None:
        """Scan the rest, including a last line without a newline."""
        self.poll()
        if self.pending:
            tail, self.pending = self.pending + b"\n", b""
            self._scan(tail, 0, len(tail))
        if self._fh is not None:
            self._fh.close()
            self._fh = None
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

    def _scan(self, data: bytes, begin: int, size: int) -> None:
        """Scan ``data[begin:size]``: whole lines."""
        if self._in_error:
            self._error_message(data[:size], begin)
        events: list[tuple[int, bytes]] = []
        end_from = max(begin, size - END_WINDOW)
        for marker, start in ((RUNNING, begin), (COMPLETE, end_from), (ERROR, end_from)):
            at = data.find(marker, start, size)
            while at >= 0:
                if at == begin or data[at - 1] == 0x0A:  # only at the start of a line
                    events.append((at, marker))
                at = data.find(marker, at + len(marker), size)
        for at, marker in sorted(events):
            end = data.find(b"\n", at, size)
            line = data[at : end if end >= 0 else size].decode("utf-8", "replace")
            if marker is RUNNING:
                self._running(line[len("Running '") :].split("'", 1)[0])
            elif marker is COMPLETE:
                self._emit("complete", len(self.steps), "", "complete", 100.0)
            elif marker is ERROR:
                self._error_message(data[:size], end + 1 if end >= 0 else size)

    def _running(self, step: str) -> None:
        i = self.index.get(step)
        if i is None:  # a step outside the known list: say where we are, keep the position
            prior = self.last.step_index if self.last else 0
            stage = self.last.stage if self.last else STAGES[0]
            self._emit("running", prior, step, stage, self._percent(max(prior - 1, 0)))
            return
        self._emit("running", i + 1, step, self.stages[i], self._percent(i))

    def _error_message(self, data: bytes, start: int) -> None:
        # The failure's message is the next non-empty line (it may come in the next chunk).
        for raw in data[start:].split(b"\n"):
            text = raw.decode("utf-8", "replace").strip()
            if text:
                self._in_error = False
                self.failure = text
                self.fail(text)
                return
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
