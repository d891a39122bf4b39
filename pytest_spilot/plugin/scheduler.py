"""xdist scheduling that keeps each validation's items on one worker; other tests as ``load``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xdist.scheduler.loadscope import LoadScopeScheduling

from pytest_spilot.plan.loader import PLAN_SUFFIXES

if TYPE_CHECKING:
    import pytest
    from xdist.remote import Producer
    from xdist.workermanage import WorkerController


def validation_scope(nodeid: str) -> str:
    """``plan.yaml::name[params]`` for a validation's items; the node id itself otherwise.

    Unlike ``--dist loadgroup`` this leaves node ids untouched (pytest-xdist #992).
    """
    parts = nodeid.split("::")
    if len(parts) >= 3 and parts[0].endswith(PLAN_SUFFIXES):
        # A matrix entry's values end its items' ids (plan/expand.py item_id).
        _, bracket, params = parts[-1].partition("[")
        return "::".join(parts[:2]) + bracket + params
    return nodeid


# xdist ships no type information (ignore_missing_imports): its base class is Any to mypy.
class ValidationScopeScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """Work units are whole validations (run + thresholds); every other test is its own unit."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self._positions: dict[WorkerController, dict[str, int]] = {}

    def _assign_work_unit(self, node: WorkerController) -> None:
        # LoadScopeScheduling finds every item with list.index: quadratic in a release's size.
        scope, work_unit = self.workqueue.popitem(last=False)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        positions = self._positions.get(node)
        if positions is None:
            collection = self.registered_collections[node]
            positions = self._positions[node] = {nodeid: i for i, nodeid in enumerate(collection)}
        node.send_runtest_some([positions[n] for n, done in work_unit.items() if not done])

    def _split_scope(self, nodeid: str) -> str:
        return validation_scope(nodeid)

    def mark_test_complete(
        self, node: WorkerController, item_index: int, duration: float = 0
    ) -> None:
        # LoadScopeScheduling keeps finished units and counts every one of them again after
        # each report: quadratic in a release's size. Finished units are dropped (xdist reads
        # only unfinished work: has_pending, tests_finished, remove_node).
        nodeid = self.registered_collections[node][item_index]
        scope = self._split_scope(nodeid)
        work = self.assigned_work[node]
        work[scope][nodeid] = True
        if all(work[scope].values()):
            del work[scope]
        self._reschedule(node)
