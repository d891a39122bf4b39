"""The request/ack protocol (schema_version 1): these models define the files in a run directory.

Both sides keep it: the Tcl bootstrap (``tcl/bootstrap.tcl``) and the pseudo processor answer
requests; the supervisor writes requests and reads acks. ``spilot schema request|ack`` prints
the JSON Schema.
"""

from __future__ import annotations

import re
import time
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION: Final = 1
MAX_REQUEST_BYTES = 64 * 1024
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_RE.pattern)]


class ErrorType(StrEnum):
    OK = "OK"
    CMD_FAIL = "CMD_FAIL"  # the skill raised
    RESTORE_FAIL = "RESTORE_FAIL"  # loading the design failed
    SECURITY = "SECURITY"  # the request was refused; nothing ran
    BAD_REQUEST = "BAD_REQUEST"  # unreadable, wrong schema, missing fields, oversized
    TIMEOUT = "TIMEOUT"
    SESSION_LOST = "SESSION_LOST"  # written by the harness when the session died


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(_Message):
    """``queue/<request_id>.json``: run one script of ``scripts/`` with arguments."""

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: RequestId
    script: str = Field(description="path relative to the run directory, under scripts/")
    args: dict[str, Any] = Field(default_factory=dict, description="given to the skill as a dict")
    timeout_s: float = Field(gt=0)
    created_ts: float = Field(default_factory=time.time, description="epoch seconds")


class Ack(_Message):
    """``ack/<request_id>.json``: what became of a request. Written once, never rewritten."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    request_id: str
    status: Literal["PASS", "FAIL"]
    error_type: ErrorType
    message: str = ""
    start_ms: int = 0
    end_ms: int = 0
    duration_ms: float = 0.0
    reports: list[str] = Field(default_factory=list, description="relative to the run directory")
    metrics: dict[str, float] = Field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    @classmethod
    def failure(cls, request_id: str, error_type: ErrorType, message: str) -> Ack:
        """An ack for a request that did not run (or whose session died under it)."""
        now_ms = int(time.time() * 1000)
        return cls(
            request_id=request_id,
            status="FAIL",
            error_type=error_type,
            message=message,
            start_ms=now_ms,
            end_ms=now_ms,
        )


class Ready(_Message):
    """``session/ready``: the session takes requests."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    pid: int
    tcl_version: str = ""
    tool_version: str = ""
    port: int | None = None
    started_ts: float = 0.0
    json_: str = Field("", alias="json", description="the JSON reader in use: tcllib or builtin")


class Heartbeat(_Message):
    """``session/heartbeat``: rewritten every ``heartbeat_interval_s`` while the session lives."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ts: float
    pid: int | None = None
    requests_done: int = 0


class SessionFileConfig(_Message):
    """``session/config.json``: what the harness tells the bootstrap before it starts."""

    schema_version: Literal[1] = SCHEMA_VERSION
    heartbeat_interval_s: float = Field(1.0, gt=0)
    poll_interval_s: float = Field(0.5, gt=0)
    socket: bool = True
    owner_pid: int | None = Field(None, description="the harness; the session stops if it dies")
    owner_host: str | None = Field(None, description="owner_pid is checked only on this host")
    secret_env: list[str] = Field(
        default_factory=list,
        description="variables whose values the session replaces with *** in acks and its log "
        "(names only: the values never enter a file)",
    )
