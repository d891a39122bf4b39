"""Harness overhead: 200 trivial ``command`` validations vs. 200 plain pytest tests, ``-n 2``.

Both sides start the same trivial process (``true``) 200 times on 2 xdist workers, so the
difference is what pytest-spilot adds per validation (run directory, log, launcher, state file)
and per session (plugin import and configuration). The plain side runs with the spilot plugin
blocked (``-p no:spilot``). Target: spilot <= 1.15x plain.
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
    compare,
    error_result,
    main,
    pytest_env,
    time_pytest,
    write_project,
)

NAME = "harness overhead"
COUNT = 200
TARGET = 1.15
WORKERS = ["-n", "2"]


def validation_file(count: int = COUNT) -> str:
    lines = ["version: 1", "validations:"]
    for i in range(count):
        lines += [f"  - name: v{i:03d}", "    kind: command", '    run: ["true"]']
    return "\n".join(lines) + "\n"


def plain_tests(count: int = COUNT) -> str:
    funcs = [
        f'def test_v{i:03d}():\n    subprocess.run(["true"], check=True)\n' for i in range(count)
    ]
    return "import subprocess\n\n\n" + "\n\n".join(funcs)


def bench(options: Options) -> list[Result]:
    expect = rf"\b{COUNT} passed\b"
    with tempfile.TemporaryDirectory(prefix="spilot-bench-overhead-") as tmp:
        root = Path(tmp)
        env = pytest_env(root, options)
        spilot = write_project(root / "spilot", {"validations/bench.yaml": validation_file()})
        plain = write_project(root / "plain", {"test_plain.py": plain_tests()})
        try:
            measured = time_pytest(
                spilot, WORKERS, env=env, expect=expect, label="spilot", repeats=options.repeats
            )
            baseline = time_pytest(
                plain,
                [*WORKERS, *NO_SPILOT],
                env=env,
                expect=expect,
                label="plain",
                repeats=options.repeats,
            )
        except BenchError as exc:
            return [error_result(NAME, TARGET, exc)]
    per_item_ms = (measured.median_s - baseline.median_s) / COUNT * 1000
    notes = [
        f"{COUNT} items each, -n 2, median of {options.repeats} "
        f"(spilot {measured.runs_s}, plain {baseline.runs_s}); "
        f"extra wall-clock per validation ~{per_item_ms:.1f} ms"
    ]
    return [compare(NAME, measured, baseline, TARGET, notes)]


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
