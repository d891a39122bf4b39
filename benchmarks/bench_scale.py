"""Release scale: N validations (3 items each) vs. the same work as plain pytest tests, ``-n 2``.

For N = 300, 3,000 and 10,000 (``--sizes``), the spilot side is one validation file with one
validation whose ``matrix: {i: [0 .. N-1]}`` expands to N validations, each running
``["echo", "value=1"]`` with a regex metric (``value: {regex: 'value=(\\d+)'}``) and 2
acceptance thresholds (``value >= 1``, ``value < 2``): 3N items (a run item and 2 threshold
items per validation), all passing.

The baseline does the same work in the same shape: one test class per validation (N classes
``TestV00000`` ... sharing their methods) holding 3 tests: ``test_run`` runs
``subprocess.run(["echo", "value=1"], capture_output=True)``, checks the exit code and takes
the last match of the same regex (spilot's default ``aggregate: last``) into the class; the
two threshold tests assert on it. It runs with ``--dist loadscope``, so each class's 3 tests
stay on one worker, as spilot's own scheduler (a ``LoadScopeScheduling`` whose work units are
validations) keeps each validation's items. So both sides start N processes and run 3N items
on 2 workers in units of 3; the difference is what spilot adds per item and per validation
(plan expansion, run directory and log, launcher, metric extraction, the release state saved
after every item) and per session. The plain side runs with the spilot plugin blocked.

Every spilot run gets a fresh ``--spilot-version`` and an empty ``.spilot`` (removed before it,
untimed), so results never accumulate across runs. Per N, one untimed ``--collect-only`` of
each side (checking the item count) warms the byte-code cache (the plain module is compiled
once) and the page cache; then the two sides' timed runs alternate (spilot, plain, spilot, ...)
so that load from elsewhere falls on both. ``--repeats`` timed runs per side (default 3; at
N >= 10,000 one, it takes minutes), median. Each row gives spilot's and plain's time, their
ratio and the per-item overhead ((spilot - plain) / 3N); a last row compares the per-item
overhead at the largest N with the one at the smallest, which stays flat when spilot's cost
is linear in N. Targets: <= 1.5x plain at every N; per-item overhead at 10,000 within 1.25x
of the one at 300.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _common import (
    NO_SPILOT,
    BenchError,
    Options,
    Result,
    Timing,
    check_run,
    compare,
    error_result,
    main,
    pytest_env,
    run_pytest,
    write_project,
)

NAME = "release scale"
SIZES = (300, 3_000, 10_000)
ITEMS_PER_VALIDATION = 3  # the run item and 2 thresholds
TARGET = 1.5
LINEAR_TARGET = 1.25  # per-item overhead at the largest N vs. at the smallest
SINGLE_RUN_FROM = 10_000  # from this N on, one timed run per side
WORKERS = ["-n", "2"]
PLAIN_ARGS = [*WORKERS, "--dist", "loadscope", *NO_SPILOT]


def validation_file(count: int) -> str:
    values = ", ".join(str(i) for i in range(count))
    return f"""\
version: 1
validations:
  - name: scale
    kind: command
    run: ["echo", "value=1"]
    matrix:
      i: [{values}]
    metrics:
      value: {{regex: 'value=(\\d+)'}}
    acceptance:
      - {{metric: value, op: ">=", value: 1}}
      - {{metric: value, op: "<", value: 2}}
"""


def plain_tests(count: int) -> str:
    head = """\
import re
import subprocess

PATTERN = re.compile(r"value=(\\d+)")


class Validation:
    value = None

    def test_run(self):
        proc = subprocess.run(["echo", "value=1"], capture_output=True)
        assert proc.returncode == 0
        matches = PATTERN.findall(proc.stdout.decode("utf-8", "replace"))
        assert matches
        type(self).value = float(matches[-1])

    def test_value_ge_1(self):
        assert type(self).value is not None and type(self).value >= 1

    def test_value_lt_2(self):
        assert type(self).value is not None and type(self).value < 2

"""
    width = len(str(count - 1))
    classes = [f"class TestV{i:0{width}d}(Validation):\n    pass\n" for i in range(count)]
    return head + "\n" + "\n".join(classes)


def alternate(
    sides: list[tuple[str, Path, Callable[[int], list[str]], Callable[[], None] | None]],
    *,
    env: dict[str, str],
    expect: str,
    runs: int,
) -> list[Timing]:
    """``runs`` timed runs of each side, alternating; ``(label, project, args(k), reset)``."""
    times: list[list[float]] = [[] for _ in sides]
    last_args: list[list[str]] = [[] for _ in sides]
    for k in range(runs):
        for s, (label, project, args_for, reset) in enumerate(sides):
            if reset is not None:
                reset()
            args = args_for(k)
            elapsed, proc = run_pytest(project, args, env)
            check_run(proc, expect, f"{label} run {k + 1}")
            times[s].append(round(elapsed, 4))
            last_args[s] = args
    return [
        Timing(label=label, args=last_args[s], runs_s=times[s])
        for s, (label, *_rest) in enumerate(sides)
    ]


def measure(root: Path, count: int, env: dict[str, str], options: Options) -> Result:
    name = f"{NAME} (N={count:,})"
    items = count * ITEMS_PER_VALIDATION
    spilot = write_project(
        root / f"spilot-{count}", {"validations/scale.yaml": validation_file(count)}
    )
    plain = write_project(root / f"plain-{count}", {"test_scale.py": plain_tests(count)})
    runs = 1 if count >= SINGLE_RUN_FROM else options.repeats

    def fresh_state() -> None:
        shutil.rmtree(spilot / ".spilot", ignore_errors=True)

    def spilot_args(k: int) -> list[str]:
        return [*WORKERS, "--spilot-version", f"scale-{count}-{k}"]

    try:
        for project, extra in ((spilot, []), (plain, list(NO_SPILOT))):
            _, proc = run_pytest(project, ["--collect-only", *extra], env)
            check_run(proc, rf"\b{items} tests collected\b", f"collect {project.name}")
        fresh_state()
        measured, baseline = alternate(
            [
                ("spilot", spilot, spilot_args, fresh_state),
                ("plain", plain, lambda _k: PLAIN_ARGS, None),
            ],
            env=env,
            expect=rf"\b{items} passed\b",
            runs=runs,
        )
    except BenchError as exc:
        return error_result(name, TARGET, exc)
    finally:
        shutil.rmtree(spilot, ignore_errors=True)
        shutil.rmtree(plain, ignore_errors=True)
    overhead_ms = (measured.median_s - baseline.median_s) / items * 1000
    notes = [
        f"{items:,} items ({count:,} validations x {ITEMS_PER_VALIDATION}), -n 2, median of {runs} "
        f"(spilot {measured.runs_s}, plain {baseline.runs_s}); "
        f"per-item overhead {overhead_ms:.2f} ms; per item spilot "
        f"{measured.median_s / items * 1000:.2f} ms, plain "
        f"{baseline.median_s / items * 1000:.2f} ms"
    ]
    return compare(name, measured, baseline, TARGET, notes)


def per_item_overhead(result: Result, count: int) -> float:
    return (result.measured_s - result.baseline_s) / (count * ITEMS_PER_VALIDATION)


def linearity(rows: list[tuple[int, Result]]) -> Result:
    """Per-item overhead at the largest N vs. at the smallest: flat when the cost is linear."""
    (small, first), (large, last) = rows[0], rows[-1]
    name = f"{NAME}, per-item overhead at N={large:,} vs at N={small:,}"
    low, high = per_item_overhead(first, small), per_item_overhead(last, large)
    # The per-item overhead includes spilot's fixed per-session cost (import, configuration,
    # workers' start-up) spread over the items, which flatters large N. The marginal overhead
    # between two sizes leaves that out: a cost growing with N shows there as a rising figure.
    marginal = []
    for (n0, r0), (n1, r1) in itertools.pairwise(rows):
        extra = (n1 - n0) * ITEMS_PER_VALIDATION
        delta = ((r1.measured_s - r0.measured_s) - (r1.baseline_s - r0.baseline_s)) / extra
        marginal.append(f"{n0:,}->{n1:,} {delta * 1000:.2f} ms")
    notes = [
        "per-item overhead "
        + ", ".join(f"N={n:,} {per_item_overhead(r, n) * 1000:.2f} ms" for n, r in rows),
        "marginal per-item overhead (fixed costs left out) " + ", ".join(marginal),
    ]
    if low <= 0:
        notes.append(
            f"spilot was not slower than plain at N={small:,}: the ratio of overheads is not "
            "meaningful, compare the ratio rows instead"
        )
    return Result(
        name=name,
        measured_label=f"at {large:,}",
        measured_s=high,
        baseline_label=f"at {small:,}",
        baseline_s=low,
        target=LINEAR_TARGET,
        notes=notes,
    )


def bench(options: Options) -> list[Result]:
    sizes = tuple(sorted(options.sizes or SIZES))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="spilot-bench-scale-") as tmp:
        root = Path(tmp)
        env = pytest_env(root, options)
        measured = [(count, measure(root, count, env, options)) for count in sizes]
    results += [result for _, result in measured]
    good = [(count, result) for count, result in measured if not result.error]
    if len(good) >= 2:
        results.append(linearity(good))
    return results


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
