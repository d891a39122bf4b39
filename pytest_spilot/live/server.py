"""The live page's server (``spilot serve``, ``--spilot-live``): every release of a folder.

Read-only (GET and HEAD), bound to 127.0.0.1 unless told otherwise; on any address that is not
loopback it wants a token. Releases and validations are named only by what the folder holds,
logs are served only from inside the folder or a run root it was given, and every byte it sends
passes the redactor. The page gets a release's whole view, then pushed changes (Server-Sent
Events): the server reads the journal every ``FOLLOW_S`` while anyone listens.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import secrets
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from pytest_spilot.core.settings import release_versions
from pytest_spilot.core.store import journal_dir
from pytest_spilot.errors import SpilotError
from pytest_spilot.live.release_view import LiveRelease
from pytest_spilot.live.view import LogLines, ReleaseSummary, RowsChanged
from pytest_spilot.redact import PARTIAL_LINE_LIMIT, Redactor

STATIC = Path(__file__).parent / "static"
FOLLOW_S = 0.025  # journal and log read interval while a stream is open
KEEPALIVE_S = 15.0  # a comment line on a silent stream: proxies close idle connections
LOG_TAIL_LINES = 200
LOG_TAIL_BYTES = 1024 * 1024
LOG_RECHECK_S = 1.0  # how often a log stream asks whether a new run started a new log
CACHED_RELEASES = 8  # releases kept in memory besides those being streamed
COOKIE = "spilot_token"
QUEUED_MESSAGES = 256  # a page this far behind is ended: its reconnect gets a whole view
_SET_COOKIE = web.RequestKey("set_cookie", bool)
_SUMMARIES: TypeAdapter[list[ReleaseSummary]] = TypeAdapter(list[ReleaseSummary])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def needs_token(host: str) -> bool:
    """Whether binding ``host`` exposes the server beyond this machine.

    Every loopback address (127.0.0.0/8, ::1, ``localhost``) is reachable from this machine
    only, exactly as 127.0.0.1 is; anything else, names and wildcards included, needs a token.
    """
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True


def _push(queue: asyncio.Queue[RowsChanged | None], message: RowsChanged | None) -> None:
    """Queue a message for one page; a page that stopped reading has its stream ended."""
    try:
        queue.put_nowait(message)
    except asyncio.QueueFull:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


@dataclass
class _Release:
    """A release the server holds in memory, and who follows it."""

    live: LiveRelease
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    listeners: set[asyncio.Queue[RowsChanged | None]] = field(default_factory=set)
    follower: asyncio.Task[None] | None = None


class _Site:
    """The application's state: the served folder and the releases read from it."""

    def __init__(
        self, folder: Path, token: str | None, roots: Sequence[Path], redactor: Redactor
    ) -> None:
        self.folder = folder
        self.token = token
        self.roots = tuple(roots)
        self.redactor = redactor
        self.releases: OrderedDict[str, _Release] = OrderedDict()
        self.summaries: dict[str, tuple[tuple[object, ...], ReleaseSummary]] = {}
        # Per server: a cookie of another server on this host (another port) must not
        # replace this one's (cookies do not tell ports apart).
        self.cookie = (
            f"{COOKIE}_{hashlib.sha256(token.encode()).hexdigest()[:12]}" if token else COOKIE
        )
        self.loading = asyncio.Lock()
        self.closing = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/api/releases", self.list_releases)
        app.router.add_get("/api/releases/{version}", self.release)
        # Streams never end by themselves: no HEAD for them.
        app.router.add_get("/api/releases/{version}/stream", self.stream, allow_head=False)
        app.router.add_get(
            "/api/releases/{version}/log/{key:.+}/stream", self.log_stream, allow_head=False
        )
        app.router.add_get("/api/history", self.history)
        app.router.add_get("/api/compare", self.compare)
        app.on_shutdown.append(self._shutdown)
        return app

    # Security.

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is not None:
            header = request.headers.get("Authorization", "")
            bearer = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
            query = request.query.get("token", "")
            # Any one that matches: a stale cookie of an earlier server must not hide a new URL.
            cookie = request.cookies.get(self.cookie)
            if not any(self._is_token(t) for t in (query, cookie, bearer)):
                return _error(
                    401, "a token is needed: open the URL the server printed (…/?token=…)"
                )
            if self._is_token(query):
                request[_SET_COOKIE] = True
        elif needs_token(request.url.host or ""):
            # Without a token, only pages of a loopback origin: a web site that points its own
            # name at 127.0.0.1 (DNS rebinding) is not let in.
            return _error(403, f"Host {request.host!r} is not this machine's loopback")
        if request.method not in ("GET", "HEAD"):
            return _error(405, "read-only: only GET and HEAD", {"Allow": "GET, HEAD"})
        response = await handler(request)
        if not response.prepared:
            self._set_cookie(request, response)
        return response

    def _is_token(self, given: str | None) -> bool:
        assert self.token is not None
        return bool(given) and secrets.compare_digest(str(given).encode(), self.token.encode())

    def _set_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        """A token that came in the URL goes on as a cookie: the page's own requests use it."""
        if request.get(_SET_COOKIE) and self.token is not None:
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")

    # Pages.

    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file(STATIC / "index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name.startswith(".") or "/" in name or "\\" in name:
            raise web.HTTPNotFound()
        return self._file(STATIC / name)

    @staticmethod
    def _file(path: Path) -> web.StreamResponse:
        real = path.resolve()
        if not real.is_relative_to(STATIC.resolve()) or not real.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(real, headers={"Cache-Control": "no-cache"})

    # Releases.

    async def list_releases(self, request: web.Request) -> web.StreamResponse:
        summaries = []
        for version in reversed(release_versions(self.folder)):
            held = self.releases.get(version)
            if held is not None:
                async with held.lock:
                    await asyncio.to_thread(held.live.poll)
                    summaries.append(held.live.summary())
                continue
            # Not held: read once and kept while its files do not change (holding every
            # release of a big folder would evict the ones the pages follow).
            signature = await asyncio.to_thread(self._signature, version)
            cached = self.summaries.get(version)
            if cached is None or cached[0] != signature:
                try:
                    summary = await asyncio.to_thread(self._summary_of, version)
                except (SpilotError, OSError):
                    continue  # removed meanwhile, or a document no one can read
                cached = self.summaries[version] = (signature, summary)
            summaries.append(cached[1])
        return self._json(_SUMMARIES.dump_json(summaries).decode())

    def _signature(self, version: str) -> tuple[object, ...]:
        """What changes when a release's document or journal does."""
        document = self.folder / f"{version}.json"

        def stat(path: Path) -> tuple[int, int] | None:
            try:
                found = path.stat()
            except OSError:
                return None
            return found.st_mtime_ns, found.st_size

        try:
            files = tuple(sorted((p.name, stat(p)) for p in journal_dir(document).iterdir()))
        except OSError:
            files = ()
        return stat(document), files

    def _summary_of(self, version: str) -> ReleaseSummary:
        live = LiveRelease(self.folder, version, self.redactor, self.roots)
        try:
            return live.summary()
        finally:
            live.close()

    async def release(self, request: web.Request) -> web.StreamResponse:
        release = await self._release(request.match_info["version"])
        async with release.lock:
            text = await asyncio.to_thread(self._view_text, release.live)
        return self._json(text)

    def _view_text(self, live: LiveRelease) -> str:
        live.poll()
        return live.view().model_dump_json()

    async def stream(self, request: web.Request) -> web.StreamResponse:
        release = await self._release(request.match_info["version"])
        queue: asyncio.Queue[RowsChanged | None] = asyncio.Queue(QUEUED_MESSAGES)
        async with release.lock:
            first = await asyncio.to_thread(self._view_text, release.live)
            # Subscribed under the lock that polls take: no change falls between view and queue.
            release.listeners.add(queue)
        try:
            if release.follower is None or release.follower.done():
                release.follower = asyncio.create_task(self._follow(release))
            response = await self._sse(request)
            await self._send(response, first)
            seq = 0
            # Until the sentinel: messages queued before the server closes still go out.
            while True:
                try:
                    changed = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if self.closing.is_set():
                        break
                    await response.write(b": keep-alive\n\n")
                    continue
                if changed is None:
                    break
                seq += 1
                await self._send(response, changed.model_copy(update={"seq": seq}))
        except ConnectionResetError:
            pass  # the page went away
        finally:
            release.listeners.discard(queue)
        return response

    async def _follow(self, release: _Release) -> None:
        """Read the release's journal while anyone listens; push what changed to each."""
        while release.listeners and not self.closing.is_set():
            await asyncio.sleep(FOLLOW_S)
            try:
                async with release.lock:
                    changed = await asyncio.to_thread(release.live.poll)
            except Exception as exc:  # a bug or an unreadable file must not end the stream
                _warn(f"following release {release.live.version}: {exc!r}")
                await asyncio.sleep(1.0)
                continue
            if changed is not None:
                for queue in release.listeners:
                    _push(queue, changed)

    async def log_stream(self, request: web.Request) -> web.StreamResponse:
        release = await self._release(request.match_info["version"])
        key = request.match_info["key"]
        async with release.lock:
            await asyncio.to_thread(release.live.poll)
            if key not in release.live.rows:
                raise web.HTTPNotFound(text=f"no validation {key!r} in this release")
            path = release.live.log_path(key)
        if path is None:
            raise web.HTTPNotFound(text=f"{key!r} has no log that this server may show")
        response = await self._sse(request)
        log = _LogFollower(path, self.redactor)
        try:
            await self._send(response, LogLines(key=key, lines=log.start()))
            quiet = checked = 0.0
            while not self.closing.is_set():
                await asyncio.sleep(FOLLOW_S)
                quiet += FOLLOW_S
                checked += FOLLOW_S
                if checked >= LOG_RECHECK_S:
                    checked = 0.0
                    async with release.lock:
                        await asyncio.to_thread(release.live.poll)
                        newer = release.live.log_path(key)
                    if newer is not None and log.moved(newer):
                        log = _LogFollower(newer, self.redactor)
                        lines = log.start()
                        await self._send(response, LogLines(key=key, lines=lines))
                        continue
                lines = log.poll()
                if lines:
                    quiet = 0.0
                    await self._send(response, LogLines(key=key, lines=lines))
                elif quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    await response.write(b": keep-alive\n\n")
        except ConnectionResetError:
            pass
        finally:
            log.close()
        return response

    async def history(self, request: web.Request) -> web.StreamResponse:
        from pytest_spilot.live.history import history_view

        view = await asyncio.to_thread(history_view, self.folder, self.redactor, _warn)
        return self._json(view.model_dump_json())

    async def compare(self, request: web.Request) -> web.StreamResponse:
        from pytest_spilot.live.history import compare_view

        old, new = request.query.get("old"), request.query.get("new")
        if not old or not new:
            return _error(400, "give both releases: /api/compare?old=A&new=B")
        known = set(release_versions(self.folder))
        if old not in known or new not in known:
            raise web.HTTPNotFound(text=f"no release {old if old not in known else new!r} here")
        try:
            view = await asyncio.to_thread(compare_view, self.folder, old, new, self.redactor)
        except SpilotError as exc:
            return _error(500, str(exc))
        return self._json(view.model_dump_json())

    async def _release(self, version: str) -> _Release:
        """The release named ``version`` in the folder, read on first use; 404 otherwise."""
        release = self.releases.get(version)
        if release is not None:
            self.releases.move_to_end(version)
            return release
        # Only names the folder lists: a version is never made into a path by itself.
        if version not in release_versions(self.folder):
            raise web.HTTPNotFound(text=f"no release {version!r} in {self.folder}")
        async with self.loading:
            release = self.releases.get(version)
            if release is None:
                try:
                    live = await asyncio.to_thread(
                        LiveRelease, self.folder, version, self.redactor, self.roots
                    )
                except SpilotError as exc:
                    raise web.HTTPInternalServerError(text=str(exc)) from None
                release = self.releases[version] = _Release(live)
                self._evict()
        return release

    def _evict(self) -> None:
        idle = [v for v, r in self.releases.items() if not r.listeners]
        for version in idle[: max(0, len(self.releases) - CACHED_RELEASES)]:
            self.releases.pop(version).live.close()

    # Responses.

    def _json(self, text: str) -> web.Response:
        return web.Response(text=self.redactor.text(text), content_type="application/json")

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx in front must not hold the events back
            }
        )
        self._set_cookie(request, response)
        await response.prepare(request)
        return response

    async def _send(self, response: web.StreamResponse, message: BaseModel | str) -> None:
        text = message if isinstance(message, str) else message.model_dump_json()
        await response.write(b"data: " + self.redactor.text(text).encode() + b"\n\n")

    async def _shutdown(self, app: web.Application) -> None:
        # A run's last results land just before it stops this server: read them once more,
        # so that its pages end on the release as it ended.
        for release in list(self.releases.values()):
            if release.follower is not None:
                release.follower.cancel()
            if not release.listeners:
                continue
            try:
                async with release.lock:
                    changed = await asyncio.to_thread(release.live.poll)
            except Exception as exc:  # the pages keep what they have
                _warn(f"following release {release.live.version}: {exc!r}")
                changed = None
            if changed is not None:
                for queue in release.listeners:
                    _push(queue, changed)
        self.closing.set()
        for release in self.releases.values():
            for queue in release.listeners:
                _push(queue, None)
        for release in self.releases.values():
            release.live.close()


class _LogFollower:
    """One log file, read from where the last read stopped; whole lines only."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.path = path
        self.redactor = redactor
        self.fd: int | None = None
        self.offset = 0
        self.partial = b""

    def start(self) -> list[str]:
        """Its last lines (none yet if the job has not created it)."""
        if not self._open():
            return []
        assert self.fd is not None
        size = os.fstat(self.fd).st_size
        begin = max(0, size - LOG_TAIL_BYTES)
        data = os.pread(self.fd, size - begin, begin)
        self.offset = begin + len(data)
        lines = self._lines(data)
        if begin > 0 and lines:
            lines = lines[1:]  # cut in the middle of a line
        return lines[-LOG_TAIL_LINES:]

    def poll(self) -> list[str]:
        if self.fd is None:
            return self.start()
        size = os.fstat(self.fd).st_size
        if size < self.offset:  # truncated: read it again from its start
            self.offset, self.partial = 0, b""
        if size == self.offset:
            return []
        data = os.pread(self.fd, min(size - self.offset, LOG_TAIL_BYTES), self.offset)
        self.offset += len(data)
        return self._lines(data)

    def moved(self, path: Path) -> bool:
        """Whether ``path`` is now another file than the one followed (a new run's log)."""
        if path != self.path:
            return True
        if self.fd is None:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        own = os.fstat(self.fd)
        return (st.st_dev, st.st_ino) != (own.st_dev, own.st_ino)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _open(self) -> bool:
        try:
            # The path was resolved and checked: a link put in its place since is not followed.
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return False
        return True

    def _lines(self, data: bytes) -> list[str]:
        data = self.partial + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) >= PARTIAL_LINE_LIMIT:
            cut = len(data)  # a line this long is shown in pieces rather than never
        self.partial = data[cut:]
        text = data[:cut].decode("utf-8", "replace")
        return [self.redactor.text(line) for line in text.splitlines()]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _warn(text: str) -> None:
    print(f"spilot serve: warning: {text}", file=sys.stderr)


class LiveServer:
    """Serves the releases of ``folder``; ``start()`` runs it on a thread of its own."""

    def __init__(
        self,
        folder: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        roots: Sequence[Path] = (),
        redactor: Redactor | None = None,
    ) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self.token = token or (secrets.token_urlsafe(24) if needs_token(host) else None)
        self.roots = tuple(roots)
        self.redactor = redactor or Redactor((), os.environ)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        """Where it listens (``http://host:port/``), without the token."""
        host = self.host
        if host in ("", "0.0.0.0", "::"):
            host = socket.getfqdn()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def url(self) -> str:
        """The URL to open: with ``?token=`` when a token is needed."""
        return self.base_url + (f"?token={self.token}" if self.token else "")

    def start(self) -> None:
        """Listen on a background thread; returns once listening (raises if it cannot)."""
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:
                failed.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self._wait_stopped())
            finally:
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=run, name="spilot-live", daemon=True)
        self._thread.start()
        ready.wait()
        if failed:
            self._thread.join()
            raise failed[0]

    def stop(self) -> None:
        """Close every stream and stop listening."""
        loop, thread, stopped = self._loop, self._thread, self._stopped
        if loop is None or thread is None or stopped is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(stopped.set)
        thread.join()

    def serve_forever(self, ready: Callable[[LiveServer], None] | None = None) -> None:
        """Serve on this thread until interrupted (Ctrl-C raises KeyboardInterrupt here)."""

        async def main() -> None:
            await self._open()
            if ready is not None:
                ready(self)
            await self._wait_stopped()

        asyncio.run(main())

    async def _open(self) -> None:
        self._stopped = asyncio.Event()
        site = _Site(self.folder, self.token, self.roots, self.redactor)
        self._runner = web.AppRunner(site.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        tcp = web.TCPSite(self._runner, self.host, self.port)
        try:
            await tcp.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise SpilotError(
                f"spilot serve: cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "choose another --port (0: any free one) or --host"
            ) from None
        self.port = self._runner.addresses[0][1]

    async def _wait_stopped(self) -> None:
        assert self._stopped is not None and self._runner is not None
        try:
            await self._stopped.wait()
        finally:
            await self._runner.cleanup()
