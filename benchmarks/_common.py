"""Shared helpers for the benchmark scripts: run pytest in a project, time it, report a row."""

from __future__ import annotations

import argparse
import json
import os
import platform
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
    limit_s: float | None = None  # an absolute target (latencies); the baseline is context

    @property
    def unit(self) -> tuple[float, str]:
        return (1000.0, "ms") if max(self.measured_s, self.baseline_s) < 1 else (1.0, "s")

    @property
    def ratio(self) -> float:
        return self.measured_s / self.baseline_s if self.baseline_s > 0 else float("inf")

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.limit_s is not None:
            return "PASS" if self.measured_s <= self.limit_s else "MISS"
        return "PASS" if self.ratio <= self.target else "MISS"

    def line(self) -> str:
        if self.error:
            return f"{self.name}: ERROR {self.error}"
        if self.limit_s is not None:
            scale, unit = self.unit
            return (
                f"{self.name}: {self.measured_label} {self.measured_s * scale:.3f} {unit} "
                f"(target <= {self.limit_s * scale:g} {unit}) {self.verdict}; "
                f"{self.baseline_label} {self.baseline_s * scale:.3f} {unit} "
                f"-> {self.ratio:.3f}x of it"
            )
        scale, unit = self.unit
        digits = 1 if unit == "ms" else 2
        measured = f"{self.measured_s * scale:.{digits}f} {unit}"
        baseline = f"{self.baseline_s * scale:.{digits}f} {unit}"
        return (
            f"{self.name}: {self.measured_label} {measured} vs {self.baseline_label} {baseline} "
            f"-> {self.ratio:.2f}x (target <= {self.target:g}x) {self.verdict}"
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


@dataclass(frozen=True)
class Options:
    """Command-line options shared by every benchmark script."""

    repeats: int = REPEATS
    bytecode_cache: bool = True
    sizes: tuple[int, ...] = ()  # bench_scale.py's numbers of validations; () = its defaults


def pytest_env(tmp: Path, options: Options) -> dict[str, str]:
    """The environment of the pytest runs.

    With ``bytecode_cache`` (the default), byte-code caching is on even where the caller set
    PYTHONDONTWRITEBYTECODE, and the cache lives in ``tmp`` (PYTHONPYCACHEPREFIX), so the
    source tree gets no __pycache__ folders. Without it, modules that have no cached byte code
    (an editable install, modules pytest rewrites) are compiled again by every process.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    if options.bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def run_pytest(
    project: Path, args: list[str], env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``python -m pytest -p no:cacheprovider -q ARGS`` in ``project``; wall-clock seconds."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def check_run(proc: subprocess.CompletedProcess[str], expect: str, label: str) -> None:
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
    env: dict[str, str],
    expect: str,
    label: str,
    repeats: int = REPEATS,
    warmup: bool = True,
) -> Timing:
    """Median of ``repeats`` timed runs, after one untimed warm-up run (page cache, .pyc)."""
    if warmup:
        _, proc = run_pytest(project, args, env)
        check_run(proc, expect, label)
    runs = []
    for _ in range(repeats):
        elapsed, proc = run_pytest(project, args, env)
        check_run(proc, expect, label)
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


def machine() -> dict[str, object]:
    """What the figures depend on: cores, load average (other work skews them), Python."""
    return {
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def parse_args(description: str) -> tuple[Options, bool]:
    """``(options, as_json)`` from the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help=f"timed runs per case (default {REPEATS})"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the caller's byte-code settings (e.g. PYTHONDONTWRITEBYTECODE=1)",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=(),
        help="bench_scale.py only: numbers of validations, comma-separated "
        "(default 300,3000,10000)",
    )
    args = parser.parse_args()
    options = Options(
        repeats=args.repeats, bytecode_cache=not args.no_bytecode_cache, sizes=args.sizes
    )
    return options, args.json


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers: {text!r}")
    return sizes


def report(
    results: list[Result], as_json: bool, before: dict[str, object], options: Options
) -> None:
    after = machine()
    if as_json:
        data = {
            "machine": {**before, "loadavg_after": after["loadavg"]},
            "options": asdict(options),
            "results": [r.to_json() for r in results],
        }
        print(json.dumps(data, indent=2))
        return
    for result in results:
        print(result.line())
        for note in result.notes:
            print(f"    {note}")
    cache = "on" if options.bytecode_cache else "off"
    print(
        f"# {before['cores']} cores, Python {before['python']}, byte-code cache {cache}, "
        f"load average before {before['loadavg']} after {after['loadavg']}"
    )


def main(description: str, bench: Callable[[Options], list[Result]]) -> int:
    """Run ``bench(options)`` and report; benchmarks report, they never fail the exit code."""
    options, as_json = parse_args(description)
    before = machine()
    report(bench(options), as_json, before, options)
    return 0
