"""The launchers a configuration adds to the plugins': its grid submitters and its nodes.

One assembly for the pytest plugin (offered through ``pytest_spilot_launchers``) and for
``spilot doctor`` (laid over the registry's), so that both know a location by the same name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.template import TemplateLauncher

if TYPE_CHECKING:
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.remote.inventory import Inventory
    from pytest_spilot.remote.node import NodePool
    from pytest_spilot.siteconfig import SiteConfig


def configured_launchers(site: SiteConfig, nodes: NodePool | None = None) -> list[Launcher]:
    """The site's grid submitters, then every inventory node as a launcher named like the node.

    Later entries win on a name both use, as a later hook result does in the registry.
    """
    launchers: list[Launcher] = list(site.grid_launchers())
    if nodes is not None:
        # Imported with an inventory only: an SSH launcher brings the SSH client along.
        from pytest_spilot.launchers.ssh import SshLauncher

        launchers += [SshLauncher(nodes.get(name)) for name in nodes.inventory.nodes]
    return launchers


def check_node_names(inventory: Inventory, launchers: list[str]) -> None:
    """Raise SpilotError if a node has a launcher's name: ``location:`` must say which it means."""
    clash = sorted(set(inventory.nodes) & set(launchers))
    if clash:
        raise SpilotError(
            f"{inventory.path}: node {clash[0]!r} has the name of a launcher "
            f"({', '.join(sorted(launchers))}); rename the node: 'location:' must say which "
            "one it means"
        )


def submit_command(launcher: Launcher) -> list[str] | None:
    """The words a grid launcher submits with (its first is the submitter), None for others."""
    return launcher.template if isinstance(launcher, TemplateLauncher) else None
