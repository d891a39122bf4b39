"""A migration gate's target and reference: the registered session backends, a plugin's too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_spilot.errors import PlanErrors
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.plan.model import MigrationGate, use_session_backends

GATE = """\
version: 1
gates:
  - name: move
    kind: migration
    target: {target}
"""


@pytest.fixture
def site_backend() -> Iterator[str]:
    use_session_backends(["site_sessions"])
    try:
        yield "site_sessions"
    finally:
        use_session_backends([])


def load(tmp_path: Path, target: object) -> MigrationGate:
    path = tmp_path / "gates.yaml"
    path.write_text(GATE.format(target=target))
    gate = load_validation_file(path).gates[0]
    assert isinstance(gate, MigrationGate)
    return gate


def test_an_unknown_target_names_the_built_in_backends(tmp_path: Path) -> None:
    with pytest.raises(PlanErrors) as err:
        load(tmp_path, "reall")
    assert str(err.value).endswith(
        "gates.yaml:5: gates[0].target: 'reall' is not allowed; use one of 'pseudo', 'tcl' or "
        "'real'"
    )


def test_a_plugin_backend_is_accepted_once_registered(tmp_path: Path, site_backend: str) -> None:
    gate = load(tmp_path, site_backend)
    assert (gate.target, gate.reference) == ("site_sessions", "pseudo")
    with pytest.raises(PlanErrors) as err:
        load(tmp_path, 5)
    assert "5 is not allowed; use one of 'pseudo', 'tcl', 'real' or 'site_sessions'" in str(
        err.value
    )


def test_no_target_means_the_run_backend(tmp_path: Path) -> None:
    assert load(tmp_path, "null").target is None
