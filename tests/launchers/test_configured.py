"""The launchers a configuration adds: one assembly for the pytest plugin and ``spilot doctor``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.configured import (
    check_node_names,
    configured_launchers,
    submit_command,
)
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.launchers.ssh import SshLauncher
from pytest_spilot.launchers.template import TemplateLauncher
from pytest_spilot.remote.inventory import load_inventory
from pytest_spilot.remote.node import NodePool
from pytest_spilot.siteconfig import SiteConfig


def pool(tmp_path: Path, *names: str) -> NodePool:
    path = tmp_path / "nodes.yaml"
    path.write_text("nodes:\n" + "".join(f"  {n}: {{host: 127.0.0.1}}\n" for n in names))
    return NodePool(load_inventory(path))


def test_grid_submitters_then_nodes(tmp_path: Path) -> None:
    site = SiteConfig.model_validate({"launchers": {"mygrid": {"template": ["qsub", "{command}"]}}})
    nodes = pool(tmp_path, "gpu1", "gpu2")
    try:
        launchers = configured_launchers(site, nodes)
    finally:
        nodes.close()
    grid = [x.name for x in site.grid_launchers()]
    assert [x.name for x in launchers] == [*grid, "gpu1", "gpu2"]
    assert "mygrid" in grid and "srun" in grid
    assert all(isinstance(x, SshLauncher) for x in launchers[len(grid) :])
    assert [x.name for x in configured_launchers(site)] == grid  # no inventory: no nodes


def test_a_node_named_like_a_launcher_is_refused(tmp_path: Path) -> None:
    nodes = pool(tmp_path, "gpu1", "srun")
    try:
        with pytest.raises(SpilotError) as err:
            check_node_names(nodes.inventory, ["local", "srun", "bsub"])
        check_node_names(nodes.inventory, ["local", "bsub"])
    finally:
        nodes.close()
    assert str(err.value) == (
        f"{tmp_path / 'nodes.yaml'}: node 'srun' has the name of a launcher (bsub, local, srun); "
        "rename the node: 'location:' must say which one it means"
    )


def test_submit_command_is_a_grid_launchers_template() -> None:
    grid = TemplateLauncher(name="q", template=["qsub", "-I", "{command}"])
    assert submit_command(grid) == ["qsub", "-I", "{command}"]
    assert submit_command(LocalLauncher()) is None
