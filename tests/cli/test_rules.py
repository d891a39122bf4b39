"""spilot rules tighten: the margin policy, the three modes, and the user's YAML kept as written."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_spilot.cli.main import main
from pytest_spilot.cli.rules import new_rule
from pytest_spilot.core.state import ReleaseState, RunRecord, ValidationRecord

NOW = datetime(2026, 12, 1, tzinfo=UTC)

PLAN = """\
# Release rules for block A: this comment stays.
version: 1
validations:
  - name: blk
    matrix: {corner: [tt, ss]}
    run: ['true']
    acceptance:
      # area may grow 15 %
      - {metric: design__instance__area, op: "<=", value: 1050}   # trailing comment
      - metric: route__drc_errors   # block style
        op: "<="
        value: 10
      - {metric: timing__setup__ws, op: ">=", value: -1}
      - {metric: timing__setup__tns, op: ">=", value: -5.0}
      - {metric: design__instance__count, op: "<=", value: 90}
      - {metric: power, op: "==", value: 1.0}
"""

RUNS = {
    "tt": {
        "design__instance__area": 1000.0,
        "route__drc_errors": 0,
        "timing__setup__ws": 0.12,
        "timing__setup__tns": 0.0,
        "design__instance__count": 73,
        "power": 1.0,
    },
    "ss": {
        "design__instance__area": 1100.0,
        "route__drc_errors": 0,
        "timing__setup__ws": -0.2,
        "timing__setup__tns": -1.5,
        "design__instance__count": 80,
        "power": 1.0,
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "validations").mkdir()
    (tmp_path / "validations" / "blk.yaml").write_text(PLAN)
    validations = {}
    for corner, metrics in RUNS.items():
        key = f"validations/blk.yaml::blk[{corner}]"
        run = RunRecord(
            outcome="passed",
            started=NOW,
            finished=NOW,
            duration_s=1,
            run_dir="r",
            log="l",
            metrics=metrics,
        )
        validations[key] = ValidationRecord(
            key=key,
            id=f"blk[{corner}]",
            name="blk",
            file="validations/blk.yaml",
            kind="command",
            run=run,
        )
    state = ReleaseState(version="good", validations=validations)
    (tmp_path / "good.json").write_text(state.model_dump_json())
    return tmp_path


def tighten(project: Path, *flags: str) -> int:
    return main(
        [
            "rules",
            "tighten",
            str(project / "good.json"),
            "--root",
            str(project),
            "--clock-period",
            "10",
            *flags,
        ]
    )


def test_update_rewrites_every_rule_keeping_comments(project: Path, capsys) -> None:
    assert tighten(project, "--update") == 0
    out = capsys.readouterr().out
    assert "rewrote 5 thresholds" in out
    assert re.search(r"design__instance__area\s+1050\s+1270\s+padding 15%", out)
    assert re.search(r"timing__setup__ws\s+-1\s+-0.7\s+5% of clock period 10", out)
    assert (project / "validations" / "blk.yaml").read_text() == PLAN.replace(
        "value: 1050}", "value: 1270}"
    ).replace("value: 10\n", "value: 0\n").replace("value: -1}", "value: -0.7}").replace(
        "value: -5.0}", "value: -3.5}"
    ).replace("value: 90}", "value: 92}")


def test_tighten_only_where_stricter_and_failing_only_where_failed(project: Path, capsys) -> None:
    assert tighten(project, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would rewrite (--dry-run) 3 thresholds" in out  # drc, ws, tns; not area, not count
    assert (project / "validations" / "blk.yaml").read_text() == PLAN
    assert tighten(project, "--failing") == 0
    out = capsys.readouterr().out
    assert "rewrote 1 threshold" in out and "design__instance__area" in out  # ss fails 1050
    text = (project / "validations" / "blk.yaml").read_text()
    assert "value: 1270}   # trailing comment" in text and "value: 10\n" in text


@pytest.mark.parametrize(
    ("metric", "op", "value", "period", "expected"),
    [
        ("design__instance__area", "<=", 404.162, None, 465.0),  # +15 %, 3 significant figures
        ("design__instance__count", "<=", 73, None, 84.0),  # 83.95 -> 84, a count
        ("route__drc_errors", "<=", 0, None, 0.0),  # direct
        ("timing__setup__ws", ">=", 0.3, 10.0, -0.5),  # neg 0: 5 % of the period
        ("timing__setup__ws", ">=", -2.0, 10.0, -2.5),
        ("timing__setup__tns", ">=", -40.0, 10.0, -48.0),  # 20 % of |neg| > 20 % of period
        ("sps", ">=", 2100, None, 1780.0),  # a lower bound pads downwards
    ],
)
def test_margin_policy(metric, op, value, period, expected) -> None:
    rule = new_rule(metric, op, value, period)
    assert rule is not None and rule[0] == expected
