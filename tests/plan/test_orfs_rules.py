"""ORFS rules files (rules-base.json) read as thresholds: the format, its errors, the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_spilot.core.acceptance import judge
from pytest_spilot.errors import PlanError, PlanErrors
from pytest_spilot.plan.expand import expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.plan.orfs_rules import load_rules, parse_rules, render_rules

# As OpenROAD-flow-scripts writes it (flow/designs/sky130hd/gcd/rules-base.json, abridged).
ORFS = """\
{
    "synth__canonical_netlist__hash": {
        "value": "2d52d83e4335613155bbcc7c1113b31061bba5c3",
        "compare": "==",
        "level": "warning"
    },
    "synth__design__instance__area__stdcell": {
        "value": 2725,
        "compare": "<="
    },
    "constraints__clocks__count": {
        "value": 1,
        "compare": "=="
    },
    "cts__timing__setup__ws": {
        "value": -0.47,
        "compare": ">="
    },
    "flow__warnings__count:GRT-0097": {
        "value": 3,
        "compare": "<=",
        "level": "warning"
    }
}
"""


def test_entries_become_thresholds_with_the_ids_of_hand_written_ones(tmp_path: Path) -> None:
    rules = parse_rules(ORFS, tmp_path / "rules-base.json")
    assert [t.id for t in rules.thresholds] == [
        "synth__design__instance__area__stdcell<=2725",
        "constraints__clocks__count==1",
        "cts__timing__setup__ws>=-0.47",
        "flow__warnings__count:GRT-0097<=3",
    ]
    assert [t.level for t in rules.thresholds] == ["error", "error", "error", "warning"]
    # A fingerprint ORFS compares as a string cannot be judged on numbers: skipped, and said.
    assert [m for m, _ in rules.skipped] == ["synth__canonical_netlist__hash"]
    assert rules.lines["cts__timing__setup__ws"] == 15


def test_the_old_list_format_is_read_too(tmp_path: Path) -> None:
    text = json.dumps({"rules": [{"field": "a__b", "value": 3, "compare": "<"}]})
    assert [t.id for t in parse_rules(text, tmp_path / "r.json").thresholds] == ["a__b<3"]


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            '{\n  "a__b": {"value": 1, "compare": "=<"}\n}',
            2,
            "a__b.compare",
            "unknown compare operator '=<'; use one of ==, !=, <, <=, >, >=",
        ),
        ('{\n  "a__b": {"value": 1}\n}', 2, "a__b.compare", "required key 'compare' is missing"),
        (
            '{\n  "a__b": {\n    "value": 1,\n    "compare": "<",\n    "margin": 2\n  }\n}',
            5,
            "a__b.margin",
            "unknown key 'margin'; an entry holds value, compare, level",
        ),
        (
            '{\n  "a__b": {\n    "value": 1,\n    "compare": "<",\n    "level": "info"\n  }\n}',
            5,
            "a__b.level",
            "'info' is not a level",
        ),
        (
            '{\n  "a__b": {\n    "compare": "==",\n    "value": "fast"\n  }\n}',
            4,
            "a__b.value",
            'mark the rule "level": "warning"',
        ),
        ('{\n  "a__b": {"value": true, "compare": "<"}\n}', 2, "a__b.value", "must be a number"),
        ('{\n  "a__b": 3\n}', 2, "a__b", "expected an object with value and compare (got 3)"),
        ('{\n  "a__b": {"value": 1, "compare": "<"},\n', 3, None, "not valid JSON"),
        ("[1, 2]", 1, None, "the top level is not a JSON object"),
        ("{}", 1, None, "the file has no rules"),
        (
            '{\n  "a": {"value": 1, "compare": "<"},\n  "a": {"value": 2, "compare": "<"}\n}',
            2,
            "a",
            "metric 'a' has more than one rule",
        ),
    ],
)
def test_a_malformed_rules_file_is_one_paragraph_naming_file_line_field_and_fix(
    tmp_path: Path, text: str, line: int, field: str | None, words: str
) -> None:
    path = tmp_path / "rules-base.json"
    path.write_text(text)
    with pytest.raises(PlanError) as caught:
        load_rules(path)
    error = caught.value
    assert (error.path, error.line, error.field) == (path, line, field)
    assert words in str(error)
    assert str(error).startswith(f"{path}:{line}:")
    assert "\n" not in str(error)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = '{\n  "a": {"value": 1, "compare": "~"},\n  "b": {"value": 1}\n}'
    with pytest.raises(PlanErrors) as caught:
        parse_rules(text, tmp_path / "r.json")
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "a.compare"), (3, "b.compare")]


@pytest.mark.parametrize(
    ("op", "value", "passes"),
    [
        ("<=", 2725, True),
        ("<=", 2726, False),
        ("<", 2725, False),
        (">=", -0.47, True),
        (">=", -0.48, False),
        (">", -0.47, False),
        ("==", 1, True),
        ("==", 2, False),
        ("!=", 2, True),
        ("!=", 1, False),
    ],
)
def test_thresholds_pass_and_fail_as_their_compare_says(
    tmp_path: Path, op: str, value: float, passes: bool
) -> None:
    rule_value = {"<=": 2725, "<": 2725, ">=": -0.47, ">": -0.47, "==": 1, "!=": 1}[op]
    text = json.dumps({"m__x": {"value": rule_value, "compare": op}})
    (threshold,) = parse_rules(text, tmp_path / "r.json").thresholds
    verdict = judge(threshold, {"m__x": value}, {})
    assert verdict.outcome == ("passed" if passes else "failed"), verdict.message


def test_render_writes_what_it_reads(tmp_path: Path) -> None:
    entries = {
        "a__count": {"value": 12.0, "compare": "<=", "level": None},
        "b__ws": {"value": -0.125, "compare": ">=", "level": "warning"},
    }
    text = render_rules(entries)
    assert json.loads(text) == {
        "a__count": {"value": 12, "compare": "<="},
        "b__ws": {"value": -0.125, "compare": ">=", "level": "warning"},
    }
    assert [t.id for t in parse_rules(text, tmp_path / "r.json").thresholds] == [
        "a__count<=12",
        "b__ws>=-0.125",
    ]


PLAN = """\
version: 1
validations:
  - name: blk
    matrix: {platform: [sky130hd, asap7]}
    run: ['true']
    rules: rules/{platform}.json
    acceptance:
      - {metric: a__area, op: "<=", value: 50}
"""


def _rules(folder: Path, name: str, entries: dict[str, object]) -> None:
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "rules" / name).write_text(json.dumps(entries, indent=4))


def test_a_validation_takes_its_rules_file_relative_to_the_plan(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN)
    _rules(
        tmp_path,
        "sky130hd.json",
        {"a__area": {"value": 99, "compare": "<="}, "a__count": {"value": 5, "compare": "<="}},
    )
    _rules(tmp_path, "asap7.json", {"a__count": {"value": 7, "compare": "<"}})
    planned = {v.id: v for v in expand(load_validation_file(plan_file), plan_file, "plan.yaml")}
    sky, asap = planned["blk[sky130hd]"], planned["blk[asap7]"]
    # acceptance wins for a metric both name; the rules file's entry on it is left out.
    assert [t.id for t in sky.thresholds] == ["a__area<=50", "a__count<=5"]
    assert [t.id for t in sky.rules_overridden] == ["a__area<=99"]
    assert [t.id for t in asap.thresholds] == ["a__area<=50", "a__count<7"]
    rule = sky.thresholds[1]
    assert sky.threshold_loc(rule) == ("validations", 0, "rules")
    assert sky.threshold_where(rule) == ((tmp_path / "rules" / "sky130hd.json").resolve(), 6)
    assert sky.threshold_where(sky.thresholds[0]) == (plan_file, 8)


def test_a_missing_rules_file_names_the_plan_line(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN)
    with pytest.raises(PlanError) as caught:
        list(expand(load_validation_file(plan_file), plan_file, "plan.yaml"))
    error = caught.value
    assert (error.path, error.line, error.field) == (plan_file, 6, "validations[0].rules")
    assert "rules file 'rules/sky130hd.json' does not exist" in str(error)
    assert "relative to the validation file" in str(error)


def test_a_broken_rules_file_is_reported_as_the_rules_file(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN)
    _rules(tmp_path, "sky130hd.json", {"a__count": {"value": 5, "compare": "=>"}})
    with pytest.raises(PlanError) as caught:
        list(expand(load_validation_file(plan_file), plan_file, "plan.yaml"))
    assert caught.value.path == (tmp_path / "rules" / "sky130hd.json").resolve()
    assert caught.value.field == "a__count.compare"
