"""One cgroup per local job, where the machine lets the harness make them: every process the
job starts stays in it (``setsid``, ``env -i`` and double forks included), so ending the job
ends all of it. Elsewhere jobs are tracked by process group + token (launchers/process.py).

Job cgroups are ``<our own cgroup>/spilot/<job token>`` in the first usable hierarchy of:
cgroup v2 (with ``cgroup.kill`` or ``cgroup.freeze``), v1 ``freezer``, v1 ``pids``. The
environment variable ``SPILOT_CGROUPS`` picks one (``v2``, ``freezer``, ``pids``) or turns
them off (``0``); unset or ``auto`` takes the first that works.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SWITCH = "SPILOT_CGROUPS"
PARENT = "spilot"
KINDS = ("v2", "freezer", "pids")
OFF = ("0", "off", "no", "false")
# The wrapper cannot enter the job's cgroup: the job does not run untracked.
ENTER_FAILED_EXIT_CODE = 125
# An empty job cgroup this old belongs to a harness that died with its reaper; younger ones may
# be about to receive their job.
STALE_S = 60.0

# Putting the job into its cgroup before it can fork takes code in the child before exec.
# preexec_fn can run it but makes Popen fork() instead of vfork(): measured per `true` job from
# a 140 MB-RSS harness, 12 ms against 1.9 ms for /bin/sh that writes "0" to cgroup.procs and
# execs the job (1.2 ms with no cgroup), so jobs start through sh. (The move itself is cheap
# back to back, ~10 ms when jobs start far apart: the kernel waits for an RCU grace period;
# either way the job waits, not the harness.) sh gets PWD back as it was given (dash resets
# it); dash drops environment names that are not shell identifiers, so a job with one takes
# the preexec_fn path instead (``needs_preexec``).
_ENTER = (
    'echo 0 >"$0" || { echo "spilot: cannot enter the job\'s cgroup" >&2; '
    f"exit {ENTER_FAILED_EXIT_CODE}; }}; "
)
_KEEP_PWD = _ENTER + 'PWD=$1; shift; exec "$@"'
_NO_PWD = _ENTER + 'unset PWD; exec "$@"'


@dataclass(frozen=True)
class Tracking:
    """Where job cgroups go here, or why there are none."""

    kind: str | None  # "v2", "freezer", "pids"; None: process group + token
    parent: str = ""  # the directory job cgroups are made in
    reason: str = ""  # why there are none

    def describe(self) -> str:
        if self.kind is None:
            return f"no writable cgroup: {self.reason}"
        name = "cgroup v2" if self.kind == "v2" else f"cgroup v1 {self.kind}"
        return f"{name} ({self.parent})"


_lock = threading.Lock()
_found: dict[str, Tracking] = {}


def tracking() -> Tracking:
    """The hierarchy jobs get cgroups in (probed once per process and SPILOT_CGROUPS value)."""
    mode = os.environ.get(SWITCH, "auto").strip().lower() or "auto"
    with _lock:
        if mode not in _found:
            _found[mode] = _detect(mode)
        return _found[mode]


def _detect(mode: str) -> Tracking:
    if mode in OFF:
        return Tracking(None, reason=f"turned off by {SWITCH}={os.environ.get(SWITCH)}")
    if mode != "auto" and mode not in KINDS:
        return Tracking(None, reason=f"{SWITCH}={mode!r} is not one of auto, 0, {', '.join(KINDS)}")
    mounts = _mounts()
    if not mounts:
        return Tracking(None, reason="no cgroup file system mounted")
    why = []
    for kind in KINDS if mode == "auto" else (mode,):
        if kind not in mounts:
            why.append(f"{kind}: not mounted")
            continue
        found = _usable(kind, *mounts[kind])
        if isinstance(found, Tracking):
            _sweep_stale(found.parent)
            return found
        why.append(f"{kind}: {found}")
    return Tracking(None, reason="; ".join(why))


def _mounts() -> dict[str, tuple[str, str, str]]:
    """Each hierarchy's (mount point, root of the mount, our own cgroup in it)."""
    own: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for name in controllers.split(",") if controllers else ["v2"]:
                    own.setdefault(name, path)
        with open("/proc/self/mountinfo") as fh:
            lines = fh.read().splitlines()
    except (OSError, ValueError):
        return {}
    found: dict[str, tuple[str, str, str]] = {}
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts, after = fields.split(), tail.split()
        if len(parts) < 5 or len(after) < 3:
            continue
        root, point = _unescape(parts[3]), _unescape(parts[4])
        if after[0] == "cgroup2":
            kinds = ["v2"]
        elif after[0] == "cgroup":
            kinds = [k for k in ("freezer", "pids") if k in after[2].split(",")]
        else:
            continue
        for kind in kinds:
            if kind in own and kind not in found:
                found[kind] = (point, root, own[kind])
    return found


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _usable(kind: str, point: str, root: str, own: str) -> Tracking | str:
    """The hierarchy's Tracking when a job can be put into a cgroup made there, else why not."""
    rel = os.path.relpath(own, root)
    if rel.startswith(".."):
        return f"our cgroup {own} lies outside the mounted part {root} (a nested container)"
    base = os.path.normpath(os.path.join(point, rel))
    if not os.access(base, os.W_OK):
        return f"no write access to {base}"
    parent = os.path.join(base, PARENT)
    probe = os.path.join(parent, f"probe-{os.getpid()}-{threading.get_ident()}")
    try:
        _mkdir(probe)
    except OSError as exc:
        return f"cannot make a cgroup in {base}: {exc.strerror or exc}"
    try:
        need = {"v2": ("cgroup.kill", "cgroup.freeze"), "freezer": ("freezer.state",)}
        wanted = need.get(kind, ("pids.max",))
        if not any(os.path.exists(os.path.join(probe, f)) for f in wanted):
            return f"its cgroups have none of {', '.join(wanted)} (kernel too old)"
        # The real thing, once: a process moves itself in, as every job's wrapper will.
        try:
            out = subprocess.run(
                ["/bin/sh", "-c", 'echo 0 >"$0"', os.path.join(probe, "cgroup.procs")],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot run /bin/sh: {exc}"
        if out.returncode != 0:
            lines = out.stderr.strip().splitlines()
            return f"cannot move a process into {probe}: {lines[-1] if lines else 'sh failed'}"
    finally:
        remove(probe)
    return Tracking(kind, parent)


def _mkdir(path: str) -> None:
    """mkdir, making the ``spilot`` parent again if another harness just removed it."""
    for _ in range(5):
        try:
            os.mkdir(path)
            return
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.dirname(path))
    os.mkdir(path)


def _sweep_stale(parent: str) -> None:
    """Remove empty job cgroups left by harnesses that died together with their reaper."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        with contextlib.suppress(OSError):
            if not entry.is_dir() or populated(entry.path):
                continue
            if now - entry.stat().st_mtime > STALE_S or _dead_probe(entry.name):
                remove(entry.path)


def _dead_probe(name: str) -> bool:
    """Whether ``name`` is the probe cgroup of a process that died while probing."""
    kind, _, rest = name.partition("-")
    pid = rest.partition("-")[0]
    return kind == "probe" and pid.isdigit() and not os.path.exists(f"/proc/{pid}")


def create(token: str) -> str | None:
    """A new cgroup for the job with ``token`` (its path), or None: track it without one."""
    found = tracking()
    if found.kind is None:
        return None
    path = os.path.join(found.parent, token)
    try:
        _mkdir(path)
    except OSError:
        return None  # the hierarchy went away or is full: this job is tracked the old way
    return path


def needs_preexec(env: Mapping[str, str]) -> bool:
    """Whether /bin/sh would lose part of ``env`` (names that are not shell identifiers)."""
    return not all(name.isidentifier() and name.isascii() for name in env)


def enter_preexec(path: str) -> tuple[int, Callable[[], None]]:
    """An open cgroup.procs and a preexec_fn that moves the child into it (close the fd after)."""
    fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)

    def enter() -> None:
        os.write(fd, b"0")

    return fd, enter


def wrap(
    path: str, argv: list[str], env: Mapping[str, str], cwd: str | os.PathLike[str]
) -> list[str]:
    """``argv`` behind /bin/sh that enters cgroup ``path`` first (OSError if it cannot run)."""
    # Popen would fail on an argv[0] it cannot run: so must we, or "not found" becomes sh's 127.
    _check_runnable(argv[0], env, cwd)
    procs = os.path.join(path, "cgroup.procs")
    if "PWD" in env:
        return ["/bin/sh", "-c", _KEEP_PWD, procs, env["PWD"], *argv]
    return ["/bin/sh", "-c", _NO_PWD, procs, *argv]


def _check_runnable(name: str, env: Mapping[str, str], cwd: str | os.PathLike[str]) -> None:
    if "/" in name:
        candidates = [os.path.join(cwd, name)]
    else:
        candidates = [os.path.join(cwd, d, name) for d in os.get_exec_path(dict(env))]
    code = errno.ENOENT
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return
        if code == errno.ENOENT and os.path.exists(path):
            code = errno.EACCES
    raise OSError(code, os.strerror(code), name)


def is_job_cgroup(path: str, token: str) -> bool:
    """Whether ``path`` is the cgroup this module made for ``token`` (never touch another)."""
    parent, name = os.path.split(os.path.normpath(path))
    return (
        name == token
        and os.path.basename(parent) == PARENT
        and os.path.isfile(os.path.join(path, "cgroup.procs"))
    )


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return ""


def _write(path: str, value: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY)  # never O_CREAT: a missing control file is an answer
    except OSError:
        return False
    try:
        os.write(fd, value.encode())
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _subtree(path: str) -> list[str]:
    """The cgroup and every cgroup below it (a job may be a harness with job cgroups of its own)."""
    found = [path]
    for dirpath, dirnames, _ in os.walk(path):
        found.extend(os.path.join(dirpath, d) for d in dirnames)
    return found


def pids(path: str) -> list[int]:
    """Every live process in the cgroup and below it."""
    found = [
        int(p) for cg in _subtree(path) for p in _read(os.path.join(cg, "cgroup.procs")).split()
    ]
    # A process outside our pid namespace reads as 0, and os.kill(0) would hit our own group.
    return [pid for pid in found if pid > 0]


def populated(path: str) -> bool:
    """Whether any live process is in the cgroup or below it."""
    events = _read(os.path.join(path, "cgroup.events"))
    if events:  # v2 counts the whole subtree for us
        return "populated 1" in events
    return bool(pids(path))


def signal_all(path: str, sig: int) -> bool:
    """Send ``sig`` to every process in the cgroup; whether there were any."""
    found = pids(path)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return bool(found)


def kill(path: str, timeout_s: float = 5.0) -> bool:
    """SIGKILL everything in the cgroup, with no chance to fork away meanwhile; True once empty."""
    if not _write(os.path.join(path, "cgroup.kill"), "1"):
        if os.path.exists(os.path.join(path, "cgroup.freeze")):
            _frozen_kill(path, "cgroup.freeze", ("1", "0"), timeout_s)
        elif os.path.exists(os.path.join(path, "freezer.state")):
            _frozen_kill(path, "freezer.state", ("FROZEN", "THAWED"), timeout_s)
        else:
            # v1 pids: no new process from now on, then kill until none is left.
            _write(os.path.join(path, "pids.max"), "0")
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while populated(path):
        if time.monotonic() >= deadline:
            return False
        signal_all(path, signal.SIGKILL)
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True


def _frozen_kill(path: str, control: str, states: tuple[str, str], timeout_s: float) -> None:
    """Freeze (so nothing forks), SIGKILL all, thaw (so the kills land)."""
    freeze, thaw = states
    _write(os.path.join(path, control), freeze)
    deadline = time.monotonic() + min(timeout_s, 1.0)
    while not _frozen(path) and time.monotonic() < deadline:
        time.sleep(0.001)
    signal_all(path, signal.SIGKILL)
    _write(os.path.join(path, control), thaw)


def _frozen(path: str) -> bool:
    events = _read(os.path.join(path, "cgroup.events"))
    if events:
        return "frozen 1" in events
    return _read(os.path.join(path, "freezer.state")).strip() in ("FROZEN", "")


def remove(path: str) -> bool:
    """rmdir the cgroup, any below it and an emptied ``spilot`` parent; whether it is gone."""
    try:
        for cg in reversed(_subtree(path)):
            os.rmdir(cg)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    parent = os.path.dirname(os.path.normpath(path))
    if os.path.basename(parent) == PARENT:
        # Another harness may be about to make a job cgroup here: _mkdir makes it again.
        with contextlib.suppress(OSError):
            os.rmdir(parent)
    return True
