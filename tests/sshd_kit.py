"""A real OpenSSH server on 127.0.0.1 for the remote tests: keys, config, process in a tmp dir."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

SSHD = "/usr/sbin/sshd"
INSTALL = "apt-get install -y --no-install-recommends openssh-server"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_sshd() -> None:
    """Outside CI a missing OpenSSH server skips, naming the package; with CI=true it fails."""
    missing = [t for t in (SSHD, "ssh-keygen") if not shutil.which(t)]
    if missing:
        message = f"{', '.join(missing)} not installed ({INSTALL})"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )
    return path


@dataclass
class SshServer:
    """``sshd -D`` on a free loopback port; ``path`` becomes the PATH of every session."""

    root: Path
    path: str = "/usr/local/bin:/usr/bin:/bin"
    port: int = 0
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(self.root / "host_ed25519")
        self.client_key = keygen(self.root / "client_ed25519")
        self.authorized_keys = self.root / "authorized_keys"
        shutil.copy(self.client_key.with_suffix(".pub"), self.authorized_keys)
        self.known_hosts = self.root / "known_hosts"
        self.log = self.root / "sshd.log"

    @property
    def host_key_line(self) -> str:
        kind, blob = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    def start(self) -> SshServer:
        require_sshd()
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory (root sshd)
        for _ in range(5):
            self.port = free_port()
            config = self.root / "sshd_config"
            config.write_text(
                "\n".join(
                    [
                        "ListenAddress 127.0.0.1",
                        f"Port {self.port}",
                        f"HostKey {self.host_key}",
                        f"AuthorizedKeysFile {self.authorized_keys}",
                        f"PidFile {self.root / 'sshd.pid'}",
                        "UsePAM no",
                        "StrictModes no",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "PermitRootLogin prohibit-password",
                        f"SetEnv PATH={self.path}",
                        "Subsystem sftp internal-sftp",
                        "LogLevel ERROR",
                        "",
                    ]
                )
            )
            self.known_hosts.write_text(self.host_key_line)
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [SSHD, "-f", str(config), "-D", "-e"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            if self._wait_listening(5.0):
                return self
            self.stop()
        raise RuntimeError(f"sshd did not start; its log:\n{self.log.read_text()}")

    def _wait_listening(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return True
            time.sleep(0.02)
        return False

    def connection_pids(self) -> list[int]:
        """The per-connection sshd processes (children of the listener)."""
        if self.process is None:
            return []
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(p) for p in out.stdout.split()]

    def drop_connections(self) -> int:
        """Kill every open connection's sshd: the client sees its connection drop."""
        pids = self.connection_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop(self) -> None:
        if self.process is None:
            return
        self.drop_connections()
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def node_entry(server: SshServer, **extra: Any) -> dict[str, Any]:
    """An inventory entry that reaches ``server`` with its test key and known_hosts."""
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "user": server.user,
        "key": str(server.client_key),
        "known_hosts": str(server.known_hosts),
        **extra,
    }


def write_inventory(path: Path, nodes: dict[str, dict[str, Any]], **top: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**top, "nodes": nodes}, sort_keys=False))
    return path
