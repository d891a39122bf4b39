"""The release journal: one file per process, whole lines, torn tails, group commit, modes."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from pytest_spilot.core.journal import (
    JournalWriter,
    ProcessFinished,
    ProcessStarted,
    RunStarted,
    read_journal,
)
from pytest_spilot.core.state import ValidationInfo


def info(key: str) -> ValidationInfo:
    return ValidationInfo(key=key, id=key, name=key, file="f.yaml", kind="command")


def started(key: str) -> RunStarted:
    return RunStarted(
        validation=info(key),
        started=datetime.now(UTC),
        worker="gw0",
        host="h",
        location="local",
    )


def test_file_appears_with_first_event_and_closes_with_a_line(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path / "j", "v1", "gw0", tmp_path)
    assert not (tmp_path / "j").exists()  # a run that records nothing leaves nothing
    writer.write(started("a"))
    writer.close()
    [journal] = read_journal(tmp_path / "j")
    kinds = [type(e) for e in journal.events]
    assert kinds == [ProcessStarted, RunStarted, ProcessFinished]
    header = journal.events[0]
    assert isinstance(header, ProcessStarted)
    assert (header.pid, header.worker, header.version) == (os.getpid(), "gw0", "v1")
    assert journal.finished and not journal.warnings


def test_open_file_of_a_live_writer_is_not_finished_and_its_partial_line_is_silent(
    tmp_path: Path,
) -> None:
    writer = JournalWriter(tmp_path, "v1", "gw0", tmp_path)
    writer.write(started("a"))
    assert writer.path is not None
    with writer.path.open("ab") as fh:  # a line this process is in the middle of writing
        fh.write(b'{"event": "run_sta')
    [journal] = read_journal(tmp_path)
    assert not journal.finished
    assert journal.warnings == []
    assert [type(e) for e in journal.events] == [ProcessStarted, RunStarted]


def killed_writer(folder: Path, last_bytes: bytes = b"") -> subprocess.Popen[bytes]:
    """A process that writes one event (then ``last_bytes``) to ``folder`` and is SIGKILLed."""
    code = (
        "import sys, os, signal\n"
        "from pathlib import Path\n"
        "from pytest_spilot.core.journal import JournalWriter\n"
        "from test_journal import started\n"
        "w = JournalWriter(Path(sys.argv[1]), 'v1', 'gw1', Path(sys.argv[1]))\n"
        "w.write(started('a'))\n"
        "os.write(w._fd, sys.argv[2].encode())\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    argv = [sys.executable, "-c", code, str(folder), last_bytes.decode()]
    return subprocess.Popen(argv, env=env)


def test_torn_last_line_of_a_killed_writer_is_skipped_with_a_warning(tmp_path: Path) -> None:
    assert killed_writer(tmp_path, b'{"event": "threshold_jud').wait() == -9
    [journal] = read_journal(tmp_path)
    assert journal.finished  # its writer is gone
    assert [type(e) for e in journal.events] == [ProcessStarted, RunStarted]
    [warning] = journal.warnings
    assert "torn last line" in warning and ":3:" in warning


def test_a_killed_writer_left_a_zombie_is_gone(tmp_path: Path) -> None:
    """Where nothing reaps a killed worker (PID 1 of some containers), its pid stays taken."""
    zombie = killed_writer(tmp_path)
    try:
        while os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT) is None:
            pass  # exited but not reaped: a zombie
        [journal] = read_journal(tmp_path)
        assert journal.finished
    finally:
        zombie.wait()


def test_a_foreign_line_is_skipped_with_file_and_line(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, "v1", "gw0", tmp_path)
    writer.write(started("a"))
    assert writer.path is not None
    os.write(writer._fd, b'{"event": "nonsense"}\n')  # type: ignore[arg-type]
    writer.write(started("b"))
    writer.close()
    [journal] = read_journal(tmp_path)
    assert len([e for e in journal.events if isinstance(e, RunStarted)]) == 2
    [warning] = journal.warnings
    assert f"{writer.path}:3: not a journal event" in warning


def write_many(folder: str, worker: int, count: int) -> None:
    writer = JournalWriter(Path(folder), "v1", f"gw{worker}", Path(folder))
    for i in range(count):
        writer.write(started(f"w{worker}-{i}"))
    writer.close()


def test_two_processes_500_events_each_all_present(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_many, args=(str(tmp_path), w, 500)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    files = list(read_journal(tmp_path))
    assert len(files) == 2  # one file per writing process, no shared file, no lock
    keys = {e.validation.key for f in files for e in f.events if isinstance(e, RunStarted)}
    assert len(keys) == 1000


def test_journal_files_honour_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        code = (
            "import sys\nfrom pathlib import Path\n"
            "from pytest_spilot.core.journal import JournalWriter\n"
            "from test_journal import started\n"
            "w = JournalWriter(Path(sys.argv[1]), 'v1', 'gw0', Path(sys.argv[1]))\n"
            "w.write(started('a'))\nw.close()\n"
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
        subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, check=True)
    finally:
        os.umask(old)
    [path] = tmp_path.glob("*.jsonl")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
