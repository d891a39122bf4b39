"""What a flow's child process tells its parent, as files beside LibreLane's run folder
(LibreLane may delete and recreate its own folder when it starts)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_spilot.atomic import write_atomic

STEPS_FILE = "spilot-steps.json"  # the flow's step ids, before the first step
RESULT_FILE = "spilot-result.json"  # status (passed, failed, error), message, error class


def announce_steps(run_dir: Path, steps: list[str]) -> None:
    write_atomic(run_dir / STEPS_FILE, json.dumps(steps), durable=False)


def read_steps(run_dir: Path) -> list[str] | None:
    try:
        return list(json.loads((run_dir / STEPS_FILE).read_text()))
    except (OSError, ValueError):
        return None


def write_result(run_dir: Path, status: str, message: str = "", error: str = "") -> None:
    data = {"status": status, "message": message, "error": error}
    write_atomic(run_dir / RESULT_FILE, json.dumps(data), durable=False)


def read_result(run_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((run_dir / RESULT_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def child_main(argv: list[str], module: str, run: Callable[[dict[str, Any]], int]) -> int:
    """The entry point of a flow's child program: ``python -m MODULE SPEC.json``."""
    if len(argv) != 1:
        print(f"usage: python -m {module} SPEC.json", file=sys.stderr)
        return 1
    return run(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
