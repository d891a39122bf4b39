"""Parallel scaling: 8 validations of ``sleep 1`` on ``-n 2`` vs. the ideal makespan of 4 s.

The ideal is 8 x 1 s / 2 workers = 4 s. Target: measured <= 1.15x ideal. A second figure
subtracts the fixed cost of an xdist session (``-n 2`` running a single trivial validation:
interpreter and worker start-up, plugin import, collection, shutdown) from the measured time,
leaving how well the 8 jobs themselves are spread over the 2 workers.

For reference (a note, not a row), the same 8 x ``sleep 1`` as plain pytest tests
(``subprocess.run``) on ``-n 2``, with the spilot plugin blocked: what pytest-xdist alone reaches.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import (
    NO_SPILOT,
    BenchError,
    Options,
    Result,
    error_result,
    main,
    pytest_env,
    time_pytest,
    write_project,
)

NAME = "parallel scaling"
NAME_NET = "parallel scaling, xdist start-up subtracted (2nd figure)"
JOBS = 8
SLEEP_S = 1
WORKERS = 2
IDEAL_S = JOBS * SLEEP_S / WORKERS
TARGET = 1.15

TRIVIAL_FILE = 'version: 1\nvalidations:\n  - name: t\n    kind: command\n    run: ["true"]\n'


def sleep_file(count: int = JOBS) -> str:
    lines = ["version: 1", "validations:"]
    for i in range(count):
        lines += [f"  - name: sleep{i}", "    kind: command", f'    run: ["sleep", "{SLEEP_S}"]']
    return "\n".join(lines) + "\n"


def plain_sleeps(count: int = JOBS) -> str:
    funcs = [
        f'def test_sleep{i}():\n    subprocess.run(["sleep", "{SLEEP_S}"], check=True)\n'
        for i in range(count)
    ]
    return "import subprocess\n\n\n" + "\n\n".join(funcs)


def bench(options: Options) -> list[Result]:
    args = ["-n", str(WORKERS)]
    repeats = options.repeats
    with tempfile.TemporaryDirectory(prefix="spilot-bench-scaling-") as tmp:
        root = Path(tmp)
        env = pytest_env(root, options)
        sleeps = write_project(root / "sleeps", {"validations/sleeps.yaml": sleep_file()})
        trivial = write_project(root / "trivial", {"validations/trivial.yaml": TRIVIAL_FILE})
        plain = write_project(root / "plain", {"test_sleeps.py": plain_sleeps()})
        try:
            measured = time_pytest(
                sleeps, args, env=env, expect=rf"\b{JOBS} passed\b", label="spilot", repeats=repeats
            )
            startup = time_pytest(
                trivial, args, env=env, expect=r"\b1 passed\b", label="startup", repeats=repeats
            )
            reference = time_pytest(
                plain,
                [*args, *NO_SPILOT],
                env=env,
                expect=rf"\b{JOBS} passed\b",
                label="plain",
                repeats=repeats,
            )
        except BenchError as exc:
            return [error_result(NAME, TARGET, exc), error_result(NAME_NET, TARGET, exc)]
    runs = {"spilot": measured.runs_s, "startup": startup.runs_s, "plain": reference.runs_s}
    gross = Result(
        name=NAME,
        measured_label="spilot",
        measured_s=measured.median_s,
        baseline_label="ideal",
        baseline_s=IDEAL_S,
        target=TARGET,
        runs=runs,
        notes=[
            f"{JOBS} x sleep {SLEEP_S} s on -n {WORKERS}, median of {repeats} "
            f"{measured.runs_s}; ideal = {JOBS} x {SLEEP_S} s / {WORKERS} workers",
            f"reference, not a row: plain pytest, {JOBS} tests of subprocess.run(sleep "
            f"{SLEEP_S}) on -n {WORKERS}, spilot blocked: median {reference.median_s:.2f} s "
            f"{reference.runs_s} -> {reference.median_s / IDEAL_S:.2f}x ideal",
        ],
    )
    net = Result(
        name=NAME_NET,
        measured_label="spilot - startup",
        measured_s=measured.median_s - startup.median_s,
        baseline_label="ideal",
        baseline_s=IDEAL_S,
        target=TARGET,
        runs=runs,
        notes=[
            f"startup = -n {WORKERS} running one trivial validation (run: [true]): "
            f"median {startup.median_s:.2f} s {startup.runs_s}"
        ],
    )
    return [gross, net]


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
