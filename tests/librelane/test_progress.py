"""Following flow.log: position from the step list, partial lines, failures, the JSONL file."""

from __future__ import annotations

from pathlib import Path

from pytest_spilot.librelane.progress import (
    FlowLogFollower,
    ProgressFile,
    read_progress,
    stages_for,
)

STEPS = [
    "Verilator.Lint",
    "Checker.LintErrors",
    "Yosys.JsonHeader",
    "Yosys.Synthesis",
    "Checker.YosysUnmappedCells",
    "OpenROAD.Floorplan",
    "Odb.CheckMacroAntennaProperties",
    "OpenROAD.GlobalPlacement",
    "OpenROAD.CTS",
    "OpenROAD.DetailedRouting",
    "Magic.StreamOut",
    "Magic.DRC",
    "Netgen.LVS",
]


def running(step: str, n: int) -> str:
    return f"Running '{step}' at 'runs/t1/{n:02d}-{step.lower().replace('.', '-')}'\u2026\n"


def test_stages_come_from_the_step_list() -> None:
    assert stages_for(STEPS) == [
        "initialization",
        "initialization",
        "synthesis",
        "synthesis",
        "synthesis",
        "floorplan",
        "floorplan",  # an Odb step no rule names keeps the stage before it
        "placement",
        "cts",
        "routing",
        "gdsii",
        "drc",
        "lvs",
    ]


def test_follows_a_growing_log_with_partial_lines(tmp_path: Path) -> None:
    log = tmp_path / "flow.log"
    seen = []
    follower = FlowLogFollower(log, STEPS, seen.append)
    assert follower.poll() is None  # no log yet
    text = running("Verilator.Lint", 1) + "Lint clean.\n" + running("Checker.LintErrors", 2)
    head, tail = text[:-20], text[-20:]
    log.write_text(head)
    assert follower.poll().step_id == "Verilator.Lint"  # the cut line is not read yet
    with log.open("a") as fh:
        fh.write(tail + "Skipping step 'Floorplan Init'\u2026\n" + running("Yosys.Synthesis", 4))
    progress = follower.poll()
    assert (progress.step_index, progress.step_count, progress.stage) == (4, 13, "synthesis")
    assert progress.percent == round(100 * 3 / 13, 1)
    with log.open("a") as fh:
        fh.write("Flow complete.\n")
    assert follower.poll().state == "complete" and follower.last.percent == 100.0
    assert [p.step_id for p in seen[:3]] == [
        "Verilator.Lint",
        "Checker.LintErrors",
        "Yosys.Synthesis",
    ]


def test_failure_message_even_across_reads(tmp_path: Path) -> None:
    log = tmp_path / "flow.log"
    log.write_text(
        running("Verilator.Lint", 1)
        + running("Checker.LintErrors", 2)
        + "1 Lint errors found.\n"
        + "The following error was encountered while running the flow:\n"
    )
    follower = FlowLogFollower(log, STEPS)
    follower.poll()
    assert follower.failure is None
    with log.open("a") as fh:
        fh.write("1 Lint errors found.\n")
    last = follower.poll()
    assert last.state == "failed" and last.step_id == "Checker.LintErrors"
    assert follower.failure == "1 Lint errors found."


def test_marker_text_inside_a_line_is_not_a_step(tmp_path: Path) -> None:
    log = tmp_path / "flow.log"
    log.write_text("note: Running 'Yosys.Synthesis' is next\n" + running("Verilator.Lint", 1))
    assert FlowLogFollower(log, STEPS).finish().step_id == "Verilator.Lint"


def test_unknown_step_keeps_the_position_and_last_line_without_newline(tmp_path: Path) -> None:
    log = tmp_path / "flow.log"
    log.write_text(running("Yosys.Synthesis", 4) + "Running 'Site.Custom' at 'x'\u2026")
    follower = FlowLogFollower(log, STEPS)
    assert follower.poll().step_id == "Yosys.Synthesis"
    last = follower.finish()
    assert (last.step_id, last.step_index, last.stage) == ("Site.Custom", 4, "synthesis")


def test_progress_file(tmp_path: Path) -> None:
    log = tmp_path / "flow.log"
    log.write_text(running("Verilator.Lint", 1) + "Flow complete.\n")
    FlowLogFollower(log, STEPS, ProgressFile(tmp_path)).finish()
    states = [(p.state, p.step_index) for p in read_progress(tmp_path)]
    assert states == [("running", 1), ("complete", 13)]


def test_a_line_cut_over_three_reads(tmp_path: Path) -> None:
    log = tmp_path / "flow.log"
    follower = FlowLogFollower(log, STEPS)
    for piece in ("Runn", "ing 'Yosys.Synth", "esis' at 'x'\u2026\nnoise\n"):
        with log.open("a") as fh:
            fh.write(piece)
        follower.poll()
    assert follower.last.step_id == "Yosys.Synthesis" and follower.last.step_index == 4
