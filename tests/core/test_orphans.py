"""Which jobs of a release a resume ends, and what it says about each."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import UTC, datetime
from typing import ClassVar

from pytest_spilot.core.orphans import end_orphans, left_running
from pytest_spilot.core.state import JobHandle, ReleaseState, RunRecord, ValidationRecord

T0 = datetime(2026, 12, 1, tzinfo=UTC)
HOST = socket.gethostname()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def record(key: str, jobs: list[JobHandle], finished: bool = False) -> ValidationRecord:
    run = None
    if finished:
        run = RunRecord(
            outcome="passed",
            exit_code=0,
            started=T0,
            finished=T0,
            duration_s=0,
            run_dir="r",
            log="l",
        )
    return ValidationRecord(
        key=key, id=key, name=key, file="f.yaml", kind="command", started=T0, run=run, jobs=jobs
    )


class EndingLauncher:
    """A launcher that ends whatever it is given (records what)."""

    name: ClassVar[str] = "grid"

    def __init__(self) -> None:
        self.ended: list[JobHandle] = []

    def end(self, handle: JobHandle, grace_s: float = 1.0) -> bool:
        self.ended.append(handle)
        return True


def test_only_jobs_of_unfinished_runs_whose_harness_is_gone_are_left_running() -> None:
    gone = JobHandle(launcher="grid", host=HOST, owner_pid=dead_pid(), job_name="spilot.1")
    mine = JobHandle(launcher="grid", host=HOST, owner_pid=os.getpid(), job_name="spilot.2")
    state = ReleaseState(
        version="v",
        validations={
            "a": record("a", [gone, mine]),
            "b": record("b", [gone], finished=True),
        },
    )
    assert [(r.key, j) for r, j in left_running(state)] == [("a", gone)]
    launcher = EndingLauncher()
    lines = end_orphans(state, {"grid": launcher})
    assert launcher.ended == [gone]
    assert lines == [
        f"a: ended grid job spilot.1, left running by process {gone.owner_pid} on "
        f"{HOST} (a crashed run of this release)"
    ]


def test_a_job_that_cannot_be_ended_from_here_is_named() -> None:
    elsewhere = JobHandle(launcher="local", host="other-host", owner_pid=1, pgid=7, token="t")
    unknown = JobHandle(launcher="lsf9", host=HOST, owner_pid=dead_pid(), job_name="j")
    state = ReleaseState(version="v", validations={"a": record("a", [elsewhere, unknown])})
    lines = end_orphans(state, {})
    assert lines == [
        "a: local job (process group 7 on other-host) may still run: it was started on "
        "other-host, and only a run there can end it",
        f"a: lsf9 job j may still run (left by process {unknown.owner_pid} on {HOST}): "
        "launcher 'lsf9' cannot end it; end it by hand",
    ]
