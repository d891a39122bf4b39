"""``resources:`` in validation files: defaults merge key by key, bad values name line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.loader import load_validation_file

PLAN = """
version: 1
defaults:
  resources: {cpus: 2, licenses: {innovus: 1}}
validations:
  - name: inherits
    run: 'true'
  - name: more_cpus
    run: 'true'
    resources: {cpus: 8}
  - name: own_licences
    run: 'true'
    resources: {licenses: {genus: 2}}
  - name: plain
    run: 'true'
"""


def test_defaults_merge_with_each_entrys_resources(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    got = {v.name: v.resources for v in load_validation_file(path).validations}
    assert (got["inherits"].cpus, got["inherits"].licenses) == (2, {"innovus": 1})
    assert (got["more_cpus"].cpus, got["more_cpus"].licenses) == (8, {"innovus": 1})
    # A mapping of the entry replaces the default's (its licences are its own).
    assert (got["own_licences"].cpus, got["own_licences"].licenses) == (2, {"genus": 2})


def test_without_resources_a_validation_asks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("version: 1\nvalidations:\n  - name: a\n    run: 'true'\n")
    (validation,) = load_validation_file(path).validations
    assert validation.resources.cpus is None and validation.resources.licenses == {}


@pytest.mark.parametrize(
    ("resources", "says"),
    [
        ("{cpus: 0}", "plan.yaml:5: validations[0].resources.cpus: Input should be greater than"),
        ("{licenses: {innovus: 0}}", "validations[0].resources.licenses.innovus"),
        ("{licenses: {innovus: two}}", "expected an integer (got 'two')"),
        ("{licenses: {'a b': 1}}", "'a b' is not a valid name"),
        ("{gpus: 1}", "unknown key 'gpus'; did you mean 'cpus'?"),
    ],
)
def test_bad_resources_name_the_line_and_field(tmp_path: Path, resources: str, says: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"version: 1\nvalidations:\n  - name: a\n    run: 'true'\n    resources: {resources}\n"
    )
    with pytest.raises(SpilotError) as info:
        load_validation_file(path)
    assert says in str(info.value)


def test_bad_defaults_resources_are_reported_on_defaults(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "version: 1\ndefaults:\n  resources: {cpus: -1}\n"
        "validations:\n  - name: a\n    run: 'true'\n"
    )
    with pytest.raises(SpilotError) as info:
        load_validation_file(path)
    assert "plan.yaml:3: defaults.resources.cpus" in str(info.value)
