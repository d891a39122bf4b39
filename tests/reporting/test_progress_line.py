"""The progress line and the per-worker block, from journal events and item outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytest_spilot.core.journal import (
    JobStarted,
    ProcessFinished,
    RunFinished,
    RunStarted,
    RunWaiting,
    StepProgress,
)
from pytest_spilot.core.state import JobHandle, Progress, RunRecord, ValidationInfo
from pytest_spilot.reporting.progress_line import (
    ERASE,
    CursorColumn,
    ReleaseProgress,
    block,
    elapsed,
    fit,
    width,
)

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
FILE = "validations/plan.yaml"


def started(worker: str, name: str, at: datetime = T0, host: str = "ctl") -> RunStarted:
    info = ValidationInfo(
        key=f"{FILE}::{name}", id=f"{FILE}::{name}::run", name=name, file=FILE, kind="command"
    )
    return RunStarted(validation=info, started=at, worker=worker, host=host, location="librelane")


def finished(name: str) -> RunFinished:
    run = RunRecord(
        outcome="passed",
        started=T0,
        finished=T0,
        duration_s=1.0,
        run_dir="/r",
        log="/r/job.log",
    )
    return RunFinished(key=f"{FILE}::{name}", run=run, verdict="passed")


def step(name: str, i: int, step_id: str, stage: str, at: datetime = T0) -> StepProgress:
    progress = Progress(state="running", step_index=i, step_count=6, step_id=step_id, stage=stage)
    return StepProgress(key=f"{FILE}::{name}", run_started=at, progress=progress)


def test_elapsed() -> None:
    assert [elapsed(s) for s in (0, 12.9, 60, 185, 3600, 7620, -3)] == [
        "0s",
        "12s",
        "1m00s",
        "3m05s",
        "1h00m",
        "2h07m",
        "0s",
    ]


def test_line_names_counts_and_what_each_busy_worker_runs() -> None:
    view = ReleaseProgress("ctl")
    view.total = 22
    for worker in ("gw1", "gw0", "gw10", "gw2"):
        view.add_worker(worker)
    view.apply(started("gw0", "counter"))
    view.apply(step("counter", 3, "Yosys.Synthesis", "synthesis"))
    view.apply(started("gw10", "lint[x=1]", T0 + timedelta(seconds=5)))
    view.apply(RunWaiting(key=f"{FILE}::synth", worker="gw2", waiting_for="gate lint", ts=T0))
    for outcome in ("passed", "passed", "failed", "skipped"):
        view.item_done(outcome)
    line = view.line(T0 + timedelta(seconds=12))
    assert line == (
        "spilot: [4/22] 2 passed 1 failed 1 skipped; running: gw0 counter 3/6 Yosys.Synthesis "
        "12s, gw2 synth waiting for gate lint 12s, gw10 lint[x=1] 7s"
    )


def test_a_wait_inside_a_run_ends_and_the_run_goes_on() -> None:
    view = ReleaseProgress("ctl")
    view.total = 3
    view.apply(started("gw0", "counter"))
    slot = "an Innovus licence slot"
    view.apply(RunWaiting(key=f"{FILE}::counter", worker="gw0", waiting_for=slot, ts=T0))
    assert "gw0 counter waiting for an Innovus licence slot" in view.line(T0)
    ended = T0 + timedelta(seconds=3)
    view.apply(RunWaiting(key=f"{FILE}::counter", worker="gw0", waiting_for="", ts=ended))
    line = view.line(T0 + timedelta(seconds=4))  # the run's time, not the wait's end
    assert line.endswith("running: gw0 counter 4s"), line


def test_a_finished_run_leaves_its_worker_idle() -> None:
    view = ReleaseProgress()
    view.apply(started("gw0", "a"))
    view.apply(started("gw1", "b"))
    view.apply(finished("a"))
    assert view.line(T0).endswith("running: gw1 b 0s")
    assert view.line(T0).startswith("spilot: [0/?] 0 passed 0 failed;")
    view.apply(ProcessFinished(), writer="gw1")
    assert view.line(T0).endswith("running: none")
    assert view.worker_lines(T0) == ["[gw0] idle", "[gw1] idle"]


def test_progress_of_an_earlier_run_is_not_shown() -> None:
    view = ReleaseProgress()
    view.apply(started("gw0", "flow", T0 + timedelta(seconds=30)))
    view.apply(step("flow", 5, "Yosys.Synthesis", "synthesis", at=T0))
    assert view.workers["gw0"].progress is None
    view.apply(step("flow", 2, "Checker.LintErrors", "initialization", T0 + timedelta(seconds=30)))
    assert view.workers["gw0"].step() == "2/6 Checker.LintErrors"


def test_worker_lines_say_where_for_how_long_and_the_step() -> None:
    view = ReleaseProgress("ctl")
    view.add_worker("gw2")
    view.apply(started("gw0", "counter"))
    view.apply(step("counter", 3, "Yosys.Synthesis", "synthesis"))
    view.apply(started("gw1", "far", host="node7"))
    handle = JobHandle(launcher="slurm", host="node7", owner_pid=1, job_id="4711")
    view.apply(JobStarted(key=f"{FILE}::far", run_started=T0, job=handle))
    assert view.worker_lines(T0 + timedelta(seconds=75)) == [
        "[gw0]  counter  librelane  1m15s  step 3/6 Yosys.Synthesis [synthesis]",
        "[gw1]  far  librelane on node7 job 4711  1m15s",
        "[gw2] idle",
    ]
    view.remove_worker("gw2")
    assert len(view.worker_lines(T0)) == 2


def test_fit_keeps_a_line_shorter_than_the_terminal() -> None:
    assert fit("short", 10) == "short"
    cut = fit("x" * 50, 20)
    assert cut.endswith("...") and width(cut) < 20
    assert width("\u8def\u7ebfab") == 6
    assert width(fit("\u8def" * 30, 21)) < 21


def test_block_goes_below_the_cursor_and_puts_it_back() -> None:
    text = block(["[gw0] a", "[gw1] b"], 7, 80, 24)
    assert text == "\n[gw0] a\n[gw1] b\x1b[2A\r\x1b[7C"
    assert block(["[gw0] a"], 0, 80, 24) == "\n[gw0] a\x1b[1A\r"
    assert block([], 3, 80, 24) == ""
    assert block(["a"], 80, 80, 24) == "", "the cursor's line wrapped: no block"
    many = block([f"[gw{i}] v" for i in range(30)], 0, 80, 10)
    assert many.count("\n") == 9 and "... 22 more workers" in many
    assert ERASE == "\x1b[J"


def test_cursor_column_follows_text_markup_and_carriage_returns() -> None:
    cursor = CursorColumn()
    cursor.feed("2 workers [6 items]\n")
    assert cursor.column == 0
    cursor.feed("\x1b[32m.\x1b[0m..")
    cursor.feed("F")
    assert cursor.column == 4
    cursor.feed("\rinitialized: 2/2")
    assert cursor.column == 16
    cursor.feed("\n\u8def")
    assert cursor.column == 2
