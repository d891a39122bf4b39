"""A release run killed (SIGKILL, ``-n 2``) at 20 seeded instants with jobs in flight, then
resumed: no job outlives the kill by more than 1 s, the state stays readable, no reported pass
is lost, only unfinished work runs again, and each validation ends with exactly one result.

Two chains of ten kills: each kill lands on the resume of the run killed before it (a resumed
run is killed too), and a last resume finishes the release. Each instant is a seeded offset
after the first job of that run started, so jobs are in flight when it lands; the last of each
chain is that very moment (the harness may still be starting the job).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_spilot.core.state import ReleaseState
from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.launchers.process import TOKEN_VAR

N = 20
KILLS_PER_CHAIN = 10
SEEDS = [1, 2]  # 2 chains x 10 kills = the 20 instants of quality.md
MAX_OFFSET_S = 1.0
SURVIVAL_S = 1.0


def job_seconds(i: int) -> float:
    # The last four jobs outlive any kill offset plus the survival window: once the short
    # ones have passed (kept across kills), they are in flight at every kill, so a job left
    # running is seen.
    return MAX_OFFSET_S + SURVIVAL_S + 0.3 if i >= N - 4 else 0.2 + 0.1 * (i % 3)


def kill_plan(started: Path) -> str:
    # `started` (shared) gets a line per job start: what ran, how often. `done.txt` is written
    # through $SPILOT_RUN_DIR after the sleep, so a job outliving its run (or a second copy)
    # would land a second line in the new run's directory: `done` would count 2.
    entries = "".join(
        f"  - name: j{i}\n"
        f"    run: 'echo j{i} >> {started}; sleep {job_seconds(i):.1f};\n"
        '      echo done >> "$SPILOT_RUN_DIR/done.txt"\'\n'
        "    acceptance: [{metric: done, op: '==', value: 1}]\n"
        for i in range(N)
    )
    return (
        "version: 1\n"
        "defaults:\n  metrics: {done: {regex: done, file: done.txt, aggregate: count}}\n"
        f"validations:\n{entries}"
    )


def job_processes(plan_dir: Path) -> dict[int, str]:
    """Live processes of this test's jobs (a job token and this plan's folder): pid -> argv."""
    plan = f"SPILOT_PLAN_DIR={plan_dir}".encode()
    token = f"{TOKEN_VAR}=".encode()
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            environ = (entry / "environ").read_bytes().split(b"\0")
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # gone meanwhile
        if state != b"Z" and plan in environ and any(v.startswith(token) for v in environ):
            found[int(entry.name)] = argv.strip()
    return found


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def survivors(plan_dir: Path) -> dict[int, str]:
    """Job processes still alive ``SURVIVAL_S`` after the kill; they are killed, then listed."""
    killed = time.monotonic()
    while job_processes(plan_dir) and time.monotonic() - killed < SURVIVAL_S:
        time.sleep(0.02)
    left = job_processes(plan_dir)
    for pid in left:  # leave nothing behind for the next kill or test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def started_lines(started: Path) -> list[str]:
    return started.read_text().split() if started.exists() else []


def passed_ids(state: ReleaseState | None) -> set[str]:
    return {r.id for r in state.validations.values() if r.passed} if state else set()


@dataclass
class Kill:
    """One link of the chain, for the summary printed at the end."""

    offset_s: float
    in_flight: int  # job processes alive as the kill landed
    passed_before: int
    passed_after: int
    started: int


def kill_once(
    pytester: pytest.Pytester, cmd: list[str], store: ReleaseStore, where: str, offset: float
) -> Kill:
    """Start the (resumed) release, SIGKILL it ``offset`` s after its first job started, check."""
    plan_dir = pytester.path / "validations"
    started = pytester.path / "started"
    before = passed_ids(store.read().state)
    ran_before = len(started_lines(started))
    journals_before = set(store.journal_dir.glob("*.jsonl")) if store.exists() else set()
    log = pytester.path / f"{where.replace(' ', '_').replace(',', '')}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=pytester.path, start_new_session=True, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            first = size(started)
            # Finely: offset 0 must land while the harness is still starting that job.
            while size(started) == first and proc.poll() is None:
                assert time.monotonic() < deadline, f"{where}: no job started within 60 s"
                time.sleep(0.0005)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(offset)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            in_flight = len(job_processes(plan_dir))  # after the kill: scanning takes a while
            proc.wait()
            # The workers die a moment after the controller: read the journal once they have
            # (a writer still alive may yet finish its last line, so that is no torn line).
            gone = time.monotonic() + 10
            while group_members(proc.pid) and time.monotonic() < gone:
                time.sleep(0.01)
            left = survivors(plan_dir)
    assert not left, f"{where}: job processes outlived the SIGKILLed run by {SURVIVAL_S} s: {left}"

    # The worst instant of all as well: a journal writer killed in the middle of a line.
    journals = sorted(set(store.journal_dir.glob("*.jsonl")) - journals_before)
    if journals:
        with journals[-1].open("ab") as fh:
            fh.write(b'{"event": "threshold_judged", "key": "validati')
    folded = store.read()  # never raises, whatever the instant
    if journals:
        assert any("torn last line" in w for w in folded.warnings), f"{where}: {folded.warnings}"
    state = folded.state
    after = passed_ids(state)
    assert before <= after, f"{where}: passed before the kill, not after: {before - after}"
    reported = re.findall(r"PASSED validations/r\.yaml::(j\d+)::(\S+)", log.read_text())
    for validation, item in reported:
        assert state is not None, f"{where}: {validation}::{item} reported passed, nothing kept"
        record = state.validations[f"validations/r.yaml::{validation}"]
        kept = record.run if item == "run" else record.thresholds.get(item)
        assert kept is not None and kept.outcome == "passed", (
            f"{where}: {validation}::{item} was reported passed but is {kept} in the state"
        )
    ran = started_lines(started)[ran_before:]
    rerun = sorted(set(ran) & before)
    assert not rerun, f"{where}: passed before this run, started again: {rerun}"
    assert len(ran) == len(set(ran)), f"{where}: a job started twice in one run: {sorted(ran)}"
    return Kill(offset, in_flight, len(before), len(after), len(ran))


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_random_instants_then_resume(pytester: pytest.Pytester, seed: int) -> None:
    """Ten seeded kills of the same release, each on the resume of the last, then a full
    resume: every validation ends passed with exactly one result in its own run directory."""
    started = pytester.path / "started"
    pytester.makefile(".yaml", **{"validations/r": kill_plan(started)})
    version = f"k{seed}"
    store = ReleaseStore(pytester.path / ".spilot" / f"{version}.json", version)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-v"]
    cmd += ["--spilot-version", version]
    rng = random.Random(seed)
    kills = []
    for k in range(1, KILLS_PER_CHAIN + 1):
        # The last kill lands the moment a job starts (a long one by then: the short ones have
        # passed), while the harness may still be starting it and telling its reaper.
        offset = rng.uniform(0, MAX_OFFSET_S) if k < KILLS_PER_CHAIN else 0.0
        where = f"seed {seed}, kill {k} at {offset:.2f} s after the first job"
        resume = ["--spilot-resume"] if k > 1 else []
        kills.append(kill_once(pytester, [*cmd, *resume], store, where, offset))
    for k, kill in enumerate(kills, 1):
        print(f"seed {seed} kill {k}: {kill}")
    # The scan for survivors would miss jobs it cannot see: it must have seen jobs in flight.
    assert any(kill.in_flight for kill in kills), f"seed {seed}: no kill found a job in flight"

    where = f"seed {seed}, resume after {KILLS_PER_CHAIN} kills"
    folded = store.read()
    passed = passed_ids(folded.state)
    ran_before = len(started_lines(started))
    resumed = pytester.run(*cmd, "--spilot-resume", timeout=120)
    if any("torn last line" in w for w in folded.warnings):
        resumed.stdout.fnmatch_lines(["*spilot journal: warning: *torn last line*"])
    outcomes = resumed.parseoutcomes()
    assert (outcomes.get("passed", 0), outcomes.get("skipped", 0)) == (
        2 * (N - len(passed)),
        2 * len(passed),
    ), f"{where}: {outcomes} with {len(passed)} of {N} passed before"
    ran = started_lines(started)[ran_before:]
    assert sorted(ran) == sorted({f"j{i}" for i in range(N)} - passed), (
        f"{where}: started {sorted(ran)}, passed before: {sorted(passed)}"
    )
    final = store.read().state
    assert final is not None and len(final.validations) == N, where
    for record in final.validations.values():
        assert record.passed, f"{where}: {record.id} has not passed"
        assert record.run is not None and record.run.metrics == {"done": 1}, (
            f"{where}: {record.id} found {record.run and record.run.metrics} results in its run"
        )
