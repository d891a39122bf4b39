"""spilot rules tighten: the margin policy, the three modes, and the user's YAML kept as written."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_spilot.cli.main import main
from pytest_spilot.cli.rules import (
    OrfsRules,
    add_orfs_arguments,
    new_rule,
    run_tighten,
    tighten_orfs,
)
from pytest_spilot.core.state import ReleaseState, RunRecord, ValidationRecord
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.orfs_rules import load_rules

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


# -- --orfs: the same policy, written as an OpenROAD-flow-scripts rules file -------------------


def orfs(project: Path, out: Path, mode: str = "tighten", **kwargs) -> OrfsRules:
    state = ReleaseState.model_validate_json((project / "good.json").read_text())
    return tighten_orfs(state, project, out, mode=mode, period=10.0, **kwargs)  # type: ignore[arg-type]


def test_orfs_update_writes_the_yaml_policy_in_orfs_format(project: Path) -> None:
    out = project / "rules-base.json"
    result = orfs(project, out, "update")
    # The numbers the YAML gets from --update (test above), per metric the worst matrix run.
    assert json.loads(out.read_text()) == {
        "design__instance__area": {"value": 1270, "compare": "<="},
        "route__drc_errors": {"value": 0, "compare": "<="},
        "timing__setup__ws": {"value": -0.7, "compare": ">="},
        "timing__setup__tns": {"value": -3.5, "compare": ">="},
        "design__instance__count": {"value": 92, "compare": "<="},
        "power": {"value": 1, "compare": "=="},
    }
    assert [c.metric for c in result.changes] == [
        "design__instance__area",
        "route__drc_errors",
        "timing__setup__ws",
        "timing__setup__tns",
        "design__instance__count",
    ]
    assert (project / "validations" / "blk.yaml").read_text() == PLAN  # the YAML untouched
    # What it wrote is a rules file a validation reads.
    assert [t.id for t in load_rules(out).thresholds][:2] == [
        "design__instance__area<=1270",
        "route__drc_errors<=0",
    ]


def test_orfs_modes_compare_with_an_existing_files_values(project: Path) -> None:
    out = project / "rules-base.json"
    out.write_text(
        json.dumps(
            {
                "synth__netlist__hash": {"value": "b506", "compare": "==", "level": "warning"},
                "design__instance__area": {"value": 1000, "compare": "<="},  # the ss run fails
                "route__drc_errors": {"value": 3, "compare": "<=", "level": "warning"},
            },
            indent=4,
        )
    )
    result = orfs(project, out, "failing", write=False)
    assert [(c.metric, c.old, c.new) for c in result.changes] == [
        ("design__instance__area", 1000, 1270)
    ]
    assert json.loads(out.read_text())["design__instance__area"]["value"] == 1000  # dry run
    orfs(project, out, "tighten")
    written = json.loads(out.read_text())
    # The file's own rules first, in its order; a string rule ORFS keeps passes through as is.
    assert list(written)[:3] == [
        "synth__netlist__hash",
        "design__instance__area",
        "route__drc_errors",
    ]
    assert written["synth__netlist__hash"] == {
        "value": "b506",
        "compare": "==",
        "level": "warning",
    }
    assert written["design__instance__area"] == {"value": 1000, "compare": "<="}  # looser: kept
    assert written["route__drc_errors"] == {"value": 0, "compare": "<=", "level": "warning"}
    assert written["timing__setup__ws"] == {"value": -0.7, "compare": ">="}  # from the YAML


def test_orfs_names_one_validation(project: Path) -> None:
    state = ReleaseState.model_validate_json((project / "good.json").read_text())
    other = next(iter(state.validations.values())).model_copy(
        update={"key": "validations/blk.yaml::other", "id": "other", "name": "other"}
    )
    state.validations[other.key] = other
    with pytest.raises(SpilotError, match=r"2 passed validations \(blk, other\).*--validation"):
        tighten_orfs(state, project, project / "out.json")
    with pytest.raises(SpilotError, match="no passed run of validation 'nope'"):
        tighten_orfs(state, project, project / "out.json", validation="nope")
    result = tighten_orfs(state, project, project / "out.json", validation="blk[ss]", write=False)
    assert result.validation == "blk[ss]"


def test_orfs_from_the_command_line(project: Path, capsys) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.set_defaults(mode="update", clock_period=10.0, dry_run=False, root=project)
    add_orfs_arguments(parser)
    out = project / "rules" / "blk.json"
    args = parser.parse_args([str(project / "good.json"), "--orfs", str(out)])
    load = lambda arg: ReleaseState.model_validate_json(Path(arg).read_text())  # noqa: E731
    assert run_tighten(args, load) == 0
    printed = capsys.readouterr().out
    assert re.search(r"design__instance__area\s+1050\s+1270\s+padding 15%", printed)
    assert f"wrote {out}: 6 rules of validation 'blk', 5 changed" in printed
    assert out.is_file()
