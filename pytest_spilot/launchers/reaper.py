"""A process of its own that ends a harness's jobs when the harness dies, SIGKILL included.

Jobs start in sessions of their own (so a timeout can kill a whole tree), which also means
nothing ends them when the pytest process that started them is killed. The harness keeps one
reaper per process and tells it, through a pipe, which process groups (and job tokens) are
running. The reaper sits in its own session, so a kill of the harness's process group spares
it; when the pipe closes (the harness is gone, however it ended) it ends every job still on
its list: a moment to stop on their own, then SIGTERM, then SIGKILL. A harness that ended its
jobs itself leaves an empty list, and the reaper just exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

from pytest_spilot.launchers.process import job_pids

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

    def watch(self, pgid: int, token: str) -> None:
        self._send(f"+ {pgid} {token}\n".encode())

    def forget(self, pgid: int) -> None:
        self._send(f"- {pgid}\n".encode())

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
    if not os.access("/proc/self/environ", os.R_OK):
        return False, "process group only: no readable /proc, so a child that calls setsid escapes"
    return True, (
        "process group + SPILOT_JOB_TOKEN in /proc, ended by a reaper when pytest dies "
        "(no cgroups: a child that calls 'setsid env -i' escapes)"
    )


def end_jobs(jobs: dict[int, str]) -> None:
    """End every job's tree: let it stop, then SIGTERM, then SIGKILL what is left."""

    def signal_all(sig: int) -> bool:
        alive = False
        for pgid, token in jobs.items():
            for pid in job_pids(pgid, token):
                alive = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
        return alive

    for sig, wait_s in ((0, SELF_STOP_S), (signal.SIGTERM, GRACE_S)):
        if not signal_all(sig):
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            time.sleep(0.02)
            if not signal_all(0):
                return
    signal_all(signal.SIGKILL)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the harness, which ends jobs
    jobs: dict[int, str] = {}
    for line in sys.stdin.buffer:
        op, *args = line.decode().split()
        if op == "+":
            jobs[int(args[0])] = args[1]
        elif op == "-":
            jobs.pop(int(args[0]), None)
    end_jobs(jobs)


if __name__ == "__main__":
    main()
