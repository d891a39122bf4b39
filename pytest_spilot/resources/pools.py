"""Token pools held with ``flock`` so that the kernel frees a dead holder's tokens.

Layout of a pool folder (``.spilot/resources/``), shared by every xdist worker and every
concurrent test run of a checkout:

* ``tokens/<pool>.<i>``: one small file per token (``cpus@<host>.0`` .. ``cpus@<host>.3``,
  ``license.innovus.0``); a holder keeps an exclusive ``flock`` on it while its job runs.
  The lock belongs to the open file, so it ends with the process, SIGKILL included: a
  crashed holder leaves no stale token. CPU tokens are per host (hosts sharing a ``.spilot/``
  on NFS each have their own CPUs); licence tokens are site-wide.
* ``queue/<ns>-<pid>-<hex>.json``: one small file per waiting request, locked by its waiter
  while it waits; a file nobody locks belongs to a dead waiter and is removed.
* ``mutex``: locked for the few milliseconds in which a request is decided.

A request is decided under the mutex: the free tokens of each pool it needs are counted,
each earlier waiter (by ticket order) first reserves what it needs of them, and the request
takes all its tokens only if what is left covers all of it, else none. Taking all or none
means a waiter never holds tokens, so waiters cannot deadlock one another; the reservations
mean a big request is served once enough tokens come free, before the small requests that
came after it (a queue per pool, with later requests passing only where they need nothing an
earlier one waits for).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pytest_spilot.errors import SpilotError

CPUS = "cpus"
_LICENSE = "license."


def license_pool(feature: str) -> str:
    """The pool name of a licence feature."""
    return _LICENSE + feature


def pool_label(pool: str) -> str:
    """``cpus``, or ``licence innovus`` for a licence pool."""
    return f"licence {pool[len(_LICENSE) :]}" if pool.startswith(_LICENSE) else pool


def _open(path: Path, folder: Path) -> int:
    # Read-write: on NFS flock is emulated with fcntl locks, and an exclusive one needs a file
    # open for writing. Another user's token (not writable here) still serves read-only where
    # flock is local.
    try:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o664)
        except PermissionError:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise _lock_error(folder, exc) from exc


def _lock_error(folder: Path, exc: OSError) -> SpilotError:
    return SpilotError(
        f"resource pools in {folder}: cannot lock token files ({exc.strerror or exc}); the "
        "folder must be writable by this user, on a local disk or an NFS mount with working locks"
    )


def _lock(fd: int, folder: Path, blocking: bool = True) -> bool:
    """Lock ``fd`` exclusively: False if another holds it (not ``blocking``); SpilotError for
    a file system that cannot lock it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise _lock_error(folder, exc) from exc
    return True


def _unlock(fd: int) -> None:
    # Unlocked before the close: a child forked meanwhile shares the open file, and would
    # otherwise keep the token until it exits. A file that never got its lock (the error
    # being raised) may fail to unlock too: the close still matters, and the first error.
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass
    finally:
        os.close(fd)


class Held:
    """Tokens one holder took: released by ``release()`` (or ``with``), or by its death."""

    def __init__(self, tokens: Mapping[str, list[int]]) -> None:
        self._tokens = {pool: list(fds) for pool, fds in tokens.items() if fds}

    @property
    def counts(self) -> dict[str, int]:
        """How many tokens of each pool are held."""
        return {pool: len(fds) for pool, fds in self._tokens.items()}

    def take(self, pool: str, count: int) -> Held:
        """Hand ``count`` of this holder's ``pool`` tokens to a new holder (a session)."""
        fds = self._tokens.get(pool, [])
        if count > len(fds):
            raise ValueError(f"{count} {pool} tokens asked, {len(fds)} held")
        taken, self._tokens[pool] = fds[:count], fds[count:]
        return Held({pool: taken})

    def release(self) -> None:
        """Give every token back (once; later calls do nothing)."""
        tokens, self._tokens = self._tokens, {}
        for fds in tokens.values():
            for fd in fds:
                _unlock(fd)

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class TokenPool:
    """Pools of ``sizes`` tokens (pool name to count) in ``folder``; see the module docstring.

    Concurrent users of one folder may give different sizes: each takes tokens numbered below
    its own size, so the strictest size caps it.
    """

    def __init__(self, folder: Path, sizes: Mapping[str, int]) -> None:
        bad = {pool: n for pool, n in sizes.items() if n < 1}
        if bad:
            raise SpilotError(
                "resource pools need at least 1 token each: "
                + ", ".join(f"{pool_label(p)} {n}" for p, n in bad.items())
            )
        self.folder = folder
        self.sizes = dict(sizes)
        self.host = socket.gethostname()

    def acquire(
        self,
        want: Mapping[str, int],
        *,
        on_wait: Callable[[str], None] | None = None,
        timeout_s: float | None = None,
    ) -> Held:
        """All of ``want`` (pool name to tokens) at once, waiting as long as it takes.

        ``on_wait`` is told once what the request waits for; SpilotError after ``timeout_s``.
        Pools without a size are not capped; a request beyond a pool's size is an error.
        """
        want = self.capped(want)
        if not want:
            return Held({})
        held = self.try_acquire(want)
        if held is not None:
            return held
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        begun = time.monotonic()
        told = False
        with self._ticket(want) as ticket:
            while True:
                with self._mutex():
                    held, short = self._decide(want, ticket)
                if held is not None:
                    return held
                if not told and on_wait is not None:
                    on_wait(short)
                    told = True
                if deadline is not None and time.monotonic() > deadline:
                    raise SpilotError(
                        f"resources not free within {timeout_s:g} s: waiting for {short}"
                    )
                # Quick hand-over for short jobs, fewer wake-ups during a long wait.
                time.sleep(min(0.2, 0.01 + 0.004 * (time.monotonic() - begun)))

    def try_acquire(self, want: Mapping[str, int]) -> Held | None:
        """All of ``want`` now if free and no earlier waiter needs them, else None."""
        want = self.capped(want)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._mutex():
            held, _ = self._decide(want, None)
        return held

    def capped(self, want: Mapping[str, int]) -> dict[str, int]:
        """The pools of ``want`` that this pool caps, checked against their sizes."""
        out = {pool: n for pool, n in want.items() if n > 0 and pool in self.sizes}
        over = {pool: n for pool, n in out.items() if n > self.sizes[pool]}
        if over:
            raise SpilotError(
                "asks for more than the pool holds: "
                + ", ".join(
                    f"{pool_label(p)} {n} of a pool of {self.sizes[p]}" for p, n in over.items()
                )
                + "; lower the validation's 'resources' or raise the pool (--spilot-cpus, "
                "--spilot-license FEATURE=N, [tool.spilot.resources])"
            )
        return out

    def waiting_for(self, pool: str) -> bool:
        """Whether a live waiter queues for tokens of ``pool`` (an idle holder then gives
        them back)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._mutex():
            return any(want.get(pool, 0) > 0 for want in self._earlier_waiters(None))

    def _decide(self, want: Mapping[str, int], ticket: str | None) -> tuple[Held | None, str]:
        """Under the mutex: this request's tokens, or None and what it waits for."""
        free: dict[str, list[int]] = {}
        try:
            for pool in want:
                free[pool] = self._free_tokens(pool, self.sizes[pool])
            spare = {pool: len(fds) for pool, fds in free.items()}
            for earlier in self._earlier_waiters(ticket):
                for pool in want:
                    spare[pool] -= min(int(earlier.get(pool, 0)), spare[pool])
        except BaseException:
            # An interrupt mid-count must not leave tokens locked until the process ends.
            for fds in free.values():
                for fd in fds:
                    _unlock(fd)
            raise
        if all(spare[pool] >= n for pool, n in want.items()):
            taken = {pool: free[pool][:n] for pool, n in want.items()}
            for pool, fds in free.items():
                for fd in fds[want[pool] :]:
                    _unlock(fd)
            return Held(taken), ""
        for fds in free.values():
            for fd in fds:
                _unlock(fd)
        short = []
        for pool, n in want.items():
            if spare[pool] >= n:
                continue  # only what it lacks
            size, left = self.sizes[pool], len(free[pool])
            reserved = left - spare[pool]
            note = f", {reserved} kept for earlier waiters" if reserved else ""
            what = f"{n} {pool}" if pool == CPUS else f"{n} {pool_label(pool)}"
            short.append(f"{what} ({left} of {size} free{note})")
        return None, ", ".join(short)

    def _free_tokens(self, pool: str, size: int) -> list[int]:
        """Locked file descriptors of the pool's free tokens (the caller unlocks or keeps)."""
        tokens = self.folder / "tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        name = f"{pool}@{self.host}" if pool == CPUS else pool
        fds: list[int] = []
        try:
            for i in range(size):
                fd = _open(tokens / f"{name}.{i}", self.folder)
                try:
                    locked = _lock(fd, self.folder, blocking=False)
                except BaseException:
                    os.close(fd)
                    raise
                if locked:
                    fds.append(fd)
                else:
                    os.close(fd)
        except BaseException:
            for fd in fds:
                _unlock(fd)
            raise
        return fds

    def _earlier_waiters(self, ticket: str | None) -> Iterator[dict[str, int]]:
        """The requests of live waiters queued before ``ticket`` (all of them for None)."""
        queue = self.folder / "queue"
        try:
            names = sorted(os.listdir(queue))
        except FileNotFoundError:
            return
        for name in names:
            if ticket is not None and name >= ticket:
                return
            path = queue / name
            try:
                # Read-write: an NFS lock (to tell a dead waiter's file) needs it.
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _lock_error(self.folder, exc) from exc
            try:
                if _lock(fd, self.folder, blocking=False):
                    path.unlink(missing_ok=True)  # its waiter died
                    continue
                with os.fdopen(os.dup(fd), encoding="utf-8") as fh:
                    want = json.load(fh)
            except ValueError:
                continue
            finally:
                os.close(fd)
            if isinstance(want, dict):
                yield {str(k): int(v) for k, v in want.items() if isinstance(v, int)}

    @contextmanager
    def _ticket(self, want: Mapping[str, int]) -> Iterator[str]:
        """This waiter's place in the queue, held (locked) until it has its tokens or gives up."""
        queue = self.folder / "queue"
        queue.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        path = queue / name
        # Written and locked under the mutex: no one takes it for a dead waiter's meanwhile.
        with self._mutex():
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o664)
            except OSError as exc:
                raise _lock_error(self.folder, exc) from exc
            try:
                _lock(fd, self.folder)
                os.write(fd, json.dumps(dict(want)).encode())
            except BaseException:
                # No stray ticket (it would hold its place in the queue) and no leaked fd.
                try:
                    _unlock(fd)
                finally:
                    path.unlink(missing_ok=True)
                raise
        try:
            yield name
        finally:
            path.unlink(missing_ok=True)
            _unlock(fd)

    @contextmanager
    def _mutex(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = _open(self.folder / "mutex", self.folder)
        try:
            _lock(fd, self.folder)
            yield
        finally:
            _unlock(fd)
