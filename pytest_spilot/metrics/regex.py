"""``regex``: a number matched in the job's log, aggregated over all matches."""

from __future__ import annotations

import re
from typing import ClassVar

from pytest_spilot.metrics.base import MetricContext, MetricMissing, as_number
from pytest_spilot.plan.model import RegexMetric


class RegexMetricSource:
    key: ClassVar[str] = "regex"

    def read(self, spec: RegexMetric, ctx: MetricContext) -> float:
        pattern = re.compile(spec.regex, re.MULTILINE)
        try:
            text = ctx.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise MetricMissing(f"the job left no log at {ctx.log_path}") from None
        matches = list(pattern.finditer(text))
        if spec.aggregate == "count":
            return float(len(matches))
        if not matches:
            raise MetricMissing(f"regex {spec.regex!r} matched nothing in {ctx.log_path}")
        values = [
            as_number(m.group(1) if pattern.groups else m.group(0), f"match {m.group(0)!r}")
            for m in matches
        ]
        pick = {"first": values[0], "last": values[-1], "max": max(values), "min": min(values)}
        return pick[spec.aggregate]
