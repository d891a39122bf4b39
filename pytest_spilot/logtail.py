"""The last lines of a log, read from its end: an Innovus log can be gigabytes long."""

from __future__ import annotations

import os
from pathlib import Path

MAX_TAIL_BYTES = 256 * 1024  # a tail for a human: a longer one is cut at its first line
_BLOCK = 64 * 1024


def tail_lines(
    path: Path, n: int, *, strip: bool = False, max_bytes: int = MAX_TAIL_BYTES
) -> list[str]:
    """The last ``n`` lines of ``path`` (at most ``max_bytes`` read), [] if it cannot be read."""
    if n <= 0:
        return []
    try:
        with path.open("rb") as fh:
            pos = fh.seek(0, os.SEEK_END)
            data = b""
            # One newline more than n lines: the first of them is then complete.
            while pos > 0 and len(data) < max_bytes:
                step = min(_BLOCK, pos, max_bytes - len(data))
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
                if (data.rstrip() if strip else data).count(b"\n") > n:
                    break
    except OSError:
        return []
    text = data.decode("utf-8", "replace")
    if strip:
        # As str.strip() on the whole file: the start only counts if it was read.
        text = text.rstrip() if pos > 0 else text.strip()
    return text.splitlines()[-n:]
