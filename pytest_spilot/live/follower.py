"""Following a release's journal folder as it grows: each poll reads only the bytes added since.

A journal file is append-only and written in whole lines, so a follower keeps, per file, how
far it read and the bytes of a line not yet finished. It keeps a finished file's name (not its
descriptor) so it is never read twice, and a live file's descriptor open, so the rest of a file
that a fold removes (``ReleaseStore.fold`` writes the document, then unlinks the journal files
that are done) is still read through it. A file that appears and is folded away between two
polls was never seen: its events are in the document written before the removal.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from pytest_spilot.core.journal import (
    SUFFIX,
    Event,
    ProcessFinished,
    ProcessStarted,
    parse_line,
    writer_alive,
)

READ_BLOCK = 4 * 1024 * 1024  # one read; a backlog is read in blocks of this size
ALIVE_CHECK_S = 1.0  # how often a silent file's writer is asked whether it still lives


@dataclass
class TailedFile:
    """How far one journal file was read, and by whom it is written."""

    path: Path
    fd: int | None
    offset: int = 0
    line: int = 0  # whole lines read so far
    partial: bytes = b""
    header: ProcessStarted | None = None
    finished: bool = False  # closed, or its writer is gone: nothing more will be appended
    removed: bool = False
    checked: float = 0.0  # when its writer was last asked (0: at the first poll)


@dataclass
class Polled:
    """What one poll found: new events (with the file each came from) and what changed."""

    events: list[tuple[TailedFile, Event]] = field(default_factory=list)
    finished: list[TailedFile] = field(default_factory=list)  # done since the last poll
    removed: list[TailedFile] = field(default_factory=list)  # gone, every line read
    warnings: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.finished or self.removed or self.warnings)


class JournalTail:
    """Incremental reader of one journal folder (``.spilot/<version>.journal/``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, TailedFile] = {}

    @property
    def running(self) -> bool:
        """Whether a file of the folder may still grow (its writer lives)."""
        return any(not f.finished for f in self.files.values() if not f.removed)

    def poll(self) -> Polled:
        """The events written since the last poll, in file order, each file in line order."""
        found = Polled()
        try:
            names = {
                e.name
                for e in os.scandir(self.folder)
                if e.name.endswith(SUFFIX) and not e.name.startswith(".")
            }
        except (FileNotFoundError, NotADirectoryError):
            names = set()
        for name in sorted(names - self.files.keys()):
            try:
                fd = os.open(self.folder / name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            except OSError:  # folded and removed since it was listed, or not a plain file
                continue
            self.files[name] = TailedFile(self.folder / name, fd)
        now = time.monotonic()
        for name, tailed in list(self.files.items()):
            if tailed.fd is not None:
                self._read(tailed, found)
            if name not in names:
                self._forget(name, tailed, found)
            elif not tailed.finished and now - tailed.checked >= ALIVE_CHECK_S:
                tailed.checked = now
                if not writer_alive(tailed.path):
                    self._read(tailed, found)  # the last bytes it wrote before it died
                    self._finish(tailed, found)
        return found

    def close(self) -> None:
        for tailed in self.files.values():
            self._close(tailed)

    def _read(self, tailed: TailedFile, found: Polled) -> None:
        assert tailed.fd is not None
        while True:
            try:
                data = os.pread(tailed.fd, READ_BLOCK, tailed.offset)
            except OSError:
                return
            if not data:
                return
            tailed.offset += len(data)
            data = tailed.partial + data
            cut = data.rfind(b"\n") + 1
            tailed.partial = data[cut:]
            for raw in data[:cut].split(b"\n")[:-1]:
                tailed.line += 1
                if raw.strip():
                    self._parse(tailed, raw, found)
            if tailed.finished:
                return

    def _parse(self, tailed: TailedFile, raw: bytes, found: Polled) -> None:
        event = parse_line(tailed.path, tailed.line, raw)
        if isinstance(event, str):
            found.warnings.append(event)
            return
        if isinstance(event, ProcessStarted) and tailed.header is None:
            tailed.header = event
        found.events.append((tailed, event))
        if isinstance(event, ProcessFinished):
            self._finish(tailed, found)

    def _finish(self, tailed: TailedFile, found: Polled) -> None:
        if tailed.finished:
            return
        tailed.finished = True
        found.finished.append(tailed)
        if tailed.partial:
            found.warnings.append(
                f"{tailed.path}:{tailed.line + 1}: skipped a torn last line "
                f"({len(tailed.partial)} bytes): its writer was killed while writing it; that "
                "one event is lost, every line before it is kept"
            )
            tailed.partial = b""
        self._close(tailed)

    def _forget(self, name: str, tailed: TailedFile, found: Polled) -> None:
        self._finish(tailed, found)
        tailed.removed = True
        found.removed.append(tailed)
        del self.files[name]

    @staticmethod
    def _close(tailed: TailedFile) -> None:
        if tailed.fd is not None:
            os.close(tailed.fd)
            tailed.fd = None
