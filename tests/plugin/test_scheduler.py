from __future__ import annotations

import pytest

from pytest_spilot.plugin.scheduler import validation_scope


@pytest.mark.parametrize(
    ("nodeid", "scope"),
    [
        (
            "validations/p.yaml::counter[sky130A-minimal]::run",
            "validations/p.yaml::counter[sky130A-minimal]",
        ),
        ("validations/p.yaml::c::timing__setup__ws>=0", "validations/p.yaml::c"),
        ("validations/p.yml::c::x::y", "validations/p.yml::c"),
        ("tests/test_a.py::test_b", "tests/test_a.py::test_b"),
        ("tests/test_a.py::TestC::test_d", "tests/test_a.py::TestC::test_d"),
        ("validations/p.yaml", "validations/p.yaml"),
    ],
)
def test_validation_scope(nodeid: str, scope: str) -> None:
    assert validation_scope(nodeid) == scope
