"""Atomic file writes: a reader or a crash sees the old file or the new one, never half of one.

Temporary files start with ``.`` in the target's own folder (same filesystem, so the rename is
atomic); every reader of a spilot folder ignores names starting with ``.``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask (``0o644`` under 022)."""
    global _FILE_MODE
    if _FILE_MODE is None:
        try:
            status = Path("/proc/self/status").read_text()
            umask = int(next(ln.split()[1] for ln in status.splitlines() if ln[:6] == "Umask:"), 8)
        except (OSError, StopIteration, ValueError):  # not Linux: read it the racy way, once
            umask = os.umask(0o022)
            os.umask(umask)
        _FILE_MODE = 0o666 & ~umask
    return _FILE_MODE


_FILE_MODE: int | None = None


def _write_temp(path: Path, data: bytes, durable: bool) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; a release area is shared by a team, so honour the umask.
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def fsync_dir(folder: Path) -> None:
    """Make the names in ``folder`` (a file just created or renamed) survive a power cut."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomic(path: Path, text: str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``text``; ``durable`` also survives a power cut (fsync)."""
    write_atomic_bytes(path, text.encode(), durable=durable)


def write_atomic_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data``; ``durable`` also survives a power cut (fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path, data, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def write_new(path: Path, text: str) -> bool:
    """Create ``path`` with ``text`` only if it does not exist yet; False when it did.

    The exactly-once rule of acks: whoever renames first wins, and nothing is overwritten
    (a hard link fails on an existing name, where a rename would replace it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path, text.encode(), durable=False)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True
