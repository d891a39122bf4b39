"""Hostile validation files (the corpus in ``hostile/``): each gets its one exact error from
``hostile/expected.yaml``, naming file, line and field; none gives a traceback, hangs, or runs
anything, and the alias bombs are refused in bounded memory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
import yaml

import pytest_spilot
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.expand import expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.plan.model import ValidationFile

HOSTILE = Path(__file__).parent / "hostile"
EXPECTED = yaml.safe_load((HOSTILE / "expected.yaml").read_text())
LOAD: dict[str, str] = EXPECTED["load"]
COLLECT: dict[str, str] = EXPECTED["collect"]
HANG_S = 10  # far beyond any file here (the slowest loads in ~0.2 s)
MEMORY_BOUND_MB = 100


class Hang(BaseException):
    """Raised in a load that takes too long (BaseException: no ``except`` in the loader eats it)."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still loading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_every_file_of_the_corpus_has_its_expected_error() -> None:
    files = {p.name for p in HOSTILE.iterdir()} - {"expected.yaml"}
    assert files | {"missing.yaml"} == set(LOAD) | set(COLLECT)
    assert not (HOSTILE / "missing.yaml").exists()


@pytest.mark.parametrize("case", sorted([*LOAD, *COLLECT]))
def test_the_loader_gives_the_exact_error(case: str) -> None:
    """No traceback (only SpilotError), no hang, and the text of expected.yaml to the letter."""
    path = HOSTILE / case
    with deadline(HANG_S):
        try:
            load_validation_file(path)
            error = None
        except SpilotError as exc:  # anything else is a traceback for the user
            error = str(exc)
    expected = LOAD.get(case)  # the COLLECT cases load: their error comes from pytest
    assert error == (expected.replace("{file}", str(path)) if expected else None)


MEASURE = """
import json, resource, sys, time
from pathlib import Path
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.loader import load_validation_file

# Imports and building the models are not the bomb's: load a good file first.
load_validation_file(Path(sys.argv[2]))
# A regression must fail this test, not swap the machine to death.
vm_kib = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
limit = vm_kib * 1024 + 1024**3
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    load_validation_file(Path(sys.argv[1]))
    message = None
except SpilotError as exc:
    message = str(exc)
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
print(json.dumps({"message": message, "seconds": seconds, "grown_mb": grown / 1024}))
"""


@pytest.mark.parametrize("case", ["alias_bomb.yaml", "alias_bomb_9_levels.yaml"])
def test_an_alias_bomb_is_refused_in_bounded_memory(tmp_path: Path, case: str) -> None:
    """quality.md: refused in under 1 s and 100 MB. Peak RSS is asserted; time only shown."""
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nvalidations:\n  - {name: v, run: [echo], env: {A: '1'}}\n")
    path = HOSTILE / case
    # The package as imported here, wherever it lives (a checkout need not be installed).
    pythonpath = os.pathsep.join(
        [str(Path(pytest_spilot.__file__).parent.parent), os.environ.get("PYTHONPATH", "")]
    )
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(good)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    seconds, grown = measured["seconds"], measured["grown_mb"]
    print(f"{case}: refused in {seconds:.3f} s, peak RSS +{grown:.1f} MB")
    assert measured["message"] == LOAD[case].replace("{file}", str(path))
    assert grown < MEMORY_BOUND_MB


def test_the_corpus_under_pytest_runs_nothing(pytester: pytest.Pytester) -> None:
    """Each file is its own collection error with its exact text; a good file beside them runs
    (so the check that nothing else ran can fail)."""
    plans = pytester.path / "validations"
    plans.mkdir()
    cases = {**LOAD, **COLLECT}
    cases.pop("missing.yaml")  # pytest itself reports a path it cannot find
    for case in cases:
        shutil.copy(HOSTILE / case, plans / case)
    (plans / "good.yaml").write_text(
        "version: 1\nvalidations:\n  - name: good\n    run: 'touch \"$SPILOT_PLAN_DIR/GOOD\"'\n"
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--strict-markers", "-rA", timeout=120
    )
    out = result.stdout.str()
    assert result.ret == 1, out
    result.assert_outcomes(passed=1, errors=len(cases))
    for case, expected in cases.items():
        assert expected.replace("{file}", str(plans / case)) in out, case
    assert "Traceback" not in out + result.stderr.str()
    assert (plans / "GOOD").exists()
    assert not [p for p in pytester.path.rglob("RAN")], "a hostile file ran its command"


def test_anchors_and_merge_keys_in_ordinary_use_still_load(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "version: 1\nvalidations:\n"
        "  - &base {name: a, run: [echo], env: &env {A: '1'}, timeout_s: 5}\n"
        "  - {<<: *base, name: b, env: *env}\n"
        "  - name: c\n    run: [echo]\n    env: *env\n"
        "    metrics: {m: {json: /abs/golden.json, path: x}, n: {regex: 'x', file: out/r.txt}}\n"
    )
    plan = load_validation_file(path)
    assert [v.name for v in plan.validations] == ["a", "b", "c"]
    assert [v.env for v in plan.validations] == [{"A": "1"}] * 3


MARKER_PLACES = {
    "entry": (
        "validations:\n  - name: v\n    run: [echo]\n    markers: [smoke, odd]\n",
        4,
        "validations[0].markers[1]",
    ),
    "defaults": (
        "defaults:\n  markers:\n    - odd\nvalidations:\n  - {name: v, run: [echo]}\n",
        3,
        "defaults.markers[0]",
    ),
    "file": (
        "markers: [odd]\ngates:\n  - {name: v, run: [echo], markers: [gate]}\n",
        1,
        "markers[0]",
    ),
}


@pytest.mark.parametrize("place", sorted(MARKER_PLACES))
def test_a_marker_found_wrong_after_loading_is_named_where_it_is_written(
    tmp_path: Path, place: str
) -> None:
    """Collection refuses an unregistered marker after the file loaded; the error still
    names the line of the ``markers:`` item that brought it in."""
    text, line, field = MARKER_PLACES[place]
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    (validation,) = expand(load_validation_file(path), path, "plan.yaml")
    error = validation.plan_error("not registered", validation.marker_loc("odd"))
    assert str(error) == f"{path}:{line}: {field}: not registered"


def test_a_plan_built_in_code_has_no_lines() -> None:
    plan = ValidationFile.model_validate(
        {"validations": [{"name": "v", "run": ["echo"], "markers": ["odd"]}]}
    )
    (validation,) = expand(plan, Path("/x/plan.yaml"), "plan.yaml")
    error = validation.plan_error("not registered", validation.marker_loc("odd"))
    assert str(error) == "/x/plan.yaml: validations[0].markers[0]: not registered"
