"""Hostile validation files: one clear error each, naming file, line and field; no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_spilot.errors import PlanError, PlanErrors
from pytest_spilot.plan.loader import load_validation_file

CORPUS = {
    "syntax": ("validations:\n  - name: a\n    run: [true\n", 4, "YAML syntax error"),
    "tabs": ("validations:\n\t- name: a\n", 2, "YAML syntax error"),
    "top_list": ("- a\n- b\n", 1, "top level must be a mapping"),
    "empty": ("", 1, "the file is empty"),
    "dup_key": ("version: 1\nversion: 1\n", 2, "appears twice"),
    "unknown_top": ("version: 1\nvalidatons: []\n", 2, "did you mean 'validations'?"),
    "near_miss": (
        "validations:\n  - name: a\n    runn: [x]\n",
        3,
        "unknown key 'runn'; did you mean 'run'?",
    ),
    "wrong_type": (
        "validations:\n  - name: a\n    run: [x]\n    timeout_s: fast\n",
        4,
        "validations[0].timeout_s: expected a number (got 'fast')",
    ),
    "bad_regex": (
        "validations:\n  - name: a\n    run: [x]\n    metrics:\n      m: {regex: 'a(('}\n",
        5,
        "invalid regular expression",
    ),
    "bad_op": (
        "validations:\n  - name: a\n    run: [x]\n    acceptance:\n"
        "      - {metric: m, op: '=>', value: 1}\n",
        5,
        "'=>' is not allowed",
    ),
    "value_and_baseline": (
        "validations:\n  - name: a\n    run: [x]\n    acceptance:\n"
        "      - {metric: m, op: '<=', value: 1, baseline: 1.05}\n",
        5,
        "exactly one of 'value'",
    ),
    "unknown_kind": ("validations:\n  - name: a\n    kind: flute\n", 3, "'kind' must be one of"),
    "dup_name": (
        "validations:\n  - {name: a, run: [x]}\n  - {name: a, run: [y]}\n",
        3,
        "duplicate name 'a'",
    ),
    "empty_matrix": (
        "validations:\n  - name: a\n    run: [x]\n    matrix: {pdk: []}\n",
        4,
        "validations[0].matrix.pdk",
    ),
    "bad_name": ("validations:\n  - {name: 'a b', run: [x]}\n", 2, "not a valid name"),
    "bad_metric": (
        "validations:\n  - name: a\n    run: [x]\n    metrics:\n      m: {jsn: f}\n",
        5,
        "a metric names exactly one source",
    ),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_hostile_file(tmp_path: Path, case: str) -> None:
    text, line, expected = CORPUS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises((PlanError, PlanErrors)) as info:
        load_validation_file(path)
    message = str(info.value)
    assert f"{path}:{line}:" in message
    assert expected in message
    assert "Traceback" not in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"nope\.yaml: file not found"):
        load_validation_file(tmp_path / "nope.yaml")


def test_defaults_beneath_entries(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(
        "markers: [smoke]\ndefaults:\n  timeout_s: 5\n  env: {A: '1', B: '1'}\n"
        "  markers: [remote]\nvalidations:\n"
        "  - {name: a, run: [x], env: {B: '2'}, timeout_s: 9, markers: [gate]}\n"
        "  - {name: b, run: [x]}\n"
    )
    a, b = load_validation_file(path).validations
    assert a.timeout_s == 9 and b.timeout_s == 5
    assert a.env == {"A": "1", "B": "2"} and b.env == {"A": "1", "B": "1"}
    assert a.markers == ["remote", "gate"]
