"""Run one LibreLane flow in a child process: follow it live, stop it on timeout, read results.

The same code serves every backend: the child (pseudo or real) writes a LibreLane run folder,
this side follows its ``flow.log`` against the announced step list, kills the whole tree on
timeout (exit code 124), and reads metrics and artifacts the same way.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pytest_spilot.core.state import JobHandle
from pytest_spilot.launchers.base import NOT_FOUND_EXIT_CODE, TIMEOUT_EXIT_CODE, Job, Launcher
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.librelane.backends.base import FlowBackend, FlowRequest
from pytest_spilot.librelane.flow_child import read_result, read_steps
from pytest_spilot.librelane.progress import FlowLogFollower, Progress, ProgressFile
from pytest_spilot.librelane.results import artifacts, read_run_metrics
from pytest_spilot.logtail import tail_lines
from pytest_spilot.redact import Redactor

FLOW_DIR = "flow"  # LibreLane's run folder inside the validation's run directory
CHILD_LOG = "librelane.log"  # the child's own stdout and stderr
POLL_S = 0.2


@dataclass(frozen=True)
class FlowResult:
    status: str  # passed | failed
    exit_code: int
    run_dir: Path  # LibreLane's run folder
    duration_s: float
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_source: str = ""
    artifacts: list[Path] = field(default_factory=list)
    failed_step: str | None = None
    message: str = ""
    timed_out: bool = False
    progress: Progress | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class FlowRunner:
    """Runs flows with one backend; ``on_progress`` hears every change of step."""

    def __init__(
        self,
        backend: FlowBackend,
        launcher: Launcher | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        secrets: Redactor | None = None,
    ) -> None:
        self.backend = backend
        self.launcher = launcher or LocalLauncher()
        self.on_progress = on_progress
        self.secrets = secrets or Redactor()

    def run(
        self,
        request: FlowRequest,
        run_root: Path,
        on_start: Callable[[JobHandle], None] | None = None,
    ) -> FlowResult:
        if run_root.exists():
            shutil.rmtree(run_root)
        run_root.mkdir(parents=True)
        flow_dir = run_root / FLOW_DIR
        config_path = request.config.config_file(run_root)
        argv = self.backend.command(request, flow_dir, config_path)
        progress_file = ProgressFile(run_root)

        def tell(progress: Progress) -> None:
            progress_file(progress)
            if self.on_progress is not None:
                self.on_progress(progress)

        job = Job(
            argv=argv,
            cwd=run_root,
            log_path=run_root / CHILD_LOG,
            timeout_s=request.timeout_s,
            # Without a terminal rich wraps flow.log's lines at 80 columns.
            env={"COLUMNS": "200", "SPILOT_PYTHON": sys.executable, **request.env},
            name=f"librelane-{request.config.name}",
            secrets=self.secrets,
            on_start=on_start,
        )
        start = time.monotonic()
        try:
            process = self.launcher.start(job)
        except OSError as exc:
            return FlowResult(
                "failed", NOT_FOUND_EXIT_CODE, flow_dir, 0.0, message=f"cannot start: {exc}"
            )
        follower: FlowLogFollower | None = None
        deadline = start + request.timeout_s
        exit_code: int | None = None
        timed_out = False
        try:
            while exit_code is None:
                try:
                    exit_code = process.wait(min(POLL_S, max(0.0, deadline - time.monotonic())))
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        process.stop()
                        exit_code, timed_out = TIMEOUT_EXIT_CODE, True
                if follower is None and (steps := read_steps(run_root)) is not None:
                    follower = FlowLogFollower(flow_dir / "flow.log", steps, tell)
                if follower is not None:
                    follower.poll()
        except BaseException:
            process.stop()
            raise
        if not timed_out:
            process.stop()  # nothing of the flow may outlive it
        result = self._result(
            flow_dir, exit_code, time.monotonic() - start, timed_out, follower, request
        )
        if follower is not None and not result.passed:
            follower.fail(result.message)
            result = replace(result, progress=follower.last)
        return result

    def _result(
        self,
        flow_dir: Path,
        exit_code: int,
        duration: float,
        timed_out: bool,
        follower: FlowLogFollower | None,
        request: FlowRequest,
    ) -> FlowResult:
        if follower is not None:
            follower.finish()
        metrics, source = read_run_metrics(flow_dir) if flow_dir.is_dir() else ({}, "")
        outcome = read_result(flow_dir.parent)
        last = follower.last if follower else None
        passed = exit_code == 0 and outcome.get("status") == "passed"
        failed_step = None if passed or last is None else last.step_id
        if timed_out:
            message = f"timed out after {request.timeout_s:g} s; killed the whole process tree"
        elif passed:
            message = ""
        else:
            message = outcome.get("message") or (follower.failure if follower else None) or ""
            if not message:
                message = (
                    " | ".join(tail_lines(flow_dir.parent / CHILD_LOG, 5, strip=True))
                    or f"exit code {exit_code}"
                )
        if failed_step and not timed_out:
            message = f"{failed_step}: {message}"
        elif failed_step:
            message = f"{message} (during {failed_step})"
        return FlowResult(
            status="passed" if passed else "failed",
            exit_code=exit_code,
            run_dir=flow_dir,
            duration_s=round(duration, 3),
            metrics=metrics,
            metrics_source=source,
            artifacts=artifacts(flow_dir) if flow_dir.is_dir() else [],
            failed_step=failed_step,
            message=message,
            timed_out=timed_out,
            progress=last,
        )


def flow_env(path_prepend: list[str], env: Mapping[str, str]) -> dict[str, str]:
    """The child's environment additions: ``path_prepend`` before PATH, then ``env``."""
    out = dict(env)
    if path_prepend:
        out["PATH"] = os.pathsep.join([*path_prepend, os.environ.get("PATH", "")])
    return out
