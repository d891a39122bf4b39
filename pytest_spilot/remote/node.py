"""A node as tests use it: ``run``, ``put``/``get``, ``which``; one connection, preflight once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.base import NOT_FOUND_EXIT_CODE, TIMEOUT_EXIT_CODE
from pytest_spilot.redact import RedactingStream, Redactor
from pytest_spilot.remote import shell
from pytest_spilot.remote.errors import NodeError, NodeUnreachable, describe

# Every process of a run imports this module (the release holds the pool); paramiko, and what
# is built on it, only when a node connects.
if TYPE_CHECKING:
    import paramiko

    from pytest_spilot.remote.connection import SshConnection
    from pytest_spilot.remote.inventory import Inventory, Node
    from pytest_spilot.remote.process import RemoteProcess

Say = Callable[[str], None]


class PreflightFailed(NodeError):
    """A tool the node ``requires`` is not found there."""

    exit_code = NOT_FOUND_EXIT_CODE


class CommandFailed(SpilotError):
    """``run(..., check=True)`` of a command that exited non-zero."""


@dataclass(frozen=True)
class CommandResult:
    """What a command on a node did; stdout and stderr with secrets redacted."""

    node: str
    command: str
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class RemoteNode:
    """One inventory node over one reused paramiko connection (reconnected after a drop)."""

    def __init__(
        self,
        node: Node,
        log_path: Path | None = None,
        say: Say | None = None,
        secrets: Redactor | None = None,
    ) -> None:
        self.node = node
        self.secrets = secrets or Redactor()  # the process's set, beyond the node's own
        self.log_path = log_path
        self.say: Say = say or (lambda _text: None)
        self._conn: SshConnection | None = None
        self._preflight: NodeError | bool = False
        self._lock = threading.Lock()
        # Process groups whose connection dropped under them: without a terminal nothing tells
        # them, so they are killed as soon as the node is reachable again.
        self._orphans: list[int] = []

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def tags(self) -> list[str]:
        return list(self.node.tags)

    def __repr__(self) -> str:
        return f"<RemoteNode {self.name} {self.node.host}:{self.node.port}>"

    def redactor(self, env: Mapping[str, str] = {}) -> Redactor:
        redactor = Redactor(self.node.secret_env, {**self.node.env, **env})
        redactor.merge(self.secrets)
        return redactor

    # -- connection and preflight ---------------------------------------------------------

    def connection(self) -> SshConnection:
        """The live connection, made (and preflighted) on first use."""
        with self._lock:
            if self._conn is not None and not self._conn.alive:
                self.say(f"{describe(self.node)}: connection lost; reconnecting")
                self._conn.close()
                self._conn = None
            if self._conn is None:
                from pytest_spilot.remote.connection import SshConnection

                self._conn = SshConnection(self.node, self.say)
            orphans, self._orphans = self._orphans, []
        for pgid in orphans:
            self.say(
                f"{describe(self.node)}: killing process group {pgid}, left by a dropped connection"
            )
            try:
                self.stop_group(pgid, 0.5)
            except NodeError:
                self._orphans.append(pgid)
        self.preflight()
        return self._conn

    def preflight(self) -> None:
        """Look up the node's ``requires`` once; a missing tool fails every use (exit 127)."""
        if self._preflight is True:
            return
        if isinstance(self._preflight, NodeError):
            raise self._preflight
        self._preflight = True
        if not self.node.requires:
            return
        try:
            found, path = self._lookup(self.node.requires)
        except BaseException:
            self._preflight = False
            raise
        missing = [tool for tool in self.node.requires if tool not in found]
        if missing:
            self._preflight = PreflightFailed(
                f"{describe(self.node)}: preflight failed (exit code {NOT_FOUND_EXIT_CODE}): "
                f"{', '.join(missing)} not found; the node's effective PATH is {path}. Install "
                f"{'it' if len(missing) == 1 else 'them'} there, or add the folder to "
                f"path_prepend or a setup line of node {self.name!r} in nodes.yaml"
            )
            raise self._preflight

    def which(self, tool: str) -> str | None:
        """Where ``tool`` is on the node with its env, path_prepend and setup; None if absent."""
        found, _ = self._lookup([tool])
        return found.get(tool)

    def effective_path(self) -> str:
        """The node's PATH as commands see it."""
        return self._lookup([])[1]

    def _lookup(self, tools: Sequence[str]) -> tuple[dict[str, str], str]:
        result = self._run_script(shell.lookup_script(tools), timeout_s=60.0, log=False)
        found, path = {}, ""
        for line in result.stdout.splitlines():
            if line.startswith("found "):
                _, tool, where = line.split(" ", 2)
                found[tool] = where
            elif line.startswith("PATH="):
                path = line[5:]
        return found, path

    # -- commands -------------------------------------------------------------------------

    def start(
        self,
        command: str | Sequence[str],
        *,
        env: Mapping[str, str] = {},
        cwd: str | None = None,
        stdout: list[BinaryIO] | None = None,
        stderr: list[BinaryIO] | None = None,
        keep_output: bool = False,
    ) -> RemoteProcess:
        """Start ``command`` (shell text, or an argv quoted word by word) and return at once."""
        return self._start(
            shell.command_text(command),
            env=env,
            cwd=cwd,
            stdout=stdout or [],
            stderr=stderr or [],
            keep_output=keep_output,
        )

    def run(
        self,
        command: str | Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        check: bool = False,
    ) -> CommandResult:
        """Run ``command`` to its end; output also streams to the node's local log.

        A timeout kills the remote process group and gives exit code 124.
        """
        text = shell.command_text(command)
        return self._run_script(text, env=env or {}, cwd=cwd, timeout_s=timeout, check=check)

    def _run_script(
        self,
        text: str,
        *,
        env: Mapping[str, str] = {},
        cwd: str | None = None,
        timeout_s: float | None = None,
        check: bool = False,
        log: bool = True,
    ) -> CommandResult:
        redactor = self.redactor(env)
        shown = redactor.text(text)
        started = time.monotonic()
        log_file = self._open_log(shown) if log and self.log_path else None
        targets = [log_file] if log_file else []
        try:
            process = self._start(
                text, env=env, cwd=cwd, stdout=targets, stderr=targets, keep_output=True
            )
            timed_out = False
            try:
                code = process.wait(timeout_s)
            except TimeoutError:
                timed_out = True
                process.stop()
                code = TIMEOUT_EXIT_CODE
            if process.lost and not timed_out:
                raise NodeUnreachable(
                    f"{describe(self.node)}: the connection dropped while running {shown!r}"
                )
        finally:
            if log_file is not None:
                log_file.close()
        result = CommandResult(
            node=self.name,
            command=shown,
            exit_code=code,
            stdout=process.stdout.text(),
            stderr=process.stderr.text(),
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
        )
        if check and not result.ok:
            raise CommandFailed(
                f"{describe(self.node)}: {shown!r} exited {code}"
                f"{' (timed out)' if timed_out else ''}; stderr: {result.stderr.strip()[-2000:]}"
            )
        return result

    def _start(
        self,
        text: str,
        *,
        env: Mapping[str, str],
        cwd: str | None,
        stdout: list[BinaryIO],
        stderr: list[BinaryIO],
        keep_output: bool,
    ) -> RemoteProcess:
        try:
            script = shell.script(
                text,
                env={**self.node.env, **env},
                path_prepend=self.node.path_prepend,
                setup=self.node.setup,
                cwd=cwd,
                announce_pgid=True,
                watch_channel=True,
            )
        except ValueError as exc:
            raise NodeError(f"{describe(self.node)}: {exc}") from None
        conn = self.connection()
        from pytest_spilot.remote.process import RemoteProcess

        redactor = self.redactor(env)
        process = RemoteProcess(
            conn.open_shell(script, keep_stdin_open=True),
            RedactingStream(stdout, redactor, keep=keep_output),
            RedactingStream(stderr, redactor, keep=keep_output),
            stop_group=self.stop_group,
        )

        def note_orphan() -> None:
            if process.lost and process.pid:
                self._orphans.append(process.pid)

        process.on_end(note_orphan)
        return process

    def stop_group(self, pgid: int, grace_s: float = 1.0, token: str | None = None) -> bool:
        """End process group ``pgid`` on the node: SIGTERM, SIGKILL after ``grace_s``.

        True if the group existed. With ``token``, only a group one of whose processes carries
        that SPILOT_JOB_TOKEN (a job of an earlier run: its id may have been reused since).
        Raises NodeError when the node cannot be reached.
        """
        try:
            script = shell.stop_script(pgid, grace_s, token)
        except ValueError as exc:
            raise NodeError(f"{describe(self.node)}: {exc}") from None
        with self._lock:
            conn = self._conn
        if conn is None or not conn.alive:
            conn = self.connection()
        channel = conn.open_shell(script)
        try:
            return channel.recv_exit_status() == 0
        finally:
            channel.close()

    def _open_log(self, shown: str) -> BinaryIO:
        assert self.log_path is not None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab", buffering=0)  # noqa: SIM115 - closed by the caller
        log.write(f"[spilot] {time.strftime('%H:%M:%S')} {self.name}$ {shown}\n".encode())
        return log

    # -- files ----------------------------------------------------------------------------

    def put(self, local: str | Path, remote: str) -> None:
        """Copy a local file to the node (SFTP)."""
        self._sftp("put", lambda sftp: sftp.put(str(local), remote), local, remote)

    def get(self, remote: str, local: str | Path) -> None:
        """Copy a file from the node (SFTP)."""
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        self._sftp("get", lambda sftp: sftp.get(remote, str(local)), remote, local)

    def _sftp(
        self, verb: str, action: Callable[[paramiko.SFTPClient], object], src: object, dst: object
    ) -> None:
        sftp = self.connection().sftp()
        try:
            action(sftp)
        except OSError as exc:
            raise NodeError(
                f"{describe(self.node)}: {verb} {src} -> {dst} failed: {exc.strerror or exc}"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class NodePool:
    """This process's nodes: one RemoteNode (one connection) per inventory node, made on demand."""

    def __init__(
        self, inventory: Inventory, log_dir: Path | None = None, say: Say | None = None
    ) -> None:
        self.inventory = inventory
        self.log_dir = log_dir
        self.say = say
        self.secrets = Redactor()  # the process's secret set (the plugin gives its own)
        self._nodes: dict[str, RemoteNode] = {}

    def get(self, name: str) -> RemoteNode:
        if name not in self._nodes:
            node = self.inventory.node(name)
            log = self.log_dir / f"{name}.log" if self.log_dir else None
            self._nodes[name] = RemoteNode(node, log, self.say, self.secrets)
        return self._nodes[name]

    def close(self) -> None:
        for node in self._nodes.values():
            node.close()
        self._nodes.clear()
