"""Pools under xdist: licence and CPU caps hold across workers, a killed run frees its tokens."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from slurm_kit import SlurmCluster, require_slurm

from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.resources import TokenPool, license_pool


def _plan(n: int, resources: str, sleep: float) -> str:
    return f"""
version: 1
defaults:
  resources: {resources}
validations:
  - name: job
    matrix: {{i: {list(range(n))}}}
    run: ["sleep", "{sleep}"]
"""


def _intervals(root: Path, version: str) -> list[tuple[datetime, datetime, float]]:
    state = ReleaseStore(root / ".spilot" / f"{version}.json").read().state
    assert state is not None
    runs = [r.run for r in state.validations.values() if r.run is not None]
    return sorted((r.started, r.finished, r.waited_s) for r in runs)


def _most_at_once(spans: list[tuple[datetime, datetime, float]], weight: int) -> int:
    edges = sorted([(s, 1) for s, _, _ in spans] + [(f, -1) for _, f, _ in spans])
    live = most = 0
    for _, step in edges:  # a finish sorts before a start at the same moment
        live += step
        most = max(most, live)
    return most * weight


def test_one_licence_serialises_three_runs_across_four_workers(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/lic": _plan(3, "{licenses: {lic: 1}}", 0.3)})
    result = pytester.runpytest_subprocess(
        "-n", "4", "-p", "no:randomly", "--spilot-version", "v1", "--spilot-license", "lic=1"
    )
    result.assert_outcomes(passed=3)
    spans = _intervals(pytester.path, "v1")
    assert len(spans) == 3
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert end <= start, f"two runs held the one licence at once: {spans}"
    # The workers start together: the later runs waited, and the journal says how long.
    assert sum(w for _, _, w in spans) > 0.2, spans


def test_two_cpus_each_on_four_never_more_than_two_at_once(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/cpus": _plan(4, "{cpus: 2}", 0.6)})
    result = pytester.runpytest_subprocess(
        "-n", "4", "-p", "no:randomly", "--spilot-version", "v1", "--spilot-cpus", "4"
    )
    result.assert_outcomes(passed=4)
    spans = _intervals(pytester.path, "v1")
    assert len(spans) == 4
    assert _most_at_once(spans, 2) <= 4, f"more than 4 cpus' worth at once: {spans}"


def test_the_plan_shows_resources_and_pools(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml", **{"validations/p": _plan(1, "{cpus: 8, licenses: {lic: 1, other: 2}}", 0)}
    )
    pytester.makepyprojecttoml("[tool.spilot.resources]\ncpus = 4\nlicenses = {lic = 2}\n")
    result = pytester.runpytest_subprocess("--spilot-plan", "--spilot-license", "other=3")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "resource pools: cpus 4 ([[]tool.spilot.resources[]] cpus), licence lic 2 "
            "([[]tool.spilot.resources[]] licenses), licence other 3 (--spilot-license)",
            "*    resources: cpus 8, licence lic 1, licence other 2; holds 4 cpus, licence lic 1, "
            "licence other 2 (asks 8 cpus, the pool has 4: holds all of them)",
        ]
    )


def test_a_bad_license_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/p": _plan(1, "{cpus: 1}", 0)})
    result = pytester.runpytest_subprocess("--spilot-license", "lic")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--spilot-license 'lic': give FEATURE=N*"])


def test_a_sigkilled_runs_licence_is_free_for_the_next_run(pytester: pytest.Pytester) -> None:
    pid_file = pytester.path / "job.pid"
    pytester.makefile(
        ".yaml",
        **{
            "validations/hold": f"""
version: 1
validations:
  - name: hold
    resources: {{licenses: {{lic: 1}}}}
    run: 'echo $$ > {pid_file}; exec sleep 30'
"""
        },
    )
    args = ["-p", "no:randomly", "--spilot-license", "lic=1"]
    killed = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args, "--spilot-version", "v1"],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pool = TokenPool(pytester.path / ".spilot" / "resources", {license_pool("lic"): 1})
    job_pid = 0
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline and killed.poll() is None, "the job never started"
            time.sleep(0.05)
        job_pid = int(pid_file.read_text())
        assert pool.try_acquire({license_pool("lic"): 1}) is None, "the run holds no licence"
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        free = pool.try_acquire({license_pool("lic"): 1})
        assert free is not None, "the killed run's licence token is still held"
        free.release()
        pid_file.unlink()
        (pytester.path / "validations" / "hold.yaml").write_text(
            "version: 1\nvalidations:\n  - name: next\n    resources: {licenses: {lic: 1}}\n"
            "    run: 'true'\n"
        )
        started = time.monotonic()
        result = pytester.runpytest_subprocess(*args, "--spilot-version", "v2", timeout=60)
        result.assert_outcomes(passed=1)
        assert time.monotonic() - started < 30
        (_, _, waited), *_ = _intervals(pytester.path, "v2")
        assert waited == 0
    finally:
        killed.kill()
        killed.wait()
        if job_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(job_pid, signal.SIGKILL)


def test_innovus_runs_share_one_licence_with_their_sessions(pytester: pytest.Pytester) -> None:
    """Sessions keep their licence between runs; a worker that must wait gives its idle one back,
    so neither worker waits for ever on the other's session."""
    pytester.makefile(
        ".yaml",
        **{
            "validations/inv": """
version: 1
validations:
  - name: skill
    kind: innovus
    skill: noop
    matrix: {i: [0, 1, 2, 3]}
    resources: {cpus: 1, licenses: {innovus: 1}}
"""
        },
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", "--spilot-backend=pseudo", "--spilot-version", "v1",
        "--spilot-innovus-licenses=1", "--spilot-cpus=1", timeout=120,
    )  # fmt: skip
    result.assert_outcomes(passed=4)
    spans = _intervals(pytester.path, "v1")
    assert _most_at_once(spans, 1) == 1, spans


def test_a_slurm_job_asks_srun_for_its_cpus_and_holds_none_here(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_slurm()
    # A cluster of its own: Slurm refuses licences it does not define.
    with SlurmCluster(extra_conf=["Licenses=lic:2"]) as cluster:
        for name, value in cluster.client_env().items():
            monkeypatch.setenv(name, value)
        _run_on_slurm(pytester)


def _run_on_slurm(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        **{
            "validations/batch": """
version: 1
validations:
  - name: on_slurm
    location: srun
    resources: {cpus: 2, licenses: {lic: 1}}
    run: 'echo "slurm_cpus=$SLURM_CPUS_PER_TASK"'
    metrics: {slurm_cpus: {regex: 'slurm_cpus=(\\d+)'}}
"""
        },
    )
    # One CPU here: a local job of cpus: 2 would hold all of it; the Slurm job holds none.
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "--spilot-version", "v1", "--spilot-cpus", "1",
        "--spilot-license", "lic=1", timeout=120,
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    state = ReleaseStore(pytester.path / ".spilot" / "v1.json").read().state
    assert state is not None
    (record,) = state.validations.values()
    assert record.run is not None
    assert record.run.metrics["slurm_cpus"] == 2
    assert record.run.held == {license_pool("lic"): 1}
    assert "--cpus-per-task=2" in record.run.command
    assert "--licenses=lic:1" in record.run.command
