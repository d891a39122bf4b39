from __future__ import annotations

import pytest

from pytest_spilot.core.acceptance import compare, judge
from pytest_spilot.plan.model import Threshold


@pytest.mark.parametrize(
    ("value", "op", "expected", "ok"),
    [
        (1, "==", 1, True),
        (1, "!=", 1, False),
        (1, "<", 2, True),
        (2, "<=", 2, True),
        (2, ">", 2, False),
        (2, ">=", 2, True),
    ],
)
def test_operators(value, op, expected, ok):
    assert compare(value, op, expected) is ok


def test_tolerance_loosens():
    assert compare(1.04, "==", 1.0, 0.05) and not compare(1.06, "==", 1.0, 0.05)
    assert compare(1.04, "<=", 1.0, 0.05) and compare(0.96, ">=", 1.0, 0.05)


def test_missing_metric_fails_and_warning_level_warns():
    t = Threshold(metric="m", op=">=", value=1)
    verdict = judge(t, {}, {"m": "regex matched nothing"})
    assert verdict.outcome == "failed" and verdict.message.startswith("metric missing: m")
    warn = Threshold(metric="m", op=">=", value=5, level="warning")
    assert judge(warn, {"m": 1.0}, {}).outcome == "warning"


def test_failed_run_never_passes_a_threshold():
    verdict = judge(Threshold(metric="m", op=">=", value=0), {"m": 1.0}, {}, run_error="exit 2")
    assert verdict.outcome == "failed" and verdict.message == "run failed: exit 2"


def test_baseline_ratio():
    t = Threshold(metric="cells", op="<=", baseline=1.05)
    assert judge(t, {"cells": 104.0}, {}, baseline={"cells": 100.0}).outcome == "passed"
    assert judge(t, {"cells": 106.0}, {}, baseline={"cells": 100.0}).outcome == "failed"
    assert "--spilot-baseline" in judge(t, {"cells": 1.0}, {}).message
