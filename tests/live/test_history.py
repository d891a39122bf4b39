"""A folder's metric history and the comparison of two releases, from real release documents."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_kit import Val, make_release

from pytest_spilot.core.regressions import compare_states
from pytest_spilot.core.store import read_release
from pytest_spilot.errors import SpilotError
from pytest_spilot.live.history import compare_view, history_view
from pytest_spilot.redact import Redactor

T0 = datetime(2026, 11, 1, tzinfo=UTC)
AREA = "validations/p.yaml::area"
TIMING = "validations/p.yaml::timing"
LOWER = {"area": "lower_is_better"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three releases, made in the order b-first, a-second, c-third (names sort otherwise)."""
    spilot = tmp_path / ".spilot"
    areas = {"b-first": 100.0, "a-second": 110.0, "c-third": 104.0}
    for n, (version, area) in enumerate(areas.items()):
        vals = [
            Val(
                AREA,
                {"area": area, "cells": 10.0 + n},
                directions=LOWER,
                thresholds=[("area", "<=", 120.0 - n, "passed")],
                regressed=["area"] if version == "a-second" else [],
            )
        ]
        if version != "a-second":  # a validation missing from one release
            vals.append(Val(TIMING, {"wns": -0.1 * n}, thresholds=[("wns", ">=", -1.0, "passed")]))
        make_release(spilot, version, T0 + timedelta(days=n), vals)
    # Written last is the oldest: the order must come from the documents, not the files.
    later = (spilot / "c-third.json").stat().st_mtime + 100
    os.utime(spilot / "b-first.json", (later, later))
    return spilot


def test_history_is_oldest_first_with_one_series_per_validation_and_metric(folder: Path) -> None:
    view = history_view(folder, Redactor())
    assert view.versions == ["b-first", "a-second", "c-third"]
    series = {(s.key, s.metric): s for s in view.series}
    assert set(series) == {(AREA, "area"), (AREA, "cells"), (TIMING, "wns")}
    area = series[(AREA, "area")]
    assert [(p.version, p.value, p.regressed) for p in area.points] == [
        ("b-first", 100.0, False),
        ("a-second", 110.0, True),
        ("c-third", 104.0, False),
    ]
    assert area.direction == "lower_is_better"
    # The latest release's rule: area <= 118 (120 - 2), not the first release's 120.
    assert (area.threshold_op, area.threshold) == ("<=", 118.0)
    assert series[(AREA, "cells")].threshold is None
    assert series[(AREA, "cells")].direction is None
    # A release that did not run the validation has no point (not a zero).
    assert [p.version for p in series[(TIMING, "wns")].points] == ["b-first", "c-third"]


def test_history_of_an_empty_or_missing_folder_is_empty(tmp_path: Path) -> None:
    assert history_view(tmp_path / "none", Redactor()).versions == []
    assert history_view(tmp_path, Redactor()).series == []


def test_history_follows_a_release_still_being_written(folder: Path, tmp_path: Path) -> None:
    from pytest_spilot.core.journal import RunFinished, RunStarted
    from pytest_spilot.core.state import RunRecord, ValidationInfo
    from pytest_spilot.core.store import ReleaseStore

    store = ReleaseStore(folder / "d-running.json", "d-running")
    writer = store.writer("gw0", tmp_path)
    try:
        info = ValidationInfo(key=AREA, id="area", name="area", file="p.yaml", kind="command")
        at = T0 + timedelta(days=9)
        writer.write(RunStarted(validation=info, started=at, worker="gw0", host="h", location="x"))
        run = RunRecord(
            outcome="passed",
            started=at,
            finished=at,
            duration_s=1,
            run_dir="r",
            log="r/job.log",
            metrics={"area": 90.0},
        )
        writer.write(RunFinished(key=AREA, run=run, verdict="passed"))
        view = history_view(folder, Redactor())
    finally:
        writer.close()
    assert view.versions[-1] == "d-running"
    area = next(s for s in view.series if s.metric == "area")
    assert area.points[-1].value == 90.0


def test_compare_view_is_spilot_compare(folder: Path) -> None:
    view = compare_view(folder, "b-first", "a-second", Redactor())
    assert (view.old, view.new) == ("b-first", "a-second")
    old, new = read_release(folder / "b-first.json"), read_release(folder / "a-second.json")
    assert old is not None and new is not None
    expected = compare_states(old, new)
    assert [(r.metric, r.old, r.new, r.change, r.verdict) for r in view.rows] == [
        (c.metric, c.old, c.new, c.change, c.verdict) for c in expected
    ]
    area = next(r for r in view.rows if r.metric == "area")
    assert (area.old, area.new, area.change, area.verdict) == (100.0, 110.0, "+10.0%", "regressed")
    assert area.key == AREA  # the key: one id may be in several plan files


def test_compare_view_names_an_unknown_release(folder: Path) -> None:
    with pytest.raises(SpilotError, match="nope: no such release state"):
        compare_view(folder, "nope", "c-third", Redactor())


def test_views_are_redacted(tmp_path: Path) -> None:
    spilot = tmp_path / ".spilot"
    secret_key = "validations/p.yaml::lic-hunter2-check"
    make_release(spilot, "r1", T0, [Val(secret_key, {"area": 1.0})])
    make_release(spilot, "r2", T0, [Val(secret_key, {"area": 2.0})])
    redactor = Redactor(["LM_LICENSE_FILE"], {"LM_LICENSE_FILE": "hunter2"})
    history = history_view(spilot, redactor)
    assert "hunter2" not in history.model_dump_json()
    assert history.series[0].key == "validations/p.yaml::lic-***-check"
    compare = compare_view(spilot, "r1", "r2", redactor)
    assert "hunter2" not in compare.model_dump_json() and compare.rows
