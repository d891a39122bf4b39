"""Token pools on file systems that lock differently (NFS), per-host CPUs, torn tickets."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path

import pytest

import pytest_spilot.resources.pools as pools
from pytest_spilot.errors import SpilotError
from pytest_spilot.resources import CPUS, TokenPool, license_pool

LIC = license_pool("innovus")
_flock = fcntl.flock


def _nfs_flock(fd: int, op: int) -> None:
    """flock as NFS emulates it (an fcntl lock): an exclusive lock needs a writable file."""
    if op & fcntl.LOCK_EX and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    _flock(fd, op)


def test_pools_work_where_an_exclusive_lock_needs_a_writable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pools.fcntl, "flock", _nfs_flock)
    pool = TokenPool(tmp_path, {CPUS: 2, LIC: 1})
    held = pool.acquire({LIC: 1})
    queued = threading.Event()
    got: list[str] = []

    def waiter() -> None:
        with pool.acquire({LIC: 1, CPUS: 2}, on_wait=lambda _: queued.set(), timeout_s=10):
            got.append("waiter")

    thread = threading.Thread(target=waiter)
    thread.start()
    assert queued.wait(5)
    # The queued waiter is seen: the CPUs it needs are kept for it.
    assert pool.waiting_for(LIC) and pool.waiting_for(CPUS)
    assert pool.try_acquire({CPUS: 1}) is None
    held.release()
    thread.join(10)
    assert got == ["waiter"]


def test_a_folder_that_cannot_lock_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(pools.fcntl, "flock", no_locks)
    with pytest.raises(SpilotError) as caught:
        TokenPool(tmp_path, {CPUS: 2}).acquire({CPUS: 1})
    assert str(caught.value) == (
        f"resource pools in {tmp_path}: cannot lock token files (No locks available); the "
        "folder must be writable by this user, on a local disk or an NFS mount with working locks"
    )


def test_cpus_are_per_host_licences_site_wide(tmp_path: Path) -> None:
    here, there = TokenPool(tmp_path, {CPUS: 2, LIC: 1}), TokenPool(tmp_path, {CPUS: 2, LIC: 1})
    there.host = "another-host"
    with here.acquire({CPUS: 2, LIC: 1}):
        assert there.try_acquire({LIC: 1}) is None
        other = there.try_acquire({CPUS: 2})
        assert other is not None and other.counts == {CPUS: 2}
        other.release()


def test_a_ticket_that_cannot_be_written_leaves_no_file_and_no_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = TokenPool(tmp_path, {CPUS: 1})
    held = pool.acquire({CPUS: 1})
    write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if data.startswith(b'{"cpus"'):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(fd, data)

    fds = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(pools.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        pool.acquire({CPUS: 1}, timeout_s=1)
    monkeypatch.undo()
    assert len(os.listdir("/proc/self/fd")) == fds
    assert not list((tmp_path / "queue").iterdir())
    held.release()


def test_waiting_for_names_the_pools_live_waiters_queue_for(tmp_path: Path) -> None:
    pool = TokenPool(tmp_path, {CPUS: 2, LIC: 1})
    held = pool.acquire({LIC: 1})
    assert not pool.waiting_for(LIC)
    queued = threading.Event()
    thread = threading.Thread(
        target=lambda: pool.acquire({LIC: 1}, on_wait=lambda _: queued.set()).release()
    )
    thread.start()
    assert queued.wait(5)
    assert pool.waiting_for(LIC) and not pool.waiting_for(CPUS)
    held.release()
    thread.join(5)
    assert not pool.waiting_for(LIC)
