"""ORFS rules files end to end: a validation's ``rules:`` judged like ``acceptance:``, a
``--orfs`` rules file written from a good run and read back, and LibreLane's aggregation of
per-corner values on the pseudo flow."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from junit_kit import outcomes, properties

from pytest_spilot.cli.rules import add_orfs_arguments, run_tighten
from pytest_spilot.core.settings import load_release

METRICS = """\
    metrics:
      synth__design__instance__area__stdcell: {regex: 'AREA=([0-9.]+)'}
      cts__timing__setup__ws: {regex: 'WS=(-?[0-9.]+)'}
      constraints__clocks__count: {regex: 'CLOCKS=([0-9]+)'}
      detailedroute__route__drc_errors: {regex: 'DRC=([0-9]+)'}
"""

RULES_PLAN = (
    """\
version: 1
validations:
  - name: gcd
    run: 'echo "AREA=2700 WS=-0.5 CLOCKS=1 DRC=2"'
    rules: rules/rules-base.json
"""
    + METRICS
)

# ORFS's own layout, with a netlist hash ORFS keeps as a warning rule.
RULES = {
    "synth__canonical_netlist__hash": {"value": "2d52d83e", "compare": "==", "level": "warning"},
    "synth__design__instance__area__stdcell": {"value": 2725, "compare": "<="},
    "constraints__clocks__count": {"value": 1, "compare": "=="},
    "cts__timing__setup__ws": {"value": -0.47, "compare": ">="},
    "detailedroute__route__drc_errors": {"value": 0, "compare": "<=", "level": "warning"},
}


def _junit(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        *args, "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )
    return result, junit


def test_a_rules_file_validation_judges_as_its_compare_says(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/plan": RULES_PLAN})
    (pytester.path / "validations" / "rules").mkdir()
    (pytester.path / "validations" / "rules" / "rules-base.json").write_text(
        json.dumps(RULES, indent=4)
    )
    result, junit = _junit(pytester, "--spilot-version", "r1")
    assert outcomes(junit) == {
        "gcd::run": "passed",
        "gcd::synth__design__instance__area__stdcell<=2725": "passed",
        "gcd::constraints__clocks__count==1": "passed",
        "gcd::cts__timing__setup__ws>=-0.47": "failed",
        # level warning: reported, never failed, as ORFS's checkMetadata.py does.
        "gcd::detailedroute__route__drc_errors<=0": "passed",
    }
    result.stdout.fnmatch_lines(["*cts__timing__setup__ws = -0.5 (>= -0.47) FAILED*"])
    assert "detailedroute__route__drc_errors = 2 (<= 0) WARNING" in result.stdout.str()
    props = properties(junit, "gcd::cts__timing__setup__ws>=-0.47")
    assert (props["metric"], props["op"], props["expected"], props["value"]) == (
        "cts__timing__setup__ws",
        ">=",
        "-0.47",
        "-0.5",
    )
    state = load_release("r1", pytester.path, pytester.path / ".spilot")
    (record,) = state.validations.values()
    assert record.thresholds_declared == [
        "synth__design__instance__area__stdcell<=2725",
        "constraints__clocks__count==1",
        "cts__timing__setup__ws>=-0.47",
        "detailedroute__route__drc_errors<=0",
    ]
    assert record.verdict == "failed"


def test_a_malformed_rules_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"validations/plan": RULES_PLAN})
    (pytester.path / "validations" / "rules").mkdir()
    broken = {"cts__timing__setup__ws": {"value": -0.47, "compare": "=>"}}
    rules = pytester.path / "validations" / "rules" / "rules-base.json"
    rules.write_text(json.dumps(broken, indent=4))
    result = pytester.runpytest_subprocess("--spilot-version", "r1")
    result.stdout.fnmatch_lines(
        [
            f"*{rules}:4: cts__timing__setup__ws.compare: unknown compare operator '=>'; use "
            "one of ==, !=, <, <=, >, >=*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert result.ret != 0


YAML_PLAN = (
    """\
version: 1
validations:
  - name: gcd
    run: 'echo "AREA=$AREA WS=-0.1 CLOCKS=1 DRC=0"'
    acceptance:
      - {metric: synth__design__instance__area__stdcell, op: "<=", value: 5000}
      - {metric: cts__timing__setup__ws, op: ">=", value: -1}
      - {metric: constraints__clocks__count, op: "==", value: 1}
      - {metric: detailedroute__route__drc_errors, op: "<=", value: 10}
"""
    + METRICS
)


def _tighten(root: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.add_argument("--update", dest="mode", action="store_const", const="update")
    parser.set_defaults(mode="tighten", clock_period=None, dry_run=False, root=root)
    add_orfs_arguments(parser)
    return run_tighten(
        parser.parse_args(argv), lambda arg: load_release(arg, root, root / ".spilot")
    )


def test_round_trip_orfs_out_then_rules_in(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = pytester.makefile(".yaml", **{"validations/plan": YAML_PLAN})
    monkeypatch.setenv("AREA", "2000")
    _, junit = _junit(pytester, "--spilot-version", "good")
    assert set(outcomes(junit).values()) == {"passed"}
    out = pytester.path / "validations" / "rules-gcd.json"
    assert _tighten(pytester.path, "good", "--orfs", str(out)) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 4 rules of validation 'gcd', 3 changed" in printed
    # The YAML policy: area padded 15 %, slack by 5 % of |slack|, counts direct, == untouched.
    assert json.loads(out.read_text()) == {
        "synth__design__instance__area__stdcell": {"value": 2300, "compare": "<="},
        "cts__timing__setup__ws": {"value": -0.105, "compare": ">="},
        "constraints__clocks__count": {"value": 1, "compare": "=="},
        "detailedroute__route__drc_errors": {"value": 0, "compare": "<="},
    }
    # In: the same validation judged by the rules file alone.
    plan.write_text(YAML_PLAN.split("    acceptance:")[0] + "    rules: rules-gcd.json\n" + METRICS)
    _, junit = _junit(pytester, "--spilot-version", "same")
    assert outcomes(junit) == {
        "gcd::run": "passed",
        "gcd::synth__design__instance__area__stdcell<=2300": "passed",
        "gcd::cts__timing__setup__ws>=-0.105": "passed",
        "gcd::constraints__clocks__count==1": "passed",
        "gcd::detailedroute__route__drc_errors<=0": "passed",
    }
    monkeypatch.setenv("AREA", "2400")  # 20 % more area than the good run: over its rule
    _, junit = _junit(pytester, "--spilot-version", "grown")
    assert outcomes(junit)["gcd::synth__design__instance__area__stdcell<=2300"] == "failed"
    assert outcomes(junit)["gcd::cts__timing__setup__ws>=-0.105"] == "passed"


CORNERS_PLAN = """\
version: 1
validations:
  - name: corners
    kind: librelane
    design: design
    pseudo:
      profile:
        "design__instance__displacement__max__corner:nom_tt_025C_1v80": 0.5
        "design__instance__displacement__max__corner:max_ss_100C_1v60": 1.5
        "design__instance__displacement__total__corner:nom_tt_025C_1v80": 2
        "design__instance__displacement__total__corner:max_ss_100C_1v60": 3
    acceptance:
      - {metric: design__instance__displacement__max, op: "<=", value: 1}
      - {metric: design__instance__displacement__total, op: "==", value: 5}
"""


def test_a_plain_name_judges_librelanes_aggregate_of_its_corners(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("librelane.common.metrics", reason="LibreLane defines the aggregation")
    pytester.makefile(".yaml", **{"validations/plan": CORNERS_PLAN})
    design = pytester.path / "validations" / "design"
    design.mkdir()
    (design / "top.v").write_text("module top(input a, output y); assign y = a; endmodule\n")
    result, junit = _junit(pytester, "--spilot-version", "r1", "--spilot-backend", "pseudo")
    # max over the corners (the worst), and the sum of the counts: LibreLane's definitions.
    assert outcomes(junit) == {
        "corners::run": "passed",
        "corners::design__instance__displacement__max<=1": "failed",
        "corners::design__instance__displacement__total==5": "passed",
    }
    result.stdout.fnmatch_lines(["*design__instance__displacement__max = 1.5 (<= 1) FAILED*"])
