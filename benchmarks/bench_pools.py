"""Resource pools: 8 validations of ``cpus: 2`` x ``sleep 1`` on ``-n 4 --spilot-cpus 4``.

At most 2 jobs hold their CPUs at once, so the ideal makespan is 8 x 1 s / 2 = 4 s although
4 workers run. Target: measured <= 1.15x ideal once the fixed cost of the session is taken
off. That cost is measured by the same run of 8 validations of ``cpus: 2`` x ``sleep 0``
(interpreter and worker start-up, plugin import, collection, the token hand-overs of jobs
that take no time, shutdown), so the second figure is what waiting for tokens adds beyond
the jobs themselves: the hand-over latency of the pools.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import BenchError, Options, Result, error_result, main, pytest_env, time_pytest
from _common import write_project as project

NAME_NET = "resource pools, xdist start-up subtracted"
JOBS = 8
SLEEP_S = 1
CPUS_EACH = 2
POOL = 4
WORKERS = 4
IDEAL_S = JOBS * SLEEP_S / (POOL // CPUS_EACH)
TARGET = 1.15


def pool_file(sleep_s: int) -> str:
    lines = ["version: 1", "defaults:", f"  resources: {{cpus: {CPUS_EACH}}}", "validations:"]
    for i in range(JOBS):
        lines += [f"  - name: job{i}", f'    run: ["sleep", "{sleep_s}"]']
    return "\n".join(lines) + "\n"


def bench(options: Options) -> list[Result]:
    args = ["-n", str(WORKERS), "--spilot-cpus", str(POOL)]
    repeats = options.repeats
    with tempfile.TemporaryDirectory(prefix="spilot-bench-pools-") as tmp:
        root = Path(tmp)
        env = pytest_env(root, options)
        sleeps = project(root / "sleeps", {"validations/pool.yaml": pool_file(SLEEP_S)})
        instant = project(root / "instant", {"validations/pool.yaml": pool_file(0)})
        expect = rf"\b{JOBS} passed\b"
        try:
            measured = time_pytest(
                sleeps, args, env=env, expect=expect, label="spilot", repeats=repeats
            )
            startup = time_pytest(
                instant, args, env=env, expect=expect, label="startup", repeats=repeats
            )
        except BenchError as exc:
            return [error_result(NAME_NET, TARGET, exc)]
    runs = {"spilot": measured.runs_s, "startup": startup.runs_s}
    net = Result(
        name=NAME_NET,
        measured_label="spilot - startup",
        measured_s=measured.median_s - startup.median_s,
        baseline_label="ideal",
        baseline_s=IDEAL_S,
        target=TARGET,
        runs=runs,
        notes=[
            f"{JOBS} x sleep {SLEEP_S} s, cpus: {CPUS_EACH} each, -n {WORKERS} --spilot-cpus "
            f"{POOL}, median of {repeats} {measured.runs_s}; ideal = {JOBS} x {SLEEP_S} s / "
            f"{POOL // CPUS_EACH} at once",
            f"the whole run {measured.median_s:.2f} s; startup = the same run of {JOBS} x sleep 0 "
            f"(cpus: {CPUS_EACH}): median {startup.median_s:.2f} s {startup.runs_s}",
        ],
    )
    return [net]


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
