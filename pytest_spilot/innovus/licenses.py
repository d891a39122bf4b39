"""Licence slots: at most N live sessions at once across every process that shares a folder.

The ``innovus`` pool of the resource pools (pytest_spilot/resources): a session holds one
token from before it starts until its process ended. xdist workers of one run (and other runs
in the same checkout) share ``.spilot/resources/``, and a validation's own
``resources: {licenses: {innovus: N}}`` draws from the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_spilot.errors import SpilotError
from pytest_spilot.resources import Held, TokenPool, license_pool

INNOVUS = license_pool("innovus")


class LicenseSlots:
    def __init__(self, folder: Path, count: int) -> None:
        if count < 1:
            raise SpilotError(f"--spilot-innovus-licenses {count}: give at least 1")
        self.folder = folder
        self.count = count
        self.pool = TokenPool(folder, {INNOVUS: count})

    def wanted(self) -> bool:
        """Whether a live waiter queues for a slot."""
        return self.pool.waiting_for(INNOVUS)

    def acquire(
        self, timeout_s: float | None = None, on_wait: Callable[[str], None] | None = None
    ) -> Held:
        """A held slot (release it with ``.release()``); SpilotError after ``timeout_s``."""
        told: list[str] = []

        def wait(_short: str) -> None:
            told.append(_short)
            if on_wait is not None:
                on_wait(
                    f"waiting for an Innovus licence slot: all {self.count} in use "
                    f"(--spilot-innovus-licenses {self.count}, slots in {self.folder})"
                )

        try:
            return self.pool.acquire({INNOVUS: 1}, on_wait=wait, timeout_s=timeout_s)
        except SpilotError:
            raise SpilotError(
                f"no Innovus licence slot free within {timeout_s:g} s "
                f"(--spilot-innovus-licenses {self.count})"
            ) from None
