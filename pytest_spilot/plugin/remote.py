"""Remote nodes in pytest: the inventory, node parametrization, ``remote_node``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.project import INVENTORY_NAMES
from pytest_spilot.remote.node import NodePool, RemoteNode

NODES_KEY = pytest.StashKey[NodePool | None]()


def inventory_path(config: pytest.Config, plan_dirs: list[Path]) -> Path | None:
    """``--spilot-nodes`` (ini ``spilot_nodes``), else ``nodes.yaml`` beside the validations."""
    given: str | None = config.getoption("spilot_nodes") or config.getini("spilot_nodes")
    if given:
        return config.rootpath / given
    for folder in plan_dirs:
        for name in INVENTORY_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def node_pool(config: pytest.Config, path: Path | None, log_dir: Path) -> NodePool | None:
    """This process's nodes, or None without an inventory; a broken inventory is an error."""
    if path is None:
        return None
    from pytest_spilot.remote.inventory import load_inventory

    inventory = load_inventory(path)
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    pool = NodePool(inventory, log_dir=log_dir)
    pool.say = lambda text: print(
        f"[spilot {worker}] {pool.secrets.text(text)}", file=sys.stderr, flush=True
    )
    return pool


@pytest.hookimpl
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "remote_node" not in metafunc.fixturenames:
        return
    pool = metafunc.config.stash.get(NODES_KEY, None)
    marker = metafunc.definition.get_closest_marker("remote")
    tags = list(marker.kwargs.get("tags", [])) if marker else []
    names = list(marker.kwargs.get("nodes", [])) if marker else []
    if pool is None:
        reason = (
            "no node inventory: give --spilot-nodes PATH (ini spilot_nodes) or put nodes.yaml "
            "beside the validations"
        )
        nodes: list[str] = []
    else:
        try:
            nodes = [n.name for n in pool.inventory.select(tags, names)]
        except SpilotError as exc:
            error = f"{metafunc.definition.nodeid}: {exc}"
        else:
            error = ""
        if error:
            pytest.fail(error, pytrace=False)
        reason = f"no node of {pool.inventory.path} has the tags {tags}"
    if not nodes:
        param = pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-node")
        metafunc.parametrize("remote_node", [param], indirect=True, scope="session")
        return
    metafunc.parametrize("remote_node", nodes, indirect=True, ids=nodes, scope="session")


@pytest.hookimpl
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "remote_node" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.remote)


@pytest.fixture(scope="session")
def remote_node(request: pytest.FixtureRequest) -> RemoteNode:
    """An inventory node, connected and preflighted: ``run(cmd, env=, cwd=, timeout=)`` →
    CommandResult, ``put``/``get`` (SFTP), ``which(tool)``. Parametrized over the inventory:
    select with ``-k NODE`` or ``@pytest.mark.remote(tags=[...], nodes=[...])``."""
    pool = request.config.stash.get(NODES_KEY, None)
    if pool is None or not isinstance(getattr(request, "param", None), str):
        pytest.skip("no node inventory")
    node = pool.get(request.param)
    try:
        node.connection()
    except SpilotError as exc:
        pytest.fail(str(exc), pytrace=False)
    return node
