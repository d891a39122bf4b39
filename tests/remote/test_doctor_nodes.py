"""spilot doctor over a real inventory: a reachable node, an unreachable one, a missing tool."""

from __future__ import annotations

from pathlib import Path

from sshd_kit import SshServer, free_port, node_entry, write_inventory

from pytest_spilot.cli.main import main


def test_doctor_checks_every_node(sshd: SshServer, tmp_path: Path, capsys) -> None:
    inventory = write_inventory(
        tmp_path / "nodes.yaml",
        {
            "good": node_entry(sshd, requires=["sh"]),
            "down": node_entry(sshd, port=free_port()),
            "no_tool": node_entry(sshd, requires=["spilot-no-such-tool"]),
        },
    )
    code = main(
        ["doctor", "--root", str(tmp_path), "--backend", "pseudo", "--nodes", str(inventory)]
    )
    out = capsys.readouterr().out
    assert code == 1
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("node ")}
    assert "ok" in lines["good"] and "preflight passed; PATH=" in lines["good"]
    assert "FAIL" in lines["down"] and "cannot connect" in lines["down"]
    assert "FAIL" in lines["no_tool"] and "spilot-no-such-tool not found" in lines["no_tool"]
