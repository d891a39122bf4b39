"""xdist scheduling that keeps each validation's items on one worker; other tests as ``load``."""

from __future__ import annotations

from xdist.scheduler.loadscope import LoadScopeScheduling

from pytest_spilot.plan.loader import PLAN_SUFFIXES


def validation_scope(nodeid: str) -> str:
    """``plan.yaml::name[params]`` for a validation's items; the node id itself otherwise.

    Unlike ``--dist loadgroup`` this leaves node ids untouched (pytest-xdist #992).
    """
    parts = nodeid.split("::")
    if len(parts) >= 3 and parts[0].endswith(PLAN_SUFFIXES):
        return "::".join(parts[:2])
    return nodeid


class ValidationScopeScheduling(LoadScopeScheduling):
    """Work units are whole validations (run + thresholds); every other test is its own unit."""

    def _split_scope(self, nodeid: str) -> str:
        return validation_scope(nodeid)
