"""Shared fixtures: real OpenSSH servers on 127.0.0.1 and a live Slurm, always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slurm_kit import SlurmCluster, require_slurm
from sshd_kit import SshServer, node_entry

from pytest_spilot.remote.inventory import Inventory
from pytest_spilot.remote.node import RemoteNode


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One sshd for the whole session (per xdist worker)."""
    server = SshServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_sshd(tmp_path: Path) -> Iterator[SshServer]:
    """An sshd of this test's own, for tests that drop its connections."""
    server = SshServer(tmp_path / "sshd")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_node(tmp_path: Path, sshd: SshServer) -> Iterator[Any]:
    """``make_node(server=sshd, **entry)`` → a RemoteNode logging to tmp_path, closed at the end."""
    made: list[RemoteNode] = []

    def make(server: SshServer | None = None, name: str = "n1", **extra: Any) -> RemoteNode:
        inventory = Inventory.model_validate({"nodes": {name: node_entry(server or sshd, **extra)}})
        node = RemoteNode(inventory.node(name), tmp_path / f"{name}.log", say=said.append)
        made.append(node)
        return node

    said: list[str] = []
    make.said = said  # type: ignore[attr-defined]
    yield make
    for node in made:
        node.close()


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    """A live single-node Slurm (munge, slurmctld, slurmd) of this worker's own."""
    require_slurm()
    with SlurmCluster() as cluster:
        yield cluster


@pytest.fixture
def slurm_env(slurm: SlurmCluster, monkeypatch: pytest.MonkeyPatch) -> SlurmCluster:
    """The cluster's client environment (SLURM_CONF) in os.environ, for srun and subprocesses."""
    for name, value in slurm.client_env().items():
        monkeypatch.setenv(name, value)
    return slurm
