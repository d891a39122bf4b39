"""Looking for processes in /proc: what a test checks after killing something."""

from __future__ import annotations

from pathlib import Path


def live_pids_with(marker: str) -> list[int]:
    """Non-zombie processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() not in (entry / "cmdline").read_bytes():
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
        except OSError:
            continue
    return found
