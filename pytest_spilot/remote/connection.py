"""One paramiko connection to one node: host keys verified, key authentication, TCP_NODELAY."""

from __future__ import annotations

import socket
from collections.abc import Callable

import paramiko

from pytest_spilot.remote.errors import NodeError, NodeUnreachable, describe
from pytest_spilot.remote.inventory import Node
from pytest_spilot.remote.shell import SHELL_COMMAND


class _LoudAcceptPolicy(paramiko.MissingHostKeyPolicy):
    """The node's explicit opt-in: trust an unknown key for this connection only, and say so."""

    def __init__(self, node: Node, say: Callable[[str], None]) -> None:
        self.node = node
        self.say = say

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        self.say(
            f"WARNING: {describe(self.node)}: accepting an UNKNOWN host key "
            f"{key.get_name()} {key.fingerprint} for {hostname} because nodes.yaml sets "
            f"accept_unknown_host_key: true; add it to {self.node.known_hosts_path} to stop "
            "trusting the network"
        )


class SshConnection:
    """A connected node; channels for commands, SFTP for files."""

    def __init__(self, node: Node, say: Callable[[str], None]) -> None:
        self.node = node
        self.say = say
        self.client = self._connect()
        transport = self.client.get_transport()
        assert transport is not None
        transport.set_keepalive(30)
        self.transport = transport
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def alive(self) -> bool:
        return self.transport.is_active()

    def open_shell(self, script: str, keep_stdin_open: bool = False) -> paramiko.Channel:
        """A channel running ``script`` in ``/bin/sh``; its stdin is closed after the script
        unless ``keep_stdin_open`` (a script that watches for the channel's end)."""
        try:
            channel = self.transport.open_session()
            channel.exec_command(SHELL_COMMAND)
            channel.sendall(script.encode())
            if not keep_stdin_open:
                channel.shutdown_write()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NodeUnreachable(
                f"{describe(self.node)}: the connection failed while starting a command ({exc})"
            ) from None
        return channel

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                self._sftp = self.client.open_sftp()
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise NodeUnreachable(
                    f"{describe(self.node)}: cannot open SFTP ({exc}); the server needs "
                    "'Subsystem sftp' in its sshd_config"
                ) from None
        return self._sftp

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self.client.close()

    def _connect(self) -> paramiko.SSHClient:
        node = self.node
        client = paramiko.SSHClient()
        known = node.known_hosts_path
        try:
            client.load_host_keys(str(known))
        except FileNotFoundError:
            if not node.accept_unknown_host_key:
                raise NodeError(
                    f"{describe(node)}: known_hosts file {known} does not exist, so its host key "
                    f"cannot be verified; add the key (ssh-keyscan -p {node.port} {node.host} >> "
                    f"{known}) or point known_hosts at the right file in nodes.yaml"
                ) from None
        except (OSError, paramiko.SSHException) as exc:
            raise NodeError(
                f"{describe(node)}: cannot read known_hosts file {known} ({exc}); fix the file "
                "or known_hosts in nodes.yaml"
            ) from None
        client.set_missing_host_key_policy(
            _LoudAcceptPolicy(node, self.say)
            if node.accept_unknown_host_key
            else paramiko.RejectPolicy()
        )
        pkey = self._key()
        sock = self._socket()
        try:
            client.connect(
                node.host,
                node.port,
                username=node.user,
                pkey=pkey,
                sock=sock,
                timeout=node.connect_timeout_s,
                banner_timeout=node.connect_timeout_s,
                auth_timeout=node.connect_timeout_s,
                look_for_keys=pkey is None,
                allow_agent=pkey is None,
            )
        except paramiko.BadHostKeyException as exc:
            sock.close()
            raise NodeError(
                f"{describe(node)}: HOST KEY MISMATCH: the server offered {exc.key.get_name()} "
                f"{exc.key.fingerprint} but {known} expects {exc.expected_key.fingerprint}; "
                "if the node was reinstalled, replace its line (ssh-keygen -R "
                f"'[{node.host}]:{node.port}' -f {known}), otherwise someone may be "
                "intercepting the connection"
            ) from None
        except paramiko.AuthenticationException as exc:
            sock.close()
            raise NodeError(
                f"{describe(node)}: authentication failed ({exc}) with key "
                f"{node.key_path or '(agent and ~/.ssh)'}; put its public key in the node's "
                "authorized_keys, or fix user/key in nodes.yaml"
            ) from None
        except paramiko.SSHException as exc:
            sock.close()
            if "not found in known_hosts" in str(exc):
                raise NodeError(
                    f"{describe(node)}: UNKNOWN HOST KEY: the server is not in {known}; add its "
                    f"key (ssh-keyscan -p {node.port} {node.host} >> {known}, then compare the "
                    "fingerprint with the node's) or, to trust the network, set "
                    "accept_unknown_host_key: true for this node in nodes.yaml"
                ) from None
            raise NodeUnreachable(f"{describe(node)}: SSH handshake failed ({exc})") from None
        except (OSError, EOFError) as exc:
            sock.close()
            raise NodeUnreachable(f"{describe(node)}: connection failed ({exc})") from None
        return client

    def _key(self) -> paramiko.PKey | None:
        path = self.node.key_path
        if path is None:
            return None
        try:
            return paramiko.PKey.from_path(path)
        except (OSError, paramiko.SSHException, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise NodeError(
                f"{describe(self.node)}: cannot read private key {path} ({reason}); fix 'key' "
                "for this node (or defaults) in nodes.yaml: an unencrypted OpenSSH or PEM key "
                "readable by this user"
            ) from None

    def _socket(self) -> socket.socket:
        node = self.node
        try:
            sock = socket.create_connection((node.host, node.port), node.connect_timeout_s)
        except OSError as exc:
            raise NodeUnreachable(
                f"{describe(node)}: cannot connect ({exc.strerror or exc}); check host and port "
                "in nodes.yaml and that sshd runs there"
            ) from None
        # Nagle's algorithm costs ~40 ms per command round trip (spec: remote.md).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
