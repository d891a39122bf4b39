"""Following a journal folder: only new whole lines, each byte read once, files come and go."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_spilot.core.journal import (
    JournalWriter,
    ProcessFinished,
    ProcessStarted,
    RunStarted,
    RunWaiting,
    file_name,
)
from pytest_spilot.core.state import ValidationInfo
from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.live import follower
from pytest_spilot.live.follower import JournalTail


def started(key: str) -> RunStarted:
    info = ValidationInfo(key=key, id=key, name=key, file="f.yaml", kind="command")
    return RunStarted(
        validation=info, started=datetime.now(UTC), worker="gw0", host="h", location="local"
    )


def kinds(polled: follower.Polled) -> list[str]:
    return [event.event for _, event in polled.events]


def dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_each_poll_returns_only_the_new_whole_events(tmp_path: Path) -> None:
    folder = tmp_path / "v1.journal"
    tail = JournalTail(folder)
    assert not tail.poll()  # no folder yet: nothing, no error
    writer = JournalWriter(folder, "v1", "gw0", tmp_path)
    writer.write(started("a"))
    assert kinds(tail.poll()) == ["process_started", "run_started"]
    assert not tail.poll()
    writer.write(RunWaiting(key="b", worker="gw0", waiting_for="gate g"))
    assert kinds(tail.poll()) == ["waiting"]
    assert tail.running
    writer.close()
    polled = tail.poll()
    assert kinds(polled) == ["process_finished"]
    assert [f.path for f in polled.finished] == [writer.path]
    assert not tail.running


def test_a_line_being_written_waits_for_its_end_and_is_read_once(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "v1", "gw0", tmp_path)
    writer.write(started("a"))
    assert writer.path is not None
    tail = JournalTail(tmp_path)
    tail.poll()
    line = RunWaiting(key="a", worker="gw0", waiting_for="a slot").model_dump_json().encode()
    with writer.path.open("ab") as fh:
        fh.write(line[:20])  # the writer is in the middle of its write()
        fh.flush()
        polled = tail.poll()
        assert not polled.events and not polled.warnings
        fh.write(line[20:] + b"\n")
    polled = tail.poll()
    assert kinds(polled) == ["waiting"]
    assert not polled.warnings
    assert not tail.poll()


def test_cost_is_the_new_bytes_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []
    real = os.pread

    def counting(fd: int, n: int, offset: int) -> bytes:
        data = real(fd, n, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(follower.os, "pread", counting)
    writer = JournalWriter(tmp_path, "v1", "gw0", tmp_path)
    tail = JournalTail(tmp_path)
    events = 0
    for i in range(50):
        writer.write(started(f"k{i}"))
        events += len(tail.poll().events)
    assert writer.path is not None
    assert sum(read) == writer.path.stat().st_size  # no byte read twice
    assert events == 51  # the header and 50 runs


def test_files_appear_and_a_folded_file_still_gives_its_last_lines(tmp_path: Path) -> None:
    document = tmp_path / "v1.json"
    store = ReleaseStore(document, "v1")
    tail = JournalTail(store.journal_dir)
    first = store.writer("gw0", tmp_path)
    first.write(started("a"))
    assert kinds(tail.poll()) == ["process_started", "run_started"]
    second = store.writer("gw1", tmp_path)
    second.write(started("b"))
    first.write(started("c"))
    first.close()  # done: the fold below removes it, with lines this tail has not read yet
    second.close()
    store.fold()
    assert not list(store.journal_dir.glob("*.jsonl"))
    polled = tail.poll()
    # The first file was open here: its last lines come through the descriptor. The second
    # appeared and went between two polls: its events are in the document the fold wrote.
    assert kinds(polled) == ["run_started", "process_finished"]
    assert [f.path for f in polled.removed] == [first.path]
    assert not polled.warnings
    assert tail.files == {} and not tail.poll()


def test_a_dead_writers_torn_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / file_name(dead_pid(), socket.gethostname())
    header = ProcessStarted(
        version="v1", host="h", pid=1, worker="gw0", plugin_version="0", python="3"
    )
    path.write_bytes(header.model_dump_json().encode() + b"\n" + b'{"event": "run_st')
    tail = JournalTail(tmp_path)
    polled = tail.poll()
    assert kinds(polled) == ["process_started"]
    assert [f.path for f in polled.finished] == [path]
    [warning] = polled.warnings
    assert f"{path}:2: skipped a torn last line (17 bytes)" in warning
    assert not tail.running


def test_a_foreign_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "v1", "gw0", tmp_path)
    writer.write(started("a"))
    assert writer.path is not None
    with writer.path.open("ab") as fh:
        fh.write(b'{"event": "no_such_event"}\n')
    writer.write(ProcessFinished())
    polled = JournalTail(tmp_path).poll()
    assert kinds(polled) == ["process_started", "run_started", "process_finished"]
    [warning] = polled.warnings
    assert warning.startswith(f"{writer.path}:3: not a journal event")
