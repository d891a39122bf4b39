from __future__ import annotations

from pathlib import Path

from pytest_spilot.plan.expand import expand
from pytest_spilot.plan.model import ValidationFile


def test_matrix_ids_and_substitution():
    plan = ValidationFile.model_validate(
        {
            "validations": [
                {
                    "name": "counter",
                    "matrix": {"pdk": ["sky130A", "gf180mcuC"], "preset": ["minimal", "balanced"]},
                    "run": ["echo", "{pdk}", "${HOME}", "{'a': 1}", "{other}"],
                    "env": {"P": "{preset}"},
                    "metrics": {"m": {"regex": "{pdk}"}},
                }
            ]
        }
    )
    planned = list(expand(plan, Path("/x/v.yaml"), "v.yaml"))
    assert [p.id for p in planned] == [
        "counter[sky130A-minimal]",
        "counter[sky130A-balanced]",
        "counter[gf180mcuC-minimal]",
        "counter[gf180mcuC-balanced]",
    ]
    first = planned[0]
    assert first.key == "v.yaml::counter[sky130A-minimal]"
    assert first.spec.run == ["echo", "sky130A", "${HOME}", "{'a': 1}", "{other}"]
    assert first.spec.env == {"P": "minimal"}
    assert first.spec.metrics["m"].regex == "{pdk}"  # never into regexes
    assert first.matrix_env == {"SPILOT_MATRIX_PDK": "sky130A", "SPILOT_MATRIX_PRESET": "minimal"}
