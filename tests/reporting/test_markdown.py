"""``spilot compare OLD NEW --markdown``: a pull-request comment's table."""

from __future__ import annotations

from pytest_spilot.core.regressions import MetricChange, compare_runs
from pytest_spilot.core.state import RunRecord
from pytest_spilot.reporting.markdown import compare_markdown


def run(**metrics: float) -> RunRecord:
    return RunRecord(
        outcome="passed",
        started="2026-12-01T00:00:00Z",  # type: ignore[arg-type]
        finished="2026-12-01T00:00:01Z",  # type: ignore[arg-type]
        duration_s=1,
        run_dir="r",
        log="r/job.log",
        metrics=metrics,
        directions={
            "area": "lower_is_better",
            "fmax": "higher_is_better",
            "drc": "lower_is_better",
        },
    )


def changes() -> list[MetricChange]:
    old = run(area=100, fmax=50, drc=0, wires=7, gone_metric=1)
    new = run(area=110, fmax=60, drc=0, wires=7, new_metric=2)
    return compare_runs("top|level[ss]", old, new)


def table_rows(text: str) -> list[list[str]]:
    """The table's body rows, split at unescaped '|'."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith(("| validation", "| ---")):
            cells = line.replace("\\|", "\x00").strip("|").split("|")
            rows.append([c.strip().replace("\x00", "|") for c in cells])
    return rows


def test_regressions_first_then_improvements_unchanged_counted() -> None:
    text = compare_markdown(changes(), "2026.11", "2026.12")
    assert text.startswith("### Release `2026.11` → `2026.12`\n")
    assert "**1 regression**, 1 improvement, 2 unchanged (of 6 metrics)" in text
    rows = table_rows(text)
    assert [r[1] for r in rows] == ["area", "fmax", "new_metric", "gone_metric"]
    assert rows[0] == ["top|level[ss]", "area", "100", "110", "+10.0%", "❌ **regressed**"]
    assert rows[1][5] == "✅ better"
    # Unchanged metrics are only counted: drc and wires are in no row.
    assert not {"drc", "wires"} & {r[1] for r in rows}


def test_pipes_and_newlines_cannot_break_the_table() -> None:
    text = compare_markdown(changes(), "a|b", "c\nd")
    assert "`a\\|b`" in text and "`c d`" in text
    header = next(line for line in text.splitlines() if line.startswith("| validation"))
    for line in text.splitlines():
        if line.startswith("| "):
            assert line.replace("\\|", "").count("|") == header.count("|")


def test_nothing_changed_is_one_line_without_a_table() -> None:
    same = compare_runs("v", run(area=1), run(area=1))
    text = compare_markdown(same, "r1", "r2")
    assert "**0 regressions**, 0 improvements, 1 unchanged (of 1 metrics)" in text
    assert "| validation" not in text
