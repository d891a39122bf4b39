"""``<node>``: a job on an inventory node over SSH, output streamed to the local log.

The job's working directory is the same path on the node (sites share run directories over
NFS); it is created there if missing. A timeout kills the remote process group (exit code 124);
a connection that drops is a transient failure, retried when the validation allows it. The
job's script ends its own process group when its channel closes (remote/shell.py), so a harness
that dies, SIGKILL included, leaves nothing running on the node.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, BinaryIO

from pytest_spilot.core.state import JobHandle
from pytest_spilot.launchers.base import TIMEOUT_EXIT_CODE, Job, JobResult
from pytest_spilot.launchers.process import TOKEN_VAR
from pytest_spilot.remote.errors import NodeError, describe

if TYPE_CHECKING:
    from pytest_spilot.remote.node import RemoteNode
    from pytest_spilot.remote.process import RemoteProcess


# The script announces its process group first thing; a node slower than this to answer is
# not journalled (the job still runs, and its script still ends it with the connection).
ANNOUNCE_TIMEOUT_S = 10.0


class SshLauncher:
    """One per inventory node; ``location: <node name>`` picks it."""

    def __init__(self, node: RemoteNode, grace_s: float = 1.0) -> None:
        self.node = node
        self.name = node.name
        self.grace_s = grace_s

    def command_line(self, job: Job) -> list[str]:
        spec = self.node.node
        target = f"{spec.user}@{spec.host}" if spec.user else spec.host
        return ["ssh", "-p", str(spec.port), target, "--", *job.argv]

    def start(self, job: Job) -> RemoteProcess:
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        files: list[BinaryIO] = [open(job.log_path, "ab", buffering=0)]  # noqa: SIM115
        if job.stderr_path is not None:
            files.append(open(job.stderr_path, "ab", buffering=0))  # noqa: SIM115

        def close() -> None:
            for fh in files:
                with contextlib.suppress(OSError):
                    fh.close()

        # The token lets a later run tell this job's process group from one that reused its id.
        token = uuid.uuid4().hex
        try:
            process = self.node.start(
                job.argv,
                env={**job.env, TOKEN_VAR: token},
                cwd=str(job.cwd),
                stdout=files[:1],
                stderr=files[-1:],
            )
        except BaseException:
            close()
            raise
        process.on_end(close)
        if job.on_start is not None:
            pgid = process.wait_pid(ANNOUNCE_TIMEOUT_S)
            if pgid:
                job.on_start(self.handle(pgid, token))
        return process

    def handle(self, pgid: int, token: str) -> JobHandle:
        """How a later run finds this harness's job on the node (see :meth:`end`)."""
        return JobHandle(
            launcher=self.name,
            host=socket.gethostname(),
            owner_pid=os.getpid(),
            pgid=pgid,
            token=token,
            node=self.name,
        )

    def end(self, handle: JobHandle, grace_s: float = 1.0) -> bool:
        """End the job of a dead harness on this node; True if it still ran.

        Its process group is ended only while one of its processes carries the handle's
        token. Raises NodeError (an OSError) when the node cannot be reached.
        """
        if handle.node not in (None, self.name) or not handle.pgid or not handle.token:
            return False
        return self.node.stop_group(handle.pgid, grace_s, token=handle.token)

    def run(self, job: Job) -> JobResult:
        start = time.monotonic()
        try:
            process = self.start(job)
            try:
                code = process.wait(job.timeout_s)
            except TimeoutError:
                process.stop(self.grace_s)
                message = (
                    f"timed out after {job.timeout_s:g} s; killed the job's process group on "
                    f"{describe(self.node.node)}"
                )
                _log(job, message)
                return JobResult(
                    TIMEOUT_EXIT_CODE, time.monotonic() - start, timed_out=True, message=message
                )
            except BaseException:
                process.stop(self.grace_s)
                raise
        except NodeError as exc:
            _log(job, str(exc))
            return JobResult(
                exc.exit_code, time.monotonic() - start, message=str(exc), transient=exc.transient
            )
        if process.lost:
            message = f"{describe(self.node.node)}: the connection dropped while the job ran"
            _log(job, message)
            return JobResult(code, time.monotonic() - start, message=message, transient=True)
        return JobResult(
            code, time.monotonic() - start, message="" if code == 0 else f"exit code {code}"
        )


def _log(job: Job, message: str) -> None:
    with open(job.log_path, "ab") as log:
        log.write(f"[spilot] {message}\n".encode())
