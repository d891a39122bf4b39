"""Runs a batch submitter (``srun``, ``bsub -I``) for a harness and cancels its batch job the
moment that harness dies, SIGKILL included.

A submitter killed with its harness does not always take its job along: ``srun`` releases its
allocation only when it gets to exit cleanly, and other submitters may ignore signals. So the
harness starts the submitter through this guard, which waits for the harness to die (its
parent going away) and then signals the submitter and runs the launcher's ``cancel`` command
at once, before the harness's reaper ends the job's local process tree.

Run by path with ``python -I -S``: standard library only, so a job's own ``PYTHONPATH`` or
``PYTHONHOME`` cannot break it. Arguments: ``HARNESS_PID N CANCEL_WORD... SUBMITTER_WORD...``
(``N`` cancel words, then the submitter's command line).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

TOKEN_VAR = "SPILOT_JOB_TOKEN"  # as pytest_spilot.launchers.process (not importable here)
POLL_S = 0.05  # how often the harness is looked for where there are no pidfds
CANCEL_TIMEOUT_S = 30.0


def guard_argv(harness_pid: int, cancel: list[str], command: list[str]) -> list[str]:
    """The command line that runs ``command`` under a guard for ``harness_pid``."""
    return [
        sys.executable,
        "-I",
        "-S",
        os.path.abspath(__file__),
        str(harness_pid),
        str(len(cancel)),
        *cancel,
        *command,
    ]


def wait_gone(pid: int) -> None:
    """Return once process ``pid``, this process's parent, has died."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        fd = -1
    try:
        # Opened after the parent died, the pidfd could name another process: check the parent.
        if os.getppid() != pid:
            return
        if fd >= 0:
            select.select([fd], [], [])
            return
        while os.getppid() == pid:
            time.sleep(POLL_S)
    finally:
        if fd >= 0:
            os.close(fd)


def cancel_job(submitter: subprocess.Popen[bytes], cancel: list[str]) -> None:
    """Stop the submitter and cancel its batch job."""
    if submitter.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(submitter.pid, signal.SIGTERM)  # srun: kills the step, frees the allocation
    if not cancel:
        return
    # A session of its own and no job token: the reaper's SIGKILL must not cut it mid-request.
    env = {k: v for k, v in os.environ.items() if k != TOKEN_VAR}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            cancel,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            timeout=CANCEL_TIMEOUT_S,
            check=False,
        )


def _ignore(signum: int, frame: FrameType | None) -> None:
    # The job's whole process group gets the harness's signals; the submitter acts on them and
    # the guard stays to report its exit code (a handler, not SIG_IGN, which exec would keep).
    pass


def main(args: list[str]) -> int:
    harness = int(args[0])
    count = int(args[1])
    cancel, command = args[2 : 2 + count], args[2 + count :]
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _ignore)
    if os.getppid() != harness:
        return 1  # the harness died before the job was even submitted
    try:
        submitter = subprocess.Popen(command)
    except OSError as exc:
        print(f"spilot: cannot start {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 127

    def watch() -> None:
        wait_gone(harness)
        cancel_job(submitter, cancel)

    threading.Thread(target=watch, name="spilot-batch-guard", daemon=True).start()
    code = submitter.wait()
    if code < 0:  # die of the same signal, so the harness reports it as the submitter's
        with contextlib.suppress(OSError, ValueError):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
