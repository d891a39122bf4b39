"""The evidence matrix (``--spilot-evidence PATH``): each migration gate's claims and verdict.

Its models are the file format; ``spilot schema evidence`` prints their JSON Schema.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_spilot.errors import SpilotError

EvidenceVerdict = Literal["pass", "fail", "insufficient_evidence"]
COMPATIBILITY_FILE = "compatibility.json"  # a migration gate's result, in its run directory


class _Model(BaseModel):
    # Built where a migration gate ran, not by every run's reporter that imports them.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Claim(_Model):
    """One row of the evidence matrix."""

    claim: str = Field(description="what is claimed, e.g. 'noop_acked_pass', 'parity:drc_health'")
    verdict: EvidenceVerdict
    code: str = Field(description="the issue code this claim blocks with when it is not 'pass'")
    detail: str = ""
    inputs: dict[str, str] = Field(
        default_factory=dict, description="input name → 'sha256:<hex>' of what was judged"
    )
    blocking: bool = Field(
        True,
        description="false for an 'insufficient_evidence' the gate reports but does not block "
        "on: a site skill the reference backend (or the pseudo target) cannot run",
    )


class Rollback(_Model):
    required: bool = False
    trigger_codes: list[str] = Field(default_factory=list)


class CompatibilityGate(_Model):
    """A migration gate's result: ready or blocked, why, and whether to roll back."""

    gate: str
    target: str = Field(description="the Innovus backend judged (pseudo, tcl, real)")
    reference: str = Field(description="the backend parity is judged against")
    status: Literal["ready", "blocked"]
    blocking_issue_codes: list[str] = Field(default_factory=list)
    rollback: Rollback = Field(default_factory=Rollback)
    claims: list[Claim] = Field(default_factory=list)
    judged_at: datetime

    def summary(self) -> str:
        """One line: the verdict, and for a blocked target each failed claim."""
        if self.status == "ready":
            open_ = [c.claim for c in self.claims if c.verdict != "pass"]
            if open_:
                return (
                    f"{self.target}: ready ({len(self.claims) - len(open_)} claims pass; not "
                    f"judged, not blocking: {', '.join(open_)})"
                )
            return f"{self.target}: ready ({len(self.claims)} claims pass)"
        failed = "; ".join(f"{c.claim}: {c.detail}" for c in self.claims if c.verdict == "fail")
        rollback = ", rollback required" if self.rollback.required else ""
        return f"{self.target}: blocked by {', '.join(self.blocking_issue_codes)}{rollback}" + (
            f" ({failed})" if failed else ""
        )


class EvidenceMatrix(_Model):
    """``--spilot-evidence PATH``: every migration gate of a run, with its claims."""

    schema_version: Literal[1] = 1
    version: str = Field(description="the release version the run belongs to")
    generated_at: datetime
    status: Literal["ready", "blocked"]
    gates: list[CompatibilityGate]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """The file's hash, streamed (an Innovus install's binary is hundreds of megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def evidence_matrix(version: str, gates: list[Path]) -> EvidenceMatrix:
    """The matrix of the migration gates whose ``compatibility.json`` files are ``gates``."""
    judged = []
    for path in gates:
        try:
            judged.append(CompatibilityGate.model_validate_json(path.read_bytes()))
        except (OSError, ValidationError) as exc:
            why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.strerror
            raise SpilotError(
                f"{path}: a migration gate's result cannot be read ({why}); run the gate again "
                "(pytest -m gate) to rewrite it"
            ) from None
    return EvidenceMatrix(
        version=version,
        generated_at=datetime.now(UTC),
        # No gate judged is no evidence of readiness.
        status="ready" if judged and all(g.status == "ready" for g in judged) else "blocked",
        gates=judged,
    )
