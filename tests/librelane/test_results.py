"""Run results: final metrics, a failed run's metrics from its last state, artifacts."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_spilot.librelane.results import artifacts, flatten_metrics, read_run_metrics


def test_flatten_keeps_corners_and_drops_non_numbers() -> None:
    flat = flatten_metrics(
        {"a": 1, "b__corner:tt": -0.5, "c": "2.5", "d": None, "e": "n/a", "f": True}
    )
    assert flat == {"a": 1.0, "b__corner:tt": -0.5, "c": 2.5, "f": 1.0}


def test_final_metrics_else_the_last_state(tmp_path: Path) -> None:
    for i, name in enumerate(["verilator-lint", "checker-linterrors", "yosys-synthesis"], 1):
        step = tmp_path / f"{i}-{name}"
        (step / "reports").mkdir(parents=True)
        (step / "reports" / "r.rpt").write_text("x")
        if i < 3:  # the failing step wrote no state_out.json
            (step / "state_out.json").write_text(json.dumps({"metrics": {"m": i}}))
    metrics, source = read_run_metrics(tmp_path)
    assert metrics == {"m": 2.0} and source.endswith("2-checker-linterrors/state_out.json")
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "metrics.json").write_text(json.dumps({"m": 7, "n": 1.5}))
    (tmp_path / "flow.log").write_text("")
    assert read_run_metrics(tmp_path)[0] == {"m": 7.0, "n": 1.5}
    names = [p.relative_to(tmp_path).as_posix() for p in artifacts(tmp_path)]
    assert names[:2] == ["flow.log", "final/metrics.json"]
    assert "3-yosys-synthesis/reports/r.rpt" in names


def test_direction_comes_from_librelane_when_installed() -> None:
    import importlib.util

    import pytest

    from pytest_spilot.librelane.results import metric_direction

    spec = importlib.util.find_spec("librelane")
    if spec is None or spec.origin is None:  # tests/librelane/ alone is a namespace package
        assert metric_direction("timing__setup__ws") is None
        pytest.skip("librelane is not installed: directions are unknown (pip install librelane)")
    assert metric_direction("timing__setup__ws").higher_is_better is True
    assert metric_direction("timing__setup__ws__corner:nom_tt_025C_1v80").higher_is_better
    lint = metric_direction("design__lint_error__count")
    assert lint.higher_is_better is False and lint.critical is True
    assert metric_direction("site__own__metric") is None
