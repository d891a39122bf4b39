"""LibreLane's aggregation of per-corner values into the plain metric name, by its definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_spilot.librelane.results import aggregate_metrics, read_run_metrics

pytest.importorskip("librelane.common.metrics", reason="LibreLane defines the aggregation")

TT, SS = "corner:nom_tt_025C_1v80", "corner:max_ss_100C_1v60"


def test_the_plain_name_is_the_worst_corner_by_librelanes_definition() -> None:
    found = aggregate_metrics(
        {
            f"timing__setup__ws__{TT}": 0.0,  # a 0 corner still counts (min, not 'or inf')
            f"timing__setup__ws__{SS}": 0.25,
            f"timing__hold_vio__count__{TT}": 2,
            f"timing__hold_vio__count__{SS}": 3,
            f"ir__drop__worst__{TT}": 0.1,
            f"ir__drop__worst__{SS}": 0.3,
        }
    )
    assert found["timing__setup__ws"] == 0.0  # min of slacks
    assert found["timing__hold_vio__count"] == 5  # sum of violations
    assert found["ir__drop__worst"] == 0.3  # max of drops


def test_what_the_run_wrote_stays_and_unknown_or_iterations_are_not_aggregated() -> None:
    given = {
        f"timing__setup__ws__{TT}": -0.5,
        "timing__setup__ws": -0.5,
        f"power__total__{TT}": 1.0,
        "power__total": 7.0,  # LibreLane's own value, kept as the run reported it
        "route__drc_errors__iter:1": 9,  # dont_aggregate: iterations are not corners
        f"site__own__metric__{TT}": 1,  # no LibreLane definition
        f"design__instance__count__{TT}": 4,  # defined, but without an aggregator
    }
    found = aggregate_metrics(given)
    assert found == given


def test_several_modifiers_fill_every_shorter_name() -> None:
    found = aggregate_metrics(
        {
            f"timing__hold__ws__{TT}__clock:a": 1.0,
            f"timing__hold__ws__{TT}__clock:b": 0.5,
            f"timing__hold__ws__{SS}__clock:a": 2.0,
        }
    )
    assert found["timing__hold__ws"] == 0.5
    assert found[f"timing__hold__ws__{TT}"] == 0.5
    assert found[f"timing__hold__ws__{SS}"] == 2.0


def test_a_failed_runs_last_state_is_aggregated_too(tmp_path: Path) -> None:
    step = tmp_path / "12-openroad-stapostpnr"
    step.mkdir()
    metrics = {f"timing__setup_vio__count__{TT}": 1, f"timing__setup_vio__count__{SS}": 4}
    (step / "state_out.json").write_text(json.dumps({"metrics": metrics}))
    found, source = read_run_metrics(tmp_path)
    assert found["timing__setup_vio__count"] == 5
    assert source == str(step / "state_out.json")
