"""A process of its own that ends a harness's jobs when the harness dies, SIGKILL included.

Jobs start in sessions of their own (so a timeout can kill a whole tree), which also means
nothing ends them when the pytest process that started them is killed. The harness keeps one
reaper per process and tells it, through a pipe, which jobs are running: each one's token and
cgroup (where it has one) before the job exists, its process group once started. The reaper
sits in its own session, so a kill of the harness's process group spares it; when the pipe
closes (the harness is gone, however it ended) it ends every job still on its list: a moment
to stop on their own, then SIGTERM, then SIGKILL (a job cgroup: all of it, then the cgroup is
removed). A harness that ended its jobs itself leaves an empty list, and the reaper just exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

from pytest_spilot.launchers import cgroup as cgroups
from pytest_spilot.launchers.process import JobTree

# Jobs that watch their harness (an Innovus session checks at every heartbeat) get a moment to
# stop cleanly and record it; then SIGTERM, then SIGKILL: all gone within a second.
SELF_STOP_S = 0.4
GRACE_S = 0.2


class Reaper:
    """This process's reaper, started with the first job it watches."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def watch(self, pgid: int, token: str, cgroup: str | None = None) -> None:
        self._send(f"+ {pgid} {token} {cgroup or ''}".rstrip().encode() + b"\n")

    def forget(self, token: str) -> None:
        self._send(f"- {token}\n".encode())

    def _send(self, line: bytes) -> None:
        with self._lock:
            # A forked child (xdist does not fork, but a plugin might) gets its own reaper.
            if self._proc is None or self._pid != os.getpid() or self._proc.poll() is not None:
                if self._proc is not None and self._proc.stdin is not None:
                    with contextlib.suppress(OSError):
                        self._proc.stdin.close()  # the pipe of a reaper that died, or a parent's
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", __name__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
                self._pid = os.getpid()
            assert self._proc.stdin is not None
            with contextlib.suppress(OSError):  # a reaper that died is replaced next time
                self._proc.stdin.write(line)
                self._proc.stdin.flush()


REAPER = Reaper()


def tracking_method() -> tuple[bool, str]:
    """How jobs are tracked here, for ``spilot doctor``: (complete, description)."""
    found = cgroups.tracking()
    if found.kind is not None:
        return True, (
            f"{found.describe()}: a cgroup per job, so nothing escapes ('setsid env -i', "
            f"double forks); ended by a reaper when pytest dies ({cgroups.SWITCH}=0: no cgroups)"
        )
    if not os.access("/proc/self/environ", os.R_OK):
        return False, "process group only: no readable /proc, so a child that calls setsid escapes"
    return True, (
        f"process group + SPILOT_JOB_TOKEN in /proc ({found.describe()}; a child that calls "
        "'setsid env -i' escapes), ended by a reaper when pytest dies"
    )


def end_jobs(jobs: list[JobTree]) -> None:
    """End every job's tree (a moment to stop, SIGTERM, SIGKILL) and remove its cgroup."""

    def signal_all(sig: int) -> bool:
        return any([job.signal(sig) for job in jobs])  # a list: every job gets the signal

    def stop() -> None:
        for sig, wait_s in ((0, SELF_STOP_S), (signal.SIGTERM, GRACE_S)):
            if not signal_all(sig):
                return
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                time.sleep(0.02)
                if not signal_all(0):
                    return
        for job in jobs:
            job.kill()

    stop()
    for job in jobs:
        job.release()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the harness, which ends jobs
    # By token: a job whose cgroup lingers stays listed when a later job reuses its pid.
    jobs: dict[str, JobTree] = {}
    for line in sys.stdin.buffer:
        # "+ pgid token [cgroup]" (pgid 0: not started yet; a cgroup path may hold spaces)
        # or "- token"
        op, *args = line.decode().rstrip("\n").split(" ", 3)
        if op == "+" and len(args) >= 2 and args[0].isdigit():
            jobs[args[1]] = JobTree(int(args[0]), args[1], args[2] if len(args) > 2 else None)
        elif op == "-" and args:
            jobs.pop(args[-1], None)
        # Anything else (a harness of another version) is ignored: a crash here ends nothing.
    end_jobs(list(jobs.values()))


if __name__ == "__main__":
    main()
