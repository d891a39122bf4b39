"""A live single-node Slurm cluster in a temp directory, started and stopped by the tests.

munged, slurmctld and slurmd run in the foreground as children of this process (never through
a shell), with their own munge key and socket, free TCP ports on 127.0.0.1 and a fresh state
folder, so two clusters (two xdist workers) can run side by side. ``stop()`` cancels every job,
waits until the queue is empty, terminates the daemons by pid and reaps them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import pytest

PACKAGES = "slurmctld slurmd slurm-client munge"
INSTALL = f"apt-get install -y --no-install-recommends {PACKAGES}"
TOOLS = ("slurmctld", "slurmd", "srun", "sinfo", "squeue", "scancel", "munged")
# Set in the environment of every daemon (slurmstepd inherits it from slurmd) and of every
# client: find_processes() uses it to recognise what a cluster left behind.
MARKER = "SPILOT_SLURM_KIT"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_slurm() -> None:
    """Outside CI a missing Slurm/munge binary skips; with CI=true it fails."""
    missing = [tool for tool in TOOLS if _which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed ({INSTALL})"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def _which(tool: str) -> str | None:
    # The daemons live in /usr/sbin, which a non-root PATH may lack.
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def _free_ports(count: int) -> list[int]:
    """Distinct free ports on 127.0.0.1 (all sockets are held until every port is chosen)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no file)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def find_processes(marker: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose environment holds MARKER=marker."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            status = (entry / "stat").read_text()
            if status[status.rfind(")") + 2] == "Z":  # zombie: dead, only not reaped yet
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append((int(entry.name), cmdline.strip()))
    return found


class SlurmCluster:
    """One node ``localhost`` with ``cpus`` CPUs in partition ``debug`` (the default).

    ``extra_conf`` lines are appended to slurm.conf (e.g. ``InactiveLimit=5``).
    """

    def __init__(
        self,
        cpus: int = 2,
        memory_mb: int = 1024,
        base_dir: Path | None = None,
        start_timeout_s: float = 30.0,
        extra_conf: Sequence[str] = (),
    ) -> None:
        self.cpus = cpus
        self.extra_conf = list(extra_conf)
        self.memory_mb = memory_mb
        self.start_timeout_s = start_timeout_s
        self._base_dir = base_dir
        self.dir = Path()
        self.conf = Path()
        self.env: dict[str, str] = {}
        self.ports: tuple[int, int] = (0, 0)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._owns_dir = False

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start munged, slurmctld and slurmd; return once the node is ``idle``."""
        if self._procs:
            raise RuntimeError("cluster already started")
        for attempt in range(3):
            self._prepare()
            try:
                self._start_daemons()
            except BaseException as error:
                self._shutdown_daemons()
                self._remove_dir()
                # Another process may have taken a port between choosing and binding it.
                in_use = isinstance(error, RuntimeError) and "Address already in use" in str(error)
                if attempt == 2 or not in_use:
                    raise
            else:
                return

    def stop(self) -> None:
        """Cancel all jobs, wait for an empty queue, stop and reap the daemons."""
        if not self._procs:
            return
        try:
            if self._alive("slurmctld"):
                self._drain_queue()
        finally:
            self._shutdown_daemons()
            self._kill_leftovers()
            self._remove_dir()

    # -- clients ----------------------------------------------------------------------------

    def client_env(self) -> dict[str, str]:
        """os.environ without an outer Slurm job's SLURM_* variables, plus ``env``."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        return {**base, **self.env}

    def run_client(
        self, argv: list[str], timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client (srun, squeue, ...) against this cluster; output captured."""
        return subprocess.run(
            argv,
            env=self.client_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def squeue_ids(self) -> list[str]:
        """Ids of the jobs squeue shows by default (pending, running, completing, ...)."""
        result = self.run_client(["squeue", "-h", "-o", "%i"], timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"squeue failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout.split()

    def settled_queue(self, timeout_s: float = 5.0) -> list[str]:
        """Ids still queued once jobs that just ended have left COMPLETING (Slurm reports a
        job's end to the controller after srun has already returned)."""
        deadline = time.monotonic() + timeout_s
        while (ids := self.squeue_ids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return ids

    def leftover_processes(self) -> list[tuple[int, str]]:
        """Processes started by this cluster that are still alive (daemons, slurmstepd)."""
        if not self.env:
            return []
        return find_processes(self.env[MARKER])

    def logs(self, lines: int = 25) -> str:
        """The tail of every daemon's log and output, for error messages."""
        parts = []
        for name in ("munged", "slurmctld", "slurmd"):
            for suffix in (".log", ".out"):
                path = self.dir / "log" / f"{name}{suffix}"
                if path.exists():
                    parts.append(f"--- {path.name} ---\n{_tail(path, lines)}")
        return "\n".join(parts)

    # -- internals --------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="spilot-slurm-", dir=self._base_dir))
        self._owns_dir = True
        for sub in ("munge", "state", "spool", "run", "log"):
            (self.dir / sub).mkdir()
        # munged refuses a socket folder writable by others; slurm clients must traverse it.
        for folder in (self.dir, self.dir / "munge"):
            folder.chmod(0o755)
        key = self.dir / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        ctld_port, slurmd_port = _free_ports(2)
        self.ports = (ctld_port, slurmd_port)
        d = self.dir
        self.conf = d / "slurm.conf"
        self.conf.write_text(
            "\n".join(
                [
                    f"ClusterName=spilot{ctld_port}",
                    "SlurmctldHost=localhost",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={d / 'munge' / 'munge.socket'}",
                    "CredType=cred/munge",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny",
                    f"StateSaveLocation={d / 'state'}",
                    f"SlurmdSpoolDir={d / 'spool'}",
                    f"SlurmctldPidFile={d / 'run' / 'slurmctld.pid'}",
                    f"SlurmdPidFile={d / 'run' / 'slurmd.pid'}",
                    f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={d / 'log' / 'slurmd.log'}",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobCompType=jobcomp/none",
                    "MailProg=/bin/true",
                    "SelectType=select/cons_tres",
                    # Cores only: memory is not consumed, so jobs share the node.
                    "SelectTypeParameters=CR_Core",
                    # The configured CPUs/memory count even on a smaller machine.
                    "SlurmdParameters=config_overrides",
                    "SchedulerParameters=batch_sched_delay=0",
                    "ReturnToService=2",
                    f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} "
                    f"RealMemory={self.memory_mb} State=UNKNOWN",
                    "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
                    *self.extra_conf,
                    "",
                ]
            )
        )
        self.env = {"SLURM_CONF": str(self.conf), MARKER: str(self.dir)}

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = (self.dir / "log" / f"{name}.out").open("wb")
        try:
            self._procs[name] = subprocess.Popen(
                argv,
                env={**self.client_env()},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
            )
        finally:
            out.close()

    def _alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def _fail(self, what: str) -> RuntimeError:
        codes = ", ".join(f"{n} exit {p.poll()}" for n, p in self._procs.items())
        return RuntimeError(f"Slurm test cluster: {what} ({codes}) in {self.dir}\n{self.logs()}")

    def _start_daemons(self) -> None:
        d = self.dir
        deadline = time.monotonic() + self.start_timeout_s
        sock = d / "munge" / "munge.socket"
        self._spawn(
            "munged",
            [
                _which("munged") or "munged",
                "-F",
                "--force",
                f"--key-file={d / 'munge' / 'munge.key'}",
                f"--socket={sock}",
                f"--pid-file={d / 'run' / 'munged.pid'}",
                f"--log-file={d / 'log' / 'munged.log'}",
                f"--seed-file={d / 'munge' / 'munged.seed'}",
            ],
        )
        while not sock.exists():
            if not self._alive("munged"):
                raise self._fail("munged exited")
            if time.monotonic() > deadline:
                raise self._fail("munged socket did not appear")
            time.sleep(0.01)
        self._spawn("slurmctld", [_which("slurmctld") or "slurmctld", "-D", "-i"])
        self._spawn("slurmd", [_which("slurmd") or "slurmd", "-D", "-N", "localhost"])
        state = ""
        while True:
            for name in ("munged", "slurmctld", "slurmd"):
                if not self._alive(name):
                    raise self._fail(f"{name} exited during startup")
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"node not idle after {self.start_timeout_s} s (state {state!r})")
            # sinfo retries for several seconds while the controller is not (yet) listening.
            try:
                result = self.run_client(
                    ["sinfo", "-h", "-n", "localhost", "-o", "%t"], timeout=min(left, 5.0)
                )
                state = result.stdout.strip()
            except subprocess.TimeoutExpired:
                continue
            if state == "idle":
                return
            time.sleep(0.05)

    def _drain_queue(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                ids = self.squeue_ids()
            except (RuntimeError, subprocess.TimeoutExpired):
                return  # the controller no longer answers: nothing left to cancel through it
            if not ids:
                return
            self.run_client(["scancel", *ids], timeout=30)
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def _shutdown_daemons(self) -> None:
        # Reverse start order: slurmd, slurmctld, then munged (they authenticate through it).
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self._procs.get(name)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self._procs.clear()

    def _kill_leftovers(self) -> None:
        # A slurmstepd that outlived slurmd (it ignores SIGTERM): give it a moment, then kill.
        deadline = time.monotonic() + 5
        while (leftovers := self.leftover_processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid, _ in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _remove_dir(self) -> None:
        if self._owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self._owns_dir = False
