"""What fails on a node, and how a node is named in messages.

Apart from the connection so that holding a node, or catching its errors, needs no paramiko:
most processes never connect anywhere, and paramiko is the slowest import of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_spilot.errors import SpilotError

if TYPE_CHECKING:
    from pytest_spilot.remote.inventory import Node

SSH_FAILURE_EXIT_CODE = 255  # what OpenSSH's client exits with when the connection fails


class NodeError(SpilotError, OSError):
    """A node that cannot be used: the message names the node, what failed and the fix.

    An OSError too, so whatever starts jobs (sessions, flows) reports it as a start failure.
    """

    transient = False
    exit_code = SSH_FAILURE_EXIT_CODE

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NodeUnreachable(NodeError):
    """Refused, timed out or dropped: may work on the next attempt (``retries``)."""

    transient = True


def describe(node: Node) -> str:
    who = f"{node.user}@" if node.user else ""
    return f"node {node.name!r} ({who}{node.host}:{node.port})"
