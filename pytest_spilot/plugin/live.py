"""``--spilot-live [HOST:]PORT``: the live page of this run, served by the controller."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.redact import Redactor

if TYPE_CHECKING:
    from pytest_spilot.live.server import LiveServer

DEFAULT_HOST = "127.0.0.1"


def parse_address(value: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[V6]:PORT`` → (host, port); SpilotError on anything else."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, value
    host = host.removeprefix("[").removesuffix("]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        raise SpilotError(
            f"--spilot-live {value!r}: expected [HOST:]PORT with PORT 0-65535 (0: any free "
            "port), e.g. --spilot-live 8765 or --spilot-live 0.0.0.0:8765"
        )
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise SpilotError(
                f"--spilot-live {value!r}: {host!r} is not an IP address of this machine; "
                "give one (127.0.0.1, 0.0.0.0, ::1) or localhost"
            ) from None
    return host, int(port)


class LiveView:
    """Serves the release's folder for the run's duration and says where, once, at the start."""

    def __init__(
        self, address: str, folder: Path, runs_root: Path, version: str, secrets: Redactor
    ) -> None:
        host, port = parse_address(address)
        try:
            from pytest_spilot.live.server import LiveServer
        except ImportError as exc:
            raise SpilotError(
                f"--spilot-live needs the web server's packages ({exc.name} is missing): "
                "pip install 'pytest-spilot[live]'"
            ) from None
        self.version = version
        self.server: LiveServer = LiveServer(
            folder, host, port, roots=(runs_root,), redactor=secrets
        )
        self.server.start()

    @property
    def url(self) -> str:
        return f"{self.server.url}#{self.version}"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"spilot live view: {self.url}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.server.stop()
