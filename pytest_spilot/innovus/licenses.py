"""Licence slots: at most N live sessions at once across every process that shares a folder.

Each slot is a lock file; a session holds one from before it starts until its process ended.
xdist workers of one run (and other runs in the same checkout) share ``.spilot/licenses/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from pytest_spilot.errors import SpilotError

RETRY_S = 0.1


class LicenseSlots:
    def __init__(self, folder: Path, count: int) -> None:
        if count < 1:
            raise SpilotError(f"--spilot-innovus-licenses {count}: give at least 1")
        self.folder = folder
        self.count = count

    def acquire(
        self, timeout_s: float | None = None, on_wait: Callable[[str], None] | None = None
    ) -> FileLock:
        """A held slot (release it with ``.release()``); SpilotError after ``timeout_s``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        locks = [FileLock(str(self.folder / f"slot-{i}.lock")) for i in range(self.count)]
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        told = False
        while True:
            for lock in locks:
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    continue
                return lock
            if not told and on_wait is not None:
                on_wait(
                    f"waiting for an Innovus licence slot: all {self.count} in use "
                    f"(--spilot-innovus-licenses {self.count}, slots in {self.folder})"
                )
                told = True
            if deadline is not None and time.monotonic() > deadline:
                raise SpilotError(
                    f"no Innovus licence slot free within {timeout_s:g} s "
                    f"(--spilot-innovus-licenses {self.count})"
                )
            time.sleep(RETRY_S)
