"""Log following: step and progress detection over a 500,000-line LibreLane-style flow.log.

The follower (``pytest_spilot.librelane.progress.FlowLogFollower``) reads the log as it would
while following a run that appends 64 KiB at a time (only the follower's polls are timed), and,
as a second row, in one read of the finished file; against ``grep -c`` of one pattern over the
same file (including grep's process start). Medians of 5, the file in the page cache.
"""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Options, Result, error_result, main

from pytest_spilot.librelane.progress import FlowLogFollower

LINES = 500_000
STEPS = 80
REPEATS = 5
NOISE = [
    "Loading the design database…",
    "[INFO GPL-0006] Number of instances: {n}",
    "[WARNING STA-1212] unit of {n} ns is not supported",
    "Writing metric design__instance__count: {n}",
    "Design density: 0.{n}",
    "Setting PDN connections for {n} nets",
]


def step_ids() -> list[str]:
    try:
        from librelane.flows import Flow

        return [s.id for s in Flow.factory.get("Classic").Steps]
    except Exception:  # librelane absent: a list of the same length and shape
        return [f"Stage{i // 10}.Step{i}" for i in range(STEPS)]


def write_log(path: Path, steps: list[str]) -> None:
    rng = random.Random(7)
    per_step = LINES // (len(steps) + 1)
    with path.open("w", encoding="utf-8") as fh:
        for i, step in enumerate(steps, 1):
            fh.write(f"Running '{step}' at 'runs/bench/{i:02d}-{step.lower()}'\u2026\n")
            for _ in range(per_step - 1):
                fh.write(rng.choice(NOISE).format(n=rng.randrange(10_000)) + "\n")
        fh.write("Flow complete.\n")


def follow(path: Path, steps: list[str]) -> float:
    """Feed the log to a follower in 64 KiB appends, as a live run would grow it."""
    live = path.with_name("live.log")
    live.write_bytes(b"")
    data = path.read_bytes()
    follower = FlowLogFollower(live, steps)
    elapsed = 0.0  # the follower's own time: writing the log is the flow's
    with live.open("ab") as out:
        for at in range(0, len(data), 65536):
            out.write(data[at : at + 65536])
            out.flush()
            start = time.perf_counter()
            follower.poll()
            elapsed += time.perf_counter() - start
    start = time.perf_counter()
    last = follower.finish()
    elapsed += time.perf_counter() - start
    if last is None or last.state != "complete" or follower.last.step_count != len(steps):
        raise RuntimeError(f"the follower did not see the whole flow: {last}")
    return elapsed


def whole(path: Path, steps: list[str]) -> float:
    start = time.perf_counter()
    last = FlowLogFollower(path, steps).finish()
    elapsed = time.perf_counter() - start
    if last is None or last.state != "complete":
        raise RuntimeError(f"the follower did not see the whole flow: {last}")
    return elapsed


def grep(path: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(["grep", "-c", "^Running '", str(path)], capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    if int(out.stdout) != STEPS and int(out.stdout) <= 0:
        raise RuntimeError(f"grep counted {out.stdout!r}")
    return elapsed


def bench(options: Options) -> list[Result]:
    name = "log following (500,000 lines)"
    if shutil.which("grep") is None:
        return [error_result(name, 3.0, RuntimeError("grep is not installed"))]
    with tempfile.TemporaryDirectory(prefix="spilot-bench-log-") as tmp:
        path = Path(tmp) / "flow.log"
        steps = step_ids()
        write_log(path, steps)
        size_mb = path.stat().st_size / 1e6
        grep(path)  # page cache
        follower_s = [follow(path, steps) for _ in range(REPEATS)]
        whole_s = [whole(path, steps) for _ in range(REPEATS)]
        grep_s = [grep(path) for _ in range(REPEATS)]
    return [
        Result(
            name=name,
            measured_label="follower (64 KiB appends)",
            measured_s=statistics.median(follower_s),
            baseline_label="grep -c",
            baseline_s=statistics.median(grep_s),
            target=3.0,
            runs={
                "follower_s": [round(x, 4) for x in follower_s],
                "grep_s": [round(x, 4) for x in grep_s],
            },
            notes=[f"{size_mb:.1f} MB, {len(steps)} steps; grep includes its process start"],
        ),
        Result(
            name=name + ", finished log in one read",
            measured_label="follower (one read)",
            measured_s=statistics.median(whole_s),
            baseline_label="grep -c",
            baseline_s=statistics.median(grep_s),
            target=3.0,
            runs={"whole_s": [round(x, 4) for x in whole_s]},
        ),
    ]


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
