"""``regex``: a number matched in the job's log (or a file of the run), aggregated over matches."""

from __future__ import annotations

import re
from typing import ClassVar

from pytest_spilot.metrics.base import MetricContext, MetricMissing, as_number, run_file
from pytest_spilot.plan.model import RegexMetric


class RegexMetricSource:
    key: ClassVar[str] = "regex"

    def read(self, spec: RegexMetric, ctx: MetricContext) -> float:
        pattern = re.compile(spec.regex, re.MULTILINE)
        path = run_file(ctx, spec.file) if spec.file else ctx.log_path
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            what = "file" if spec.file else "log"
            raise MetricMissing(f"the job left no {what} at {path}") from None
        matches = list(pattern.finditer(text))
        if spec.aggregate == "count":
            return float(len(matches))
        if not matches:
            raise MetricMissing(f"regex {spec.regex!r} matched nothing in {path}")
        values = [
            as_number(m.group(1) if pattern.groups else m.group(0), f"match {m.group(0)!r}")
            for m in matches
        ]
        pick = {"first": values[0], "last": values[-1], "max": max(values), "min": min(values)}
        return pick[spec.aggregate]
