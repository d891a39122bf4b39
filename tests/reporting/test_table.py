from __future__ import annotations

from pytest_spilot.reporting.table import ReleaseTable


def test_row_keeps_the_worst_outcome_and_metrics():
    table = ReleaseTable()
    table.add_item(
        "v", "passed", {"spilot": "run", "location": "local", "duration_s": "1.5", "attempts": 2}
    )
    table.add_item(
        "v",
        "passed",
        {"spilot": "threshold", "metric": "sps", "value": "2100", "verdict": "warning"},
    )
    table.add_item("v", "failed", {"spilot": "threshold", "metric": "wns", "value": "-0.1"})
    table.add_item("w", "skipped", {"spilot": "run"})
    text = table.render(["state: s.json"])
    lines = text.splitlines()
    assert lines[0].split() == [
        "validation",
        "location",
        "result",
        "key",
        "metrics",
        "time",
        "attempts",
    ]
    assert lines[1].split()[:3] == ["v", "local", "failed"]
    assert "sps=2100, wns=-0.1" in lines[1] and "1.50s" in lines[1]
    assert lines[2].split()[:3] == ["w", "-", "skipped"]
    assert lines[-1] == "state: s.json"
