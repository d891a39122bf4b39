"""Innovus session kernel: request→ack round trip and session start on the ``tcl`` backend.

Round trip: 500 no-op requests through the real bootstrap under tclsh, woken over the loopback
socket, against the same loop driven by a 100 ms directory poll (socket off) and against a bare
Tcl socket echo (the floor). Session start: start to ``ready``, against a bare ``tclsh`` start.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Options, Result, error_result, main

from pytest_spilot.innovus.backends.tcl import TclBackend
from pytest_spilot.innovus.queue_supervisor import QueueSupervisor, skill_script
from pytest_spilot.innovus.supervisor import SessionSpec
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.siteconfig import InnovusConfig

REQUESTS = 500
POLL_REQUESTS = 100  # at ~50-100 ms each, 500 would take most of a minute for a known figure
STARTS = 10

ECHO_SERVER = """
proc accept {ch addr port} {
    fconfigure $ch -blocking 0 -buffering line -translation lf
    fileevent $ch readable [list echo $ch]
}
proc echo {ch} {
    if {[gets $ch line] < 0} { if {[eof $ch]} { close $ch } ; return }
    puts $ch $line
}
set s [socket -server accept -myaddr 127.0.0.1 0]
puts [lindex [fconfigure $s -sockname] 2]
flush stdout
vwait forever
"""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def session(root: Path, name: str, **config: object) -> QueueSupervisor:
    spec = SessionSpec(
        run_dir=root / name, config=InnovusConfig(**config), launcher=LocalLauncher(), skill_dirs=[]
    )
    supervisor = TclBackend().create(spec)
    supervisor.start()
    supervisor.wait_ready(30)
    return supervisor


def round_trips(supervisor: QueueSupervisor, count: int) -> list[float]:
    for _ in range(10):  # warm-up: first requests pay for page faults and Tcl compilation
        supervisor.submit(skill_script("noop"), {})
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        ack = supervisor.submit(skill_script("noop"), {})
        samples.append(time.perf_counter() - start)
        if not ack.passed:
            raise RuntimeError(f"no-op request failed: {ack}")
    return samples


def echo_floor(count: int) -> list[float]:
    proc = subprocess.Popen(["tclsh"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(ECHO_SERVER)
        proc.stdin.close()
        port = int(proc.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = sock.makefile("rb")
            samples = []
            for i in range(count + 10):
                start = time.perf_counter()
                sock.sendall(f"{i}\n".encode())
                reader.readline()
                samples.append(time.perf_counter() - start)
        return samples[10:]
    finally:
        proc.kill()
        proc.wait()


def session_starts(root: Path) -> tuple[list[float], list[float]]:
    starts, bare = [], []
    for i in range(STARTS):
        begin = time.perf_counter()
        supervisor = session(root, f"start-{i}")
        starts.append(time.perf_counter() - begin)
        supervisor.stop("benchmark")
        begin = time.perf_counter()
        subprocess.run(["tclsh"], input="exit 0\n", text=True, check=True)
        bare.append(time.perf_counter() - begin)
    return starts, bare


def bench(options: Options) -> list[Result]:
    if shutil.which("tclsh") is None:
        exc = RuntimeError("tclsh is not installed (apt-get install -y tcl)")
        return [error_result(n, 1.0, exc) for n in ("round trip p50", "round trip p99", "start")]
    with tempfile.TemporaryDirectory(prefix="spilot-bench-session-") as tmp:
        root = Path(tmp)
        fast = session(root, "socket")
        try:
            socket_s = round_trips(fast, REQUESTS)
        finally:
            fast.stop("benchmark")
        slow = session(root, "poll", socket=False, poll_interval_s=0.1)
        try:
            poll_s = round_trips(slow, POLL_REQUESTS)
        finally:
            slow.stop("benchmark")
        floor = statistics.median(echo_floor(REQUESTS))
        starts, bare = session_starts(root)
    note = (
        f"bare Tcl socket echo (the floor): median {floor * 1e6:.0f} us; "
        f"{REQUESTS} socket requests, {POLL_REQUESTS} poll requests"
    )
    rows = []
    for label, q, limit in (("p50", 0.5, 0.005), ("p99", 0.99, 0.020)):
        rows.append(
            Result(
                name=f"request->ack round trip {label} (tcl)",
                measured_label="socket wake-up",
                measured_s=percentile(socket_s, q),
                baseline_label="100 ms directory poll",
                baseline_s=percentile(poll_s, q),
                target=1.0,
                limit_s=limit,
                runs={
                    "socket_ms": [round(x * 1000, 3) for x in sorted(socket_s)[:: REQUESTS // 50]]
                },
                notes=[note],
            )
        )
    rows.append(
        Result(
            name="session start to ready (tcl)",
            measured_label="stand-in + bootstrap",
            measured_s=statistics.median(starts),
            baseline_label="bare tclsh start",
            baseline_s=statistics.median(bare),
            target=1.0,
            limit_s=0.5,
            runs={"start_s": [round(x, 4) for x in starts], "bare_s": [round(x, 4) for x in bare]},
            notes=[f"median of {STARTS} starts; max {max(starts):.3f} s"],
        )
    )
    return rows


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
