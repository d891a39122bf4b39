"""``json``: a number at a dotted key path in a JSON file of the run directory."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pytest_spilot.metrics.base import MetricContext, MetricMissing, as_number, run_file
from pytest_spilot.plan.model import JsonMetric


def lookup(data: Any, dotted_path: str) -> Any:
    """Follow ``a.b.0.c`` through mappings and lists; KeyError names the first missing step."""
    node = data
    for step in dotted_path.split("."):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif (
            isinstance(node, list)
            and step.lstrip("-").isdigit()
            and -len(node) <= int(step) < len(node)
        ):
            node = node[int(step)]
        else:
            raise KeyError(step)
    return node


class JsonMetricSource:
    key: ClassVar[str] = "json"

    def read(self, spec: JsonMetric, ctx: MetricContext) -> float:
        path = run_file(ctx, spec.file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MetricMissing(f"{path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise MetricMissing(f"{path} is not readable JSON ({exc})") from None
        try:
            value = lookup(data, spec.path)
        except KeyError as exc:
            raise MetricMissing(f"{path} has no key {spec.path!r} (no {exc.args[0]!r})") from None
        return as_number(value, f"{spec.path} in {path}")
