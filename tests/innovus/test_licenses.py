"""Licence slots: N holders at most, a waiter told once, a timeout that names the option."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.licenses import LicenseSlots


def test_slots_cap_holders_and_free_on_release(tmp_path: Path) -> None:
    slots = LicenseSlots(tmp_path, 2)
    first, second = slots.acquire(), slots.acquire()
    told: list[str] = []
    with pytest.raises(SpilotError, match="--spilot-innovus-licenses 2"):
        slots.acquire(timeout_s=0.3, on_wait=told.append)
    assert len(told) == 1 and "waiting for an Innovus licence slot" in told[0]

    for lock in (first, second):
        lock.release()


def test_a_waiter_gets_the_slot_when_it_is_released(tmp_path: Path) -> None:
    slots = LicenseSlots(tmp_path, 1)
    held = threading.Event()

    def hold() -> None:  # filelock's locks belong to the thread that took them
        lock = slots.acquire()
        held.set()
        time.sleep(0.3)
        lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    started = time.monotonic()
    lock = slots.acquire(timeout_s=5)
    assert time.monotonic() - started > 0.1
    lock.release()
    holder.join()


def test_at_least_one_slot(tmp_path: Path) -> None:
    with pytest.raises(SpilotError, match="at least 1"):
        LicenseSlots(tmp_path, 0)


def test_sessions_and_jobs_draw_on_one_innovus_pool(tmp_path: Path) -> None:
    from pytest_spilot.resources import TokenPool, license_pool

    slots = LicenseSlots(tmp_path, 2)
    jobs = TokenPool(tmp_path, {license_pool("innovus"): 2})
    session = slots.acquire()
    job = jobs.try_acquire({license_pool("innovus"): 1})
    assert job is not None
    with pytest.raises(SpilotError, match=r"no Innovus licence slot free within 0\.2 s"):
        slots.acquire(timeout_s=0.2)
    job.release()
    slots.acquire(timeout_s=1).release()
    session.release()
