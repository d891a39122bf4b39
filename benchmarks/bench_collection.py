"""Collection: 2,000 matrix-expanded validations vs. 2,000 parametrized plain tests.

One validation with ``matrix: {a: 40 values, b: 50 values}`` expands to 2,000 validations
(2,000 ``run`` items); the baseline is one test function with
``@pytest.mark.parametrize("a", range(2000))``. Both are collected with ``--collect-only -q``
in a single process; the plain side runs with the spilot plugin blocked (``-p no:spilot``).
Target: spilot <= 2x plain.
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

NAME = "collection"
A_VALUES = 40
B_VALUES = 50
COUNT = A_VALUES * B_VALUES
TARGET = 2.0
ARGS = ["--collect-only"]

VALIDATION_FILE = f"""\
version: 1
validations:
  - name: grid
    kind: command
    run: ["true", "{{a}}", "{{b}}"]
    matrix:
      a: {list(range(A_VALUES))}
      b: {list(range(B_VALUES))}
"""

PLAIN_TESTS = f"""\
import pytest


@pytest.mark.parametrize("a", range({COUNT}))
def test_grid(a):
    pass
"""


def bench(options: Options) -> list[Result]:
    expect = rf"\b{COUNT} tests collected\b"
    repeats = options.repeats
    with tempfile.TemporaryDirectory(prefix="spilot-bench-collection-") as tmp:
        root = Path(tmp)
        env = pytest_env(root, options)
        spilot = write_project(root / "spilot", {"validations/grid.yaml": VALIDATION_FILE})
        plain = write_project(root / "plain", {"test_grid.py": PLAIN_TESTS})
        try:
            measured = time_pytest(
                spilot, ARGS, env=env, expect=expect, label="spilot", repeats=repeats
            )
            baseline = time_pytest(
                plain, [*ARGS, *NO_SPILOT], env=env, expect=expect, label="plain", repeats=repeats
            )
        except BenchError as exc:
            return [error_result(NAME, TARGET, exc)]
    notes = [
        f"{COUNT} items each, --collect-only -q, single process, median of {repeats} "
        f"(spilot {measured.runs_s}, plain {baseline.runs_s})"
    ]
    return [compare(NAME, measured, baseline, TARGET, notes)]


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
