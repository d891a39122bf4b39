"""A node over a real OpenSSH server on 127.0.0.1: commands, environment, preflight, SFTP,
host keys, quoting, secrets, timeouts and dropped connections. No mock SSH."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sshd_kit import SshServer, free_port, keygen

from pytest_spilot.remote.connection import NodeError, NodeUnreachable
from pytest_spilot.remote.node import CommandFailed, PreflightFailed

HOSTILE = [
    "two words",
    "it's",
    'say "hi"',
    "a;touch {flag}",
    "$(touch {flag})",
    "`touch {flag}`",
    "line\nbreak",
    "$HOME ${PATH} ~",
    "* ? [a]",
    "back\\slash",
    "",
]


def procs(pattern: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def test_command_exit_code_and_streams(make_node) -> None:
    node = make_node()
    result = node.run("echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok and result.duration_s > 0
    log = node.log_path.read_text()
    assert "n1$ echo out; echo err >&2; exit 3" in log and "out\n" in log and "err\n" in log
    assert node.run(["true"]).exit_code == 0
    with pytest.raises(CommandFailed, match="exited 3"):
        node.run("exit 3", check=True)


def test_environment_arrives_without_accept_env(make_node, sshd: SshServer) -> None:
    assert "AcceptEnv" not in (sshd.root / "sshd_config").read_text()
    node = make_node(env={"FROM_INVENTORY": "inv value", "NVM_DIR": "$HOME/.nvm"})
    result = node.run(
        'printf "%s|%s|%s|%s" "$FROM_INVENTORY" "$PER_RUN" "$NVM_DIR" "$HOME"',
        env={"PER_RUN": "a 'quoted' value; $(id)"},
    )
    inventory, per_run, nvm_dir, home = result.stdout.split("|")
    assert (inventory, per_run) == ("inv value", "a 'quoted' value; $(id)")
    assert nvm_dir == f"{home}/.nvm"
    # What the spec warns about: the SSH protocol's own environment is dropped by this server.
    channel = node.connection().transport.open_session()
    channel.update_environment({"DROPPED": "x"})
    channel.exec_command('printf %s "$DROPPED"')
    assert channel.makefile().read() == b""
    channel.close()


def test_tool_found_only_through_setup_or_path_prepend(make_node, tmp_path: Path) -> None:
    tools = tmp_path / "tools" / "bin"
    tools.mkdir(parents=True)
    tool = tools / "spilot-demo-tool"
    tool.write_text('#!/bin/sh\necho demo tool ran with "$@"\n')
    tool.chmod(0o755)
    bare = make_node(name="bare")
    assert bare.which("spilot-demo-tool") is None
    assert bare.run(["spilot-demo-tool", "x"]).exit_code == 127
    by_path = make_node(name="by_path", path_prepend=[str(tools)])
    assert by_path.which("spilot-demo-tool") == str(tool)
    assert by_path.effective_path().startswith(f"{tools}:")
    by_setup = make_node(name="by_setup", setup=[f'PATH="{tools}:$PATH"', "echo setup noise"])
    result = by_setup.run(["spilot-demo-tool", "a b"])
    assert result.stdout == "demo tool ran with a b\n"  # setup output went to stderr
    assert "setup noise" in result.stderr


def test_preflight_failure_names_tool_and_path(make_node, tmp_path: Path) -> None:
    node = make_node(requires=["sh", "spilot-missing-tool"], path_prepend=["/opt/nowhere/bin"])
    with pytest.raises(PreflightFailed) as err:
        node.connection()
    message = str(err.value)
    assert err.value.exit_code == 127 and not err.value.transient
    assert "spilot-missing-tool not found" in message and "node 'n1'" in message
    assert "effective PATH is /opt/nowhere/bin:" in message
    with pytest.raises(PreflightFailed):  # every later use fails the same way
        node.run("true")
    assert make_node(name="ok", requires=["sh"]).run("true").exit_code == 0


def test_sftp_both_ways(make_node, tmp_path: Path) -> None:
    node = make_node()
    payload = bytes(range(256)) * 300
    (tmp_path / "up.bin").write_bytes(payload)
    remote = tmp_path / "remote" / "copy.bin"
    node.run(["mkdir", "-p", str(remote.parent)], check=True)
    node.put(tmp_path / "up.bin", str(remote))
    assert node.run(["cksum", str(remote)]).stdout.split()[1] == str(len(payload))
    node.get(str(remote), tmp_path / "down" / "back.bin")
    assert (tmp_path / "down" / "back.bin").read_bytes() == payload
    with pytest.raises(NodeError, match="get /no/such/file"):
        node.get("/no/such/file", tmp_path / "x")


def test_unknown_host_key_is_rejected_unless_the_node_opts_in(make_node, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(NodeError) as err:
        make_node(known_hosts=str(empty)).run("true")
    assert "UNKNOWN HOST KEY" in str(err.value) and not err.value.transient
    with pytest.raises(NodeError, match=r"known_hosts file .* does not exist"):
        make_node(name="nofile", known_hosts=str(tmp_path / "absent")).run("true")
    trusting = make_node(name="trusting", known_hosts=str(empty), accept_unknown_host_key=True)
    assert trusting.run("echo hi").stdout == "hi\n"
    warning = [s for s in make_node.said if "UNKNOWN host key" in s]
    assert warning and "WARNING" in warning[0] and "accept_unknown_host_key" in warning[0]
    assert empty.read_text() == ""  # the user's known_hosts is never written


def test_changed_host_key_is_rejected_even_with_the_opt_in(
    make_node, sshd: SshServer, tmp_path: Path
) -> None:
    other = keygen(tmp_path / "other_host_key")
    kind, blob = other.with_suffix(".pub").read_text().split()[:2]
    changed = tmp_path / "changed_known_hosts"
    changed.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")
    for opt_in in (False, True):
        node = make_node(
            name=f"n{opt_in}", known_hosts=str(changed), accept_unknown_host_key=opt_in
        )
        with pytest.raises(NodeError) as err:
            node.run("true")
        assert "HOST KEY MISMATCH" in str(err.value) and not err.value.transient


def test_wrong_client_key_and_unreadable_key(make_node, tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "stranger")
    with pytest.raises(NodeError) as err:
        make_node(key=str(stranger)).run("true")
    assert "authentication failed" in str(err.value) and not err.value.transient
    with pytest.raises(NodeError, match=r"cannot read private key .*absent_key"):
        make_node(name="nokey", key=str(tmp_path / "absent_key")).run("true")
    garbage = tmp_path / "garbage_key"
    garbage.write_text("not a key\n")
    with pytest.raises(NodeError, match="cannot read private key"):
        make_node(name="garbage", key=str(garbage)).run("true")


def test_hostile_arguments_arrive_verbatim(make_node, tmp_path: Path) -> None:
    flag = tmp_path / "injected"
    args = [a.replace("{flag}", str(flag)) for a in HOSTILE]
    node = make_node()
    result = node.run(["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *args])
    assert json.loads(result.stdout) == args
    result = node.run(["printf", "%s\\0", *args], cwd=str(tmp_path / "dir with 'quote'; x"))
    assert result.stdout.split("\0")[:-1] == args
    assert not flag.exists(), "an argument was executed"
    assert (tmp_path / "dir with 'quote'; x").is_dir()


def test_secrets_never_reach_output_or_log(make_node) -> None:
    secret = "5280@licserver-secret-42"
    node = make_node(env={"CDS_LIC_FILE": secret, "PLAIN": "visible"}, secret_env=["CDS_LIC_FILE"])
    result = node.run('echo "lic=$CDS_LIC_FILE plain=$PLAIN"; echo "$CDS_LIC_FILE" >&2')
    assert result.stdout == "lic=*** plain=visible\n" and result.stderr == "***\n"
    per_run = node.run(f"echo {secret}", env={"API_TOKEN": "tok-123456"})
    assert secret not in per_run.stdout and secret not in per_run.command
    log = node.log_path.read_text()
    assert secret not in log and "lic=***" in log


def test_timeout_kills_the_remote_process_group(make_node) -> None:
    node = make_node()
    started = time.monotonic()
    result = node.run("sleep 37.31 & sleep 37.32; echo never", timeout=1.0)
    assert result.timed_out and result.exit_code == 124
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 3
    while procs("sleep 37.3") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert procs("sleep 37.3") == []
    assert node.run("echo alive").stdout == "alive\n"  # the connection is still usable


def test_dropped_connection_is_transient_and_reconnects(make_node, fresh_sshd: SshServer) -> None:
    node = make_node(server=fresh_sshd)
    assert node.run("echo first").stdout == "first\n"
    errors: list[BaseException] = []

    def long_command() -> None:
        try:
            node.run("sleep 38.5")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=long_command)
    thread.start()
    deadline = time.monotonic() + 5
    while not procs("sleep 38.5") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fresh_sshd.drop_connections() >= 1
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], NodeUnreachable)
    assert errors[0].transient and "dropped" in str(errors[0])
    assert node.run("echo again").stdout == "again\n"
    assert any("reconnecting" in s for s in make_node.said)
    # The command the drop left running was killed once the node was reachable again.
    assert any("left by a dropped connection" in s for s in make_node.said)
    assert procs("sleep 38.5") == []


def test_unreachable_port_is_transient(make_node) -> None:
    node = make_node(port=free_port())
    with pytest.raises(NodeUnreachable, match="cannot connect") as err:
        node.run("true")
    assert err.value.transient
    assert isinstance(err.value, OSError)  # session and flow starters treat it as a start failure
