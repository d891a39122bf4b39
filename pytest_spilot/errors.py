"""Errors the harness reports to people: one paragraph naming the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path


class SpilotError(Exception):
    """An error whose message is meant for the user as it stands (no traceback needed)."""


class PlanError(SpilotError):
    """A validation file (or another input file) that cannot be used as written."""

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        what = f" {field}:" if field else ""
        super().__init__(f"{where}:{what} {message}")


class PlanErrors(SpilotError):
    """Several independent problems in one file, reported together."""

    def __init__(self, errors: list[PlanError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
