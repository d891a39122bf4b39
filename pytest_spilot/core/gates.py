"""Gates: checks that must hold before validations are worth running, evaluated once per run.

Under pytest-xdist every worker may need a gate's result (its validations are spread over
workers), yet the gate must run once: the first worker to need it runs it under a file lock
and writes the result; the others read it. Results are keyed by the test run's id
(``testrunuid``), so a file left by an earlier run is never reused.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock

from pytest_spilot.atomic import write_atomic
from pytest_spilot.core.state import RunRecord

STALE_S = 24 * 3600.0  # result folders of runs older than this are removed


@dataclass(frozen=True)
class GateVerdict:
    """A Python gate's answer: whether it holds, and in one line why (or why not)."""

    ok: bool
    message: str = ""


class GateCheck(Protocol):
    """A gate written in Python; YAML names it as ``{kind: python, check: NAME, args: {...}}``."""

    name: str

    def check(self, args: Mapping[str, Any]) -> GateVerdict:
        """Decide the gate; an exception counts as a failure with its message."""
        ...


class GateBoard:
    """Each gate's record, evaluated by the first process that asks and shared with the rest."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.folder = root / run_id

    def decided(self, key: str) -> bool:
        """Whether the gate's record is on the board already (reading it will not wait)."""
        return self._path(key).is_file()

    def record(self, key: str, evaluate: Callable[[], RunRecord]) -> tuple[RunRecord, bool]:
        """The gate's record and whether this call evaluated it (False: read from the board)."""
        path = self._path(key)
        name = path.stem
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
            _remove_stale(self.root, keep=self.folder)
        with FileLock(str(self.folder / f"{name}.lock")):
            if path.is_file():
                return RunRecord.model_validate_json(path.read_text(encoding="utf-8")), False
            record = evaluate()
            write_atomic(path, record.model_dump_json())
            return record, True

    def _path(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"


def _remove_stale(root: Path, keep: Path) -> None:
    cutoff = time.time() - STALE_S
    for folder in root.iterdir():
        try:
            if folder != keep and folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
