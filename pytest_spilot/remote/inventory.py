"""The node inventory (``nodes.yaml``): these pydantic models are its only definition and schema.

Nothing about a node is hard-coded anywhere else: its address, account, keys, environment,
setup lines, tool folders, required tools and tags are all this data.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from pytest_spilot.errors import PlanError, PlanErrors, SpilotError
from pytest_spilot.plan.defaults import beneath
from pytest_spilot.plan.loader import model_errors
from pytest_spilot.plan.model import Name
from pytest_spilot.yamlsource import load_yaml

# Lists in `defaults` come first, then the node's own; mappings merge with the node winning.
JOINED_LISTS = ("setup", "path_prepend", "requires", "secret_env", "tags")


class NodeSettings(BaseModel):
    """What `defaults` may set for every node (and each node for itself)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str | None = Field(None, description="login name (default: the local user)")
    port: int = Field(22, gt=0, lt=65536)
    key: str | None = Field(
        None, description="private key file; ~ and paths relative to the inventory allowed"
    )
    known_hosts: str = Field("~/.ssh/known_hosts", description="host keys the node must match")
    accept_unknown_host_key: bool = Field(
        False,
        description="opt-in: trust a host key missing from known_hosts (logged loudly); "
        "a changed key is always rejected",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="exported before the command; $NAME/${NAME} refer to the node's variables, "
        "$$ is a literal $, everything else is literal",
    )
    secret_env: list[str] = Field(
        default_factory=list, description="names in env whose values are redacted everywhere"
    )
    setup: list[str] = Field(
        default_factory=list, description="shell lines run before the command (output to stderr)"
    )
    path_prepend: list[str] = Field(
        default_factory=list, description="folders put before the node's PATH"
    )
    requires: list[str] = Field(
        default_factory=list, description="tools that must be found on the node (preflight)"
    )
    tags: list[Name] = Field(default_factory=list, description="for @pytest.mark.remote(tags=)")
    connect_timeout_s: float = Field(10.0, gt=0)


class NodeDefaults(NodeSettings):
    """Beneath every node unless it overrides: lists are joined, mappings merged."""


class Node(NodeSettings):
    """One SSH node."""

    name: str = Field("", description="set from the key under `nodes:`")
    host: str = Field(min_length=1, description="address or host name")
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)  # the inventory's folder

    @property
    def key_path(self) -> Path | None:
        return self._path(self.key) if self.key else None

    @property
    def known_hosts_path(self) -> Path:
        return self._path(self.known_hosts)

    def _path(self, value: str) -> Path:
        return self._base_dir / os.path.expanduser(value)

    @property
    def secret_values(self) -> list[str]:
        return [self.env[n] for n in self.secret_env if self.env.get(n)]


class Inventory(BaseModel):
    """``nodes.yaml``: `defaults` merged into each of `nodes`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: NodeDefaults = Field(default_factory=NodeDefaults)
    nodes: dict[Name, Node] = Field(default_factory=dict)
    _path: Path | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        """The file it was read from."""
        return self._path

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
            return data
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            return data  # reported on the 'defaults' field itself
        nodes = {}
        for name, entry in data["nodes"].items():
            if isinstance(entry, dict):
                entry = {**beneath(entry, defaults, JOINED_LISTS), "name": str(name)}
            nodes[name] = entry
        return {**data, "nodes": nodes}

    def node(self, name: str) -> Node:
        """The node called ``name``; an unknown name is an error listing the known ones."""
        found = self.nodes.get(name)
        if found is not None:
            return found
        near = difflib.get_close_matches(name, list(self.nodes), n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise SpilotError(
            f"{self.path or 'node inventory'}: unknown node {name!r}; {hint}known nodes: "
            f"{', '.join(sorted(self.nodes)) or '(none)'} — add it under 'nodes:' or fix the name"
        )

    def select(self, tags: list[str] | None = None, names: list[str] | None = None) -> list[Node]:
        """Nodes having every tag in ``tags`` (and, when given, one of ``names``)."""
        chosen = [self.node(n) for n in names] if names else list(self.nodes.values())
        return [n for n in chosen if set(tags or ()) <= set(n.tags)]


def load_inventory(path: Path) -> Inventory:
    """Parse and validate ``path``; errors name the file, the line and the field."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise PlanError(
            path, "a node inventory is a mapping with keys 'defaults' and 'nodes'", line=1
        )
    try:
        inventory = Inventory.model_validate(doc.data)
    except ValidationError as exc:
        raise PlanErrors(model_errors(doc, exc, Inventory)) from None
    inventory._path = path
    for name, node in inventory.nodes.items():
        node._base_dir = path.parent.resolve()
        unknown = [s for s in node.secret_env if s not in node.env]
        if unknown:
            raise PlanError(
                path,
                f"secret_env names {', '.join(unknown)} but env has no such variable; "
                "add it to env (of the node or of defaults) or remove it from secret_env",
                line=doc.line_of(("nodes", name, "secret_env")),
                field=f"nodes.{name}.secret_env",
            )
    return inventory
