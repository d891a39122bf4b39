"""Run directories: fresh for every run, earlier runs kept beside it."""

from __future__ import annotations

from pathlib import Path

from pytest_spilot.core.execution import KEPT_RUNS, fresh_run_dir


def test_each_run_gets_a_fresh_directory_and_earlier_runs_stay_beside_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "v" / "job[1]"
    logs = []
    for run in range(KEPT_RUNS + 2):
        fresh_run_dir(run_dir)
        assert list(run_dir.iterdir()) == []
        log = (run_dir / "job.log").open("a")
        log.write(f"run {run}\n")
        log.flush()
        logs.append(log)
    # A writer of an earlier run, still holding its log, writes where that run now is.
    logs[-2].write("late\n")
    for log in logs:
        log.close()
    assert (run_dir / "job.log").read_text() == f"run {KEPT_RUNS + 1}\n"
    assert (tmp_path / "v" / "job[1]~1" / "job.log").read_text() == f"run {KEPT_RUNS}\nlate\n"
    assert (tmp_path / "v" / f"job[1]~{KEPT_RUNS}" / "job.log").read_text() == (
        f"run {KEPT_RUNS - 1}\n"
    )
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == [
        "job[1]",
        *(f"job[1]~{n}" for n in range(1, KEPT_RUNS + 1)),
    ]
