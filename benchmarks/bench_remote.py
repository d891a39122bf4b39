"""Remote command latency: 100 ``remote_node.run("true")`` on one paramiko connection to a
loopback sshd, vs. OpenSSH's own client reusing a ControlMaster connection to the same sshd.

Both pay for the account's login shell (its rc files), so the ratio is the harness's cost; a
note gives the bare connection cost (one paramiko exec of ``true`` without the spilot script).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import Options, Result, error_result, main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sshd_kit import SshServer

from pytest_spilot.remote.inventory import Inventory
from pytest_spilot.remote.node import RemoteNode

COMMANDS = 100
WARMUP = 5


def spilot_runs(server: SshServer, log: Path) -> tuple[list[float], list[float]]:
    entry = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": server.user,
        "key": str(server.client_key),
        "known_hosts": str(server.known_hosts),
    }
    node = RemoteNode(Inventory.model_validate({"nodes": {"bench": entry}}).node("bench"), log)
    try:
        for _ in range(WARMUP):
            node.run("true")
        samples = []
        for _ in range(COMMANDS):
            start = time.perf_counter()
            if node.run("true").exit_code != 0:
                raise RuntimeError("remote true failed")
            samples.append(time.perf_counter() - start)
        bare = []
        transport = node.connection().transport
        for _ in range(COMMANDS // 2):
            start = time.perf_counter()
            channel = transport.open_session()
            channel.exec_command("true")
            channel.recv_exit_status()
            channel.close()
            bare.append(time.perf_counter() - start)
        return samples, bare
    finally:
        node.close()


def openssh_runs(server: SshServer, root: Path) -> list[float]:
    base = [
        "ssh",
        "-i", str(server.client_key),
        "-p", str(server.port),
        "-o", f"UserKnownHostsFile={server.known_hosts}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", f"ControlPath={root / 'cm-%p'}",
        f"{server.user}@127.0.0.1",
    ]  # fmt: skip
    master = subprocess.Popen(
        [*base[:-1], "-o", "ControlMaster=yes", "-N", base[-1]],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not list(root.glob("cm-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        for _ in range(WARMUP):
            subprocess.run([*base, "true"], check=True)
        samples = []
        for _ in range(COMMANDS):
            start = time.perf_counter()
            subprocess.run([*base, "true"], check=True)
            samples.append(time.perf_counter() - start)
        return samples
    finally:
        master.terminate()
        master.wait()


def bench(options: Options) -> list[Result]:
    name = "remote command latency"
    if shutil.which("ssh") is None or not Path("/usr/sbin/sshd").exists():
        return [error_result(name, 1.0, RuntimeError("apt-get install -y openssh-server"))]
    with tempfile.TemporaryDirectory(prefix="spilot-bench-remote-") as tmp:
        root = Path(tmp)
        with SshServer(root / "sshd") as server:
            spilot, bare = spilot_runs(server, root / "node.log")
            openssh = openssh_runs(server, root)
    result = Result(
        name,
        "remote_node.run",
        statistics.median(spilot),
        "OpenSSH ControlMaster",
        statistics.median(openssh),
        target=1.0,
        runs={"spilot": spilot, "openssh": openssh, "bare_exec": bare},
    )
    p90 = {k: sorted(v)[int(0.9 * len(v))] * 1000 for k, v in result.runs.items()}
    result.notes.append(
        f"bare paramiko exec of 'true' on the same connection (no script, no log): "
        f"{statistics.median(bare) * 1000:.1f} ms median; p90 spilot {p90['spilot']:.1f} ms, "
        f"openssh {p90['openssh']:.1f} ms, bare {p90['bare_exec']:.1f} ms"
    )
    return [result]


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
