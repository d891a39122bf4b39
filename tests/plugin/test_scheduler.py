from __future__ import annotations

import pytest

from pytest_spilot.plugin.scheduler import validation_scope


@pytest.mark.parametrize(
    ("nodeid", "scope"),
    [
        (
            "validations/p.yaml::counter::run[sky130A-minimal]",
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


class FakeNode:
    """Stands in for xdist's WorkerController: the scheduler only sends it work and asks for
    its state (a real worker is exercised by the xdist end-to-end tests)."""

    shutting_down = False

    def __init__(self, name: str) -> None:
        self.sent: list[int] = []
        self.gateway = type("Gateway", (), {"id": name})()

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


def test_finished_validations_are_not_counted_again(pytester: pytest.Pytester) -> None:
    """Each report costs the same at the 1st and the 10,000th validation: finished units
    leave the scheduler's books (xdist's LoadScopeScheduling keeps and re-counts them)."""
    from pytest_spilot.plugin.scheduler import ValidationScopeScheduling

    ids = [f"v.yaml::job::{item}[{i}]" for i in range(50) for item in ("run", "a>=1")]
    config = pytester.parseconfig()
    config.option.tx = ["2*popen"]  # what -n 2 sets
    sched = ValidationScopeScheduling(config)
    nodes = [FakeNode("gw0"), FakeNode("gw1")]
    for node in nodes:
        sched.add_node(node)  # type: ignore[arg-type]
        sched.add_node_collection(node, ids)  # type: ignore[arg-type]
    sched.schedule()
    done = 0
    while any(n.sent for n in nodes):
        for node in nodes:
            while node.sent:
                sched.mark_test_complete(node, node.sent.pop(0))  # type: ignore[arg-type]
                done += 1
        finished_units = sum(
            all(unit.values()) for work in sched.assigned_work.values() for unit in work.values()
        )
        assert finished_units == 0
    assert done == len(ids) and sched.tests_finished


class NoIndexList(list[str]):
    def index(self, *args: object) -> int:  # type: ignore[override]
        raise AssertionError("list.index scans the whole collection for every validation")


def test_items_are_found_without_scanning_the_collection(pytester: pytest.Pytester) -> None:
    """Sending a validation costs the same at the 1st and the 10,000th: positions come from a
    map built once per worker, and each item is sent once, under its own position."""
    from pytest_spilot.plugin.scheduler import ValidationScopeScheduling

    ids = [f"v.yaml::job::{item}[{i}]" for i in range(30) for item in ("run", "a>=1", "b<=2")]
    config = pytester.parseconfig()
    config.option.tx = ["2*popen"]
    sched = ValidationScopeScheduling(config)
    nodes = [FakeNode("gw0"), FakeNode("gw1")]
    for node in nodes:
        sched.add_node(node)  # type: ignore[arg-type]
        sched.add_node_collection(node, ids)  # type: ignore[arg-type]
        sched.registered_collections[node] = NoIndexList(ids)  # type: ignore[index]
    sched.schedule()
    ran: list[str] = []
    while any(n.sent for n in nodes):
        for node in nodes:
            while node.sent:
                index = node.sent.pop(0)
                ran.append(ids[index])
                sched.mark_test_complete(node, index)  # type: ignore[arg-type]
    assert sorted(ran) == sorted(ids) and sched.tests_finished
