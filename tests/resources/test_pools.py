"""Token pools: all or nothing, earlier big waiters first, tokens freed by a holder's death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.resources import CPUS, TokenPool, license_pool

LIC = license_pool("innovus")


def test_all_or_nothing_and_freed_on_release(tmp_path: Path) -> None:
    pool = TokenPool(tmp_path, {CPUS: 4, LIC: 1})
    first = pool.acquire({CPUS: 3})
    assert first.counts == {CPUS: 3}
    assert pool.try_acquire({CPUS: 2}) is None
    # Nothing of a refused request is kept: the licence it also asked for stays free.
    assert pool.try_acquire({CPUS: 2, LIC: 1}) is None
    rest = pool.try_acquire({CPUS: 1, LIC: 1})
    assert rest is not None
    rest.release()
    first.release()
    first.release()  # a second release does nothing
    with pool.acquire({CPUS: 2, LIC: 1}) as second:
        assert second.counts == {CPUS: 2, LIC: 1}
        assert pool.try_acquire({LIC: 1}) is None
        assert pool.try_acquire({CPUS: 3}) is None
    with pool.acquire({CPUS: 4, LIC: 1}, timeout_s=1) as whole:
        assert whole.counts == {CPUS: 4, LIC: 1}


def test_a_waiter_is_told_what_it_waits_for_and_times_out(tmp_path: Path) -> None:
    pool = TokenPool(tmp_path, {CPUS: 2})
    held = pool.acquire({CPUS: 2})
    told: list[str] = []
    with pytest.raises(SpilotError, match=r"not free within 0\.2 s: waiting for 1 cpus"):
        pool.acquire({CPUS: 1}, on_wait=told.append, timeout_s=0.2)
    assert told == ["1 cpus (0 of 2 free)"]
    held.release()
    assert not list((tmp_path / "queue").iterdir()), "the gone waiter left its ticket"


def test_a_big_waiter_is_not_starved_by_later_small_ones(tmp_path: Path) -> None:
    pool = TokenPool(tmp_path, {CPUS: 4})
    small = pool.acquire({CPUS: 3})
    got: list[str] = []
    queued = threading.Event()

    def big() -> None:
        with pool.acquire({CPUS: 4}, on_wait=lambda _: queued.set()):
            got.append("big")

    thread = threading.Thread(target=big)
    thread.start()
    assert queued.wait(5)
    # One CPU is free, but the earlier waiter needs it: a later small request must wait.
    told: list[str] = []
    assert pool.try_acquire({CPUS: 1}) is None
    with pytest.raises(SpilotError):
        pool.acquire({CPUS: 1}, on_wait=told.append, timeout_s=0.2)
    assert "1 kept for earlier waiters" in told[0]
    small.release()
    thread.join(5)
    assert got == ["big"]


def test_later_requests_pass_where_they_need_nothing_an_earlier_one_waits_for(
    tmp_path: Path,
) -> None:
    pool = TokenPool(tmp_path, {CPUS: 2, LIC: 1})
    licence = pool.acquire({LIC: 1})
    queued = threading.Event()
    done = threading.Event()

    def wants_licence() -> None:
        with pool.acquire({LIC: 1}, on_wait=lambda _: queued.set()):
            done.set()

    thread = threading.Thread(target=wants_licence)
    thread.start()
    assert queued.wait(5)
    cpus = pool.try_acquire({CPUS: 2})
    assert cpus is not None
    cpus.release()
    licence.release()
    thread.join(5)
    assert done.is_set()


def test_crossing_requests_never_deadlock(tmp_path: Path) -> None:
    pool = TokenPool(tmp_path, {CPUS: 2, LIC: 1, license_pool("genus"): 1})
    wants = [
        {CPUS: 1, LIC: 1},
        {license_pool("genus"): 1, CPUS: 2},
        {LIC: 1, license_pool("genus"): 1},
        {CPUS: 1},
    ]
    live = {CPUS: 0, LIC: 0, license_pool("genus"): 0}
    worst = dict(live)
    lock = threading.Lock()

    def worker(want: dict[str, int]) -> None:
        for _ in range(10):
            with pool.acquire(want, timeout_s=20):
                with lock:
                    for k, n in want.items():
                        live[k] += n
                        worst[k] = max(worst[k], live[k])
                time.sleep(0.002)
                with lock:
                    for k, n in want.items():
                        live[k] -= n

    threads = [threading.Thread(target=worker, args=(w,)) for w in wants * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert worst == {CPUS: 2, LIC: 1, license_pool("genus"): 1}


def test_a_request_beyond_its_pool_is_an_error_and_unknown_pools_are_not_capped(
    tmp_path: Path,
) -> None:
    pool = TokenPool(tmp_path, {LIC: 1})
    with pytest.raises(SpilotError, match="licence innovus 2 of a pool of 1"):
        pool.acquire({LIC: 2})
    assert pool.acquire({license_pool("calibre"): 5}).counts == {}
    with pytest.raises(SpilotError, match="at least 1 token"):
        TokenPool(tmp_path, {CPUS: 0})


HOLDER = """
import sys, time
from pathlib import Path
from pytest_spilot.resources import TokenPool
pool = TokenPool(Path(sys.argv[1]), {"cpus": 2})
held = pool.acquire({"cpus": int(sys.argv[2])})
print("held", flush=True)
time.sleep(60)
"""


def _holder(tmp_path: Path, cpus: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), str(cpus)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_sigkilled_holders_tokens_are_free_at_once(tmp_path: Path) -> None:
    holder = _holder(tmp_path, 2)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        pool = TokenPool(tmp_path, {CPUS: 2})
        assert pool.try_acquire({CPUS: 1}) is None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(5)
        with pool.acquire({CPUS: 2}, timeout_s=5) as held:
            assert held.counts == {CPUS: 2}
    finally:
        holder.kill()
        holder.wait()


def test_a_sigkilled_waiter_leaves_no_place_in_the_queue(tmp_path: Path) -> None:
    pool = TokenPool(tmp_path, {CPUS: 2})
    held = pool.acquire({CPUS: 1})
    waiter = _holder(tmp_path, 2)  # queues: one of two is held here
    try:
        deadline = time.monotonic() + 10
        while not list((tmp_path / "queue").glob("*.json")):
            assert time.monotonic() < deadline, "the waiter never queued"
            time.sleep(0.02)
        # Its ticket keeps the free CPU for it ...
        assert pool.try_acquire({CPUS: 1}) is None
        os.kill(waiter.pid, signal.SIGKILL)
        waiter.wait(5)
        # ... until it dies: then the ticket is dropped and the CPU is free.
        again = pool.try_acquire({CPUS: 1})
        assert again is not None
        again.release()
        assert not list((tmp_path / "queue").glob("*.json"))
    finally:
        waiter.kill()
        waiter.wait()
        held.release()
