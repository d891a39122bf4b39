"""Shared helpers for the benchmark scripts: run pytest in a project, time it, report a row."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPEATS = 3
# Environment variables that would change what the pytest subprocess does.
_SCRUBBED_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_XDIST_AUTO_NUM_WORKERS")
# The plain-pytest baselines run with the spilot plugin blocked, so its whole cost is charged.
NO_SPILOT = ("-p", "no:spilot")


class BenchError(RuntimeError):
    """A pytest run did not do what the benchmark expects: its timing would be meaningless."""


@dataclass
class Timing:
    """Wall-clock seconds of every repetition and their median."""

    label: str
    args: list[str]
    runs_s: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)


@dataclass
class Result:
    """One benchmark row: measured vs. baseline, their ratio, the target and the verdict."""

    name: str
    measured_label: str
    measured_s: float
    baseline_label: str
    baseline_s: float
    target: float
    runs: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ratio(self) -> float:
        return self.measured_s / self.baseline_s if self.baseline_s > 0 else float("inf")

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        return "PASS" if self.ratio <= self.target else "MISS"

    def line(self) -> str:
        if self.error:
            return f"{self.name}: ERROR {self.error}"
        return (
            f"{self.name}: {self.measured_label} {self.measured_s:.2f} s vs "
            f"{self.baseline_label} {self.baseline_s:.2f} s -> {self.ratio:.2f}x "
            f"(target <= {self.target:g}x) {self.verdict}"
        )

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["ratio"] = round(self.ratio, 4) if not self.error else None
        data["verdict"] = self.verdict
        data["line"] = self.line()
        return data


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Create a project under ``root``; an empty pytest.ini makes ``root`` the rootdir."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}


def run_pytest(project: Path, args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``python -m pytest -p no:cacheprovider -q ARGS`` in ``project``; wall-clock seconds."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=project, env=_env(), capture_output=True, text=True, check=False
    )
    return time.perf_counter() - start, proc


def _check(proc: subprocess.CompletedProcess[str], expect: str, label: str) -> None:
    """``expect`` is a regex the output must contain (e.g. ``\\b200 passed\\b``)."""
    if proc.returncode != 0 or not re.search(expect, proc.stdout):
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BenchError(
            f"{label}: pytest exited {proc.returncode}, expected output matching "
            f"{expect!r}; last lines:\n{tail}"
        )


def time_pytest(
    project: Path,
    args: list[str],
    *,
    expect: str,
    label: str,
    repeats: int = REPEATS,
    warmup: bool = True,
) -> Timing:
    """Median of ``repeats`` timed runs, after one untimed warm-up run (page cache, .pyc)."""
    if warmup:
        _, proc = run_pytest(project, args)
        _check(proc, expect, label)
    runs = []
    for _ in range(repeats):
        elapsed, proc = run_pytest(project, args)
        _check(proc, expect, label)
        runs.append(round(elapsed, 4))
    return Timing(label=label, args=args, runs_s=runs)


def compare(
    name: str, measured: Timing, baseline: Timing, target: float, notes: list[str] | None = None
) -> Result:
    return Result(
        name=name,
        measured_label=measured.label,
        measured_s=measured.median_s,
        baseline_label=baseline.label,
        baseline_s=baseline.median_s,
        target=target,
        runs={measured.label: measured.runs_s, baseline.label: baseline.runs_s},
        notes=notes or [],
    )


def error_result(name: str, target: float, exc: Exception) -> Result:
    return Result(
        name=name,
        measured_label="",
        measured_s=0.0,
        baseline_label="",
        baseline_s=0.0,
        target=target,
        error=str(exc),
    )


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help=f"timed runs per case (default {REPEATS})"
    )
    return parser.parse_args()


def report(results: list[Result], as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
        return
    for result in results:
        print(result.line())
        for note in result.notes:
            print(f"    {note}")


def main(description: str, bench: Callable[[int], list[Result]]) -> int:
    """Run ``bench(repeats)`` and report; benchmarks report, they never fail the exit code."""
    args = parse_args(description)
    report(bench(args.repeats), args.json)
    return 0
