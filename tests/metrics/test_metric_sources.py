from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_spilot.metrics.base import MetricContext, MetricMissing
from pytest_spilot.metrics.jsonfile import JsonMetricSource
from pytest_spilot.metrics.regex import RegexMetricSource
from pytest_spilot.plan.model import JsonMetric, RegexMetric


@pytest.fixture
def ctx(tmp_path: Path) -> MetricContext:
    (tmp_path / "job.log").write_text("SPS=3\nSPS: 7.5\nSPS=1\n")
    (tmp_path / "m.json").write_text(json.dumps({"a": {"b": [{"c": 4}], "s": "x"}}))
    return MetricContext(tmp_path / "job.log", tmp_path)


@pytest.mark.parametrize(
    ("aggregate", "value"), [("first", 3), ("last", 1), ("max", 7.5), ("min", 1), ("count", 3)]
)
def test_regex_aggregates(ctx, aggregate, value):
    spec = RegexMetric(regex=r"SPS[=:]\s*([0-9.]+)", aggregate=aggregate)
    assert RegexMetricSource().read(spec, ctx) == value


def test_regex_without_match_is_missing(ctx):
    with pytest.raises(MetricMissing, match="matched nothing"):
        RegexMetricSource().read(RegexMetric(regex=r"WNS=(\d+)"), ctx)


def test_json_dotted_path_with_index(ctx):
    assert JsonMetricSource().read(JsonMetric(json="m.json", path="a.b.0.c"), ctx) == 4


@pytest.mark.parametrize(
    ("file", "path", "why"),
    [
        ("none.json", "a", "does not exist"),
        ("m.json", "a.z", "no key"),
        ("m.json", "a.s", "not a number"),
    ],
)
def test_json_missing(ctx, file, path, why):
    with pytest.raises(MetricMissing, match=why):
        JsonMetricSource().read(JsonMetric(json=file, path=path), ctx)


def test_a_link_out_of_the_run_directory_is_refused(ctx, tmp_path_factory):
    """A job (or a hostile plan) may leave a symbolic link; metrics do not follow it out."""
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.json"
    outside.write_text(json.dumps({"a": 1}))
    (ctx.run_dir / "out.json").symlink_to(outside)
    with pytest.raises(MetricMissing, match="leads outside the run directory"):
        JsonMetricSource().read(JsonMetric(json="out.json", path="a"), ctx)
    with pytest.raises(MetricMissing, match="leads outside the run directory"):
        RegexMetricSource().read(RegexMetric(regex="a", file="out.json"), ctx)
    # Named absolute on purpose in the plan, the same file is read.
    assert JsonMetricSource().read(JsonMetric(json=str(outside), path="a"), ctx) == 1
