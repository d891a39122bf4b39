"""Which failures are transient: retried per ``retries``, never a real failure.

A failed attempt is retried when the launcher says it was transient (a dropped SSH
connection), when its exit code is listed in ``retry_on.exit_codes``, or when a line the
attempt wrote to the log matches one of ``retry_on.patterns`` or, unless the validation turns
them off, one of the built-in patterns below. A threshold that is missed is judged after the
run and so is never a reason to run again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from pytest_spilot.plan.model import RetryOn
from pytest_spilot.runners.base import RunOutcome

# What known tools print when the failure lies outside the job; each a label and a pattern.
BUILTIN_PATTERNS: dict[str, str] = {
    "licence checkout failed": (
        r"(?i)(licen[cs]e checkout failed|unable to check ?out (a )?licen[cs]e|"
        r"checkout failed for|licensed number of users already reached|"
        r"cannot connect to licen[cs]e server|licen[cs]e server (machine )?is down|"
        r"flex(net|lm) licensing error:-(4|15|96|97)\b|all licen[cs]es (are )?in use)"
    ),
    "batch queue refused the job": (
        r"(unable to allocate resources: (?!invalid partition)|job not submitted|"
        r"request aborted by esub|slurm(ctld)? (controller )?not responding|"
        r"socket timed out on send/recv|queue .* is (closed|inactive))"
    ),
    "session never became ready": r"the session was not ready within",
}


@cache
def _builtin_patterns() -> dict[str, re.Pattern[str]]:
    # Compiled by the first failed attempt, not at import: most processes never see one.
    return {label: re.compile(p, re.IGNORECASE) for label, p in BUILTIN_PATTERNS.items()}


def transient_reason(outcome: RunOutcome, log_lines: Iterable[str], retry_on: RetryOn) -> str:
    """Why this failed attempt may pass when tried again; "" when it is a real failure."""
    if outcome.ok:
        return ""
    if outcome.transient:
        return outcome.message or "transient failure reported by the launcher"
    if outcome.exit_code is not None and outcome.exit_code in retry_on.exit_codes:
        return f"exit code {outcome.exit_code} is listed in retry_on.exit_codes"
    patterns = {f"retry_on pattern {p!r}": re.compile(p) for p in retry_on.patterns}
    if retry_on.builtin:
        patterns.update(_builtin_patterns())
    for line in log_lines:
        for label, pattern in patterns.items():
            if pattern.search(line):
                return f"{label}: {line.strip()[:200]}"
    return ""
