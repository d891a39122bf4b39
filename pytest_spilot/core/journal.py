"""The release journal: append-only JSON Lines, one file per writing process, one line per event.

Writing an event never reads anything and takes no lock: each process appends to a file of its
own (``<pid>-<token>@<host>.jsonl``), so a result costs the same in a release of 10,000
validations as in one of 300, and the scheme holds on NFS. Each line goes out in one
``write()`` on an ``O_APPEND`` descriptor, so a process killed at any instant leaves every line
it finished whole; at most its last line is torn, and readers skip that one with a warning.
A background thread fsyncs at most every ``SYNC_S`` (group commit), bounding what a machine
crash can lose; closing the journal syncs and writes the closing line.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, RootModel, TypeAdapter, ValidationError

from pytest_spilot.atomic import file_mode, fsync_dir
from pytest_spilot.core.state import (
    JobHandle,
    Progress,
    RegressionRecord,
    RunRecord,
    ThresholdRecord,
    ValidationInfo,
    Verdict,
    _Record,
    now,
)
from pytest_spilot.redact import Redactor

SUFFIX = ".jsonl"
SYNC_S = 0.1


class _Event(_Record):
    ts: datetime = Field(default_factory=now)


class ProcessStarted(_Event):
    """The first line of every journal file: who writes it, where, with what."""

    event: Literal["process_started"] = "process_started"
    version: str
    host: str
    pid: int
    worker: str
    plugin_version: str
    git_commit: str | None = None
    python: str = ""


class ProcessFinished(_Event):
    """The last line of a journal file that was closed (not killed)."""

    event: Literal["process_finished"] = "process_finished"


class RunStarted(_Event):
    """A validation's job starts here (``worker`` on ``host``, launched to ``location``)."""

    event: Literal["run_started"] = "run_started"
    validation: ValidationInfo
    started: datetime
    worker: str
    host: str
    location: str
    log: str | None = Field(None, description="the job's log, followed while it runs")
    rerun: str = Field("", description="a shell command that runs this validation again")


class ValidationsPlanned(_Event):
    """What one test run will run, in order (written once per test run, for live views)."""

    event: Literal["planned"] = "planned"
    session: str = Field(description="the test run (pytest-xdist's testrun uid)")
    validations: list[ValidationInfo]


class RunWaiting(_Event):
    """A validation waits before its job can start: a gate's decision, a session slot, a pool."""

    event: Literal["waiting"] = "waiting"
    key: str
    worker: str
    waiting_for: str


class RunSkipped(_Event):
    """A validation of this test run that will not run (already passed on resume, a skip mark)."""

    event: Literal["skipped"] = "skipped"
    key: str
    reason: str


class RunFinished(_Event):
    event: Literal["run_finished"] = "run_finished"
    key: str
    run: RunRecord
    verdict: Verdict = Field(description="the validation's overall verdict after this event")


class ThresholdJudged(_Event):
    event: Literal["threshold_judged"] = "threshold_judged"
    key: str
    run_started: datetime = Field(description="the run the threshold was judged on")
    threshold: ThresholdRecord
    verdict: Verdict


class RegressionJudged(_Event):
    event: Literal["regression_judged"] = "regression_judged"
    key: str
    run_started: datetime
    regressions: RegressionRecord
    verdict: Verdict


class GateDecided(_Event):
    event: Literal["gate_decided"] = "gate_decided"
    key: str
    outcome: Literal["passed", "failed"]
    message: str = ""


class StepProgress(_Event):
    """A LibreLane run of the validation moved on (step ``i/n``, stage, percent)."""

    event: Literal["progress"] = "progress"
    key: str
    run_started: datetime
    progress: Progress


class JobStarted(_Event):
    """The running validation started a job (a resume after a crash ends it)."""

    event: Literal["job_started"] = "job_started"
    key: str
    run_started: datetime
    job: JobHandle


class ToolSeen(_Event):
    """A tool a run used, with the version it answered (once per process and tool)."""

    event: Literal["tool_seen"] = "tool_seen"
    name: str
    version: str


Event = Annotated[
    ProcessStarted
    | ProcessFinished
    | ValidationsPlanned
    | RunWaiting
    | RunSkipped
    | RunStarted
    | RunFinished
    | ThresholdJudged
    | RegressionJudged
    | GateDecided
    | StepProgress
    | JobStarted
    | ToolSeen,
    Field(discriminator="event"),
]


class JournalLine(RootModel[Event]):
    """One line of a release journal (``spilot schema journal``)."""

    # Every variant is an object; saying so lets validators reject a bare value early.
    model_config = ConfigDict(json_schema_extra={"type": "object"})


_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


def file_name(pid: int, host: str) -> str:
    return f"{pid}-{secrets.token_hex(4)}@{host}{SUFFIX}"


def _writer_of(path: Path) -> tuple[int, str] | None:
    stem, _, host = path.name.removesuffix(SUFFIX).rpartition("@")
    pid = stem.split("-", 1)[0]
    return (int(pid), host) if pid.isdigit() else None


def git_commit(folder: Path) -> str | None:
    """HEAD of the repository holding ``folder``; None outside one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


class JournalWriter:
    """This process's journal file of one release, created on the first event."""

    def __init__(
        self,
        folder: Path,
        version: str,
        worker: str,
        plan_root: Path,
        secrets: Redactor | None = None,
    ) -> None:
        self.folder = folder
        self.secrets = secrets or Redactor()
        self.version = version
        self.worker = worker
        self.plan_root = plan_root
        self.host = socket.gethostname()
        self.path: Path | None = None
        self._fd: int | None = None
        self._dirty = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None

    def write(self, event: _Event) -> None:
        """Append one event as one line, in one ``write()``."""
        # Every result, message and command line of the release passes here on its way to disk.
        line = self.secrets.text(event.model_dump_json()).encode() + b"\n"
        with self._lock:
            if self._fd is None:
                self._open()
            assert self._fd is not None
            os.write(self._fd, line)
            self._dirty = True

    def _open(self) -> None:
        from pytest_spilot import __version__

        self.folder.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        self.path = self.folder / file_name(pid, self.host)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, file_mode())
        header = ProcessStarted(
            version=self.version,
            host=self.host,
            pid=pid,
            worker=self.worker,
            plugin_version=__version__,
            git_commit=git_commit(self.plan_root),
            python=sys.version.split()[0],
        )
        os.write(self._fd, header.model_dump_json().encode() + b"\n")
        fsync_dir(self.folder)  # the file's name survives a crash too
        self._stop.clear()
        self._syncer = threading.Thread(target=self._sync_loop, name="spilot-journal", daemon=True)
        self._syncer.start()

    def _sync_loop(self) -> None:
        while not self._stop.wait(SYNC_S):
            self.sync()

    def sync(self) -> None:
        # fsync outside the lock: on a shared (NFS) release area it can take milliseconds,
        # and a result being written must not wait for it. Only close() closes the fd, after
        # the syncer has stopped.
        with self._lock:
            fd = self._fd if self._dirty else None
            self._dirty = False
        if fd is not None:
            os.fsync(fd)

    def close(self) -> None:
        """Write the closing line and sync; a later event opens a new file."""
        if self._fd is None:
            return
        self.write(ProcessFinished())
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join()
        self.sync()
        with self._lock:
            os.close(self._fd)
            self._fd = None


@dataclass
class JournalFile:
    """One journal file as read: its whole lines' events and whether its writer is done."""

    path: Path
    events: list[_Event] = field(default_factory=list)
    finished: bool = False  # closed, or its writer is gone: nothing more will be appended
    warnings: list[str] = field(default_factory=list)


def read_journal(folder: Path) -> Iterator[JournalFile]:
    """Every journal file of ``folder`` (names starting with ``.`` are skipped)."""
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.name[0] != ".")
    except FileNotFoundError:
        return
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # folded and removed by another reader meanwhile
            continue
        yield _parse(path, data)


def parse_line(path: Path, number: int, line: bytes) -> Event | str:
    """One whole line of journal file ``path``: its event, or why it is skipped (a warning)."""
    try:
        return _EVENT.validate_json(line)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "line"
        return (
            f"{path}:{number}: not a journal event ({where}: {first['msg']}); skipped it "
            "(a line edited by hand or written by another tool)"
        )


def _parse(path: Path, data: bytes) -> JournalFile:
    read = JournalFile(path)
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a whole line
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parsed = parse_line(path, number, line)
        if isinstance(parsed, str):
            read.warnings.append(parsed)
        else:
            read.events.append(parsed)
    read.finished = bool(read.events) and isinstance(read.events[-1], ProcessFinished)
    if not read.finished:
        read.finished = not writer_alive(path)
    if tail and read.finished:
        read.warnings.append(
            f"{path}:{len(lines) + 1}: skipped a torn last line ({len(tail)} bytes): its writer "
            "was killed while writing it; that one event is lost, every line before it is kept"
        )
    return read


def writer_alive(path: Path) -> bool:
    """Whether the process writing ``path`` may still append (unknown hosts: assume it may)."""
    writer = _writer_of(path)
    if writer is None:
        return False
    pid, host = writer
    return host != socket.gethostname() or process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host lives (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed writer whose parent died too stays a zombie where PID 1 does not reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"
