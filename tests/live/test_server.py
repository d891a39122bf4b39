"""The live server, for real on 127.0.0.1: pushed statuses and logs, tokens, no path escapes."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from test_release_view import Journal, info

from pytest_spilot.errors import SpilotError
from pytest_spilot.live import server as live_server
from pytest_spilot.live.server import STATIC, LiveServer, needs_token
from pytest_spilot.redact import Redactor

TIMEOUT_S = 10.0
SECRET = Redactor(["LM_LICENSE_FILE"], {"LM_LICENSE_FILE": "27000@licsrv"})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    served = tmp_path / ".spilot"
    served.mkdir()
    return served


@pytest.fixture
def serve(folder: Path) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(**options: Any) -> LiveServer:
        server = LiveServer(folder, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any]:
    """Status and response (its headers via ``.headers``, body via ``.body``; a stream's body
    is not read)."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            stream = response.headers["Content-Type"] == "text/event-stream"
            response.body = b"" if stream else response.read()
            return response.status, response
    except urllib.error.HTTPError as error:
        error.body = error.read()
        return error.code, error


class Sse:
    """A Server-Sent Events client reading on a thread of its own."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        request = urllib.request.Request(url, headers=headers or {})
        self.response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.comments: list[bytes] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for line in self.response:
                if line.startswith(b"data: "):
                    self.messages.put(json.loads(line[6:]))
                elif line.startswith(b":"):
                    self.comments.append(line)
        except (OSError, ValueError):
            pass
        finally:
            self.messages.put(None)

    def next(self, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        message = self.messages.get(timeout=timeout)
        assert message is not None, "the stream ended"
        return message

    def until(self, key: str, status: str) -> dict[str, Any]:
        """The next message in which ``key``'s row has ``status`` (others may come first)."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            message = self.next(deadline - time.monotonic())
            rows = {r["key"]: r for r in message["rows"]}
            if key in rows and rows[key]["status"] == status:
                return message
        raise AssertionError(f"{key} never became {status}")

    def silent(self, seconds: float) -> bool:
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def join(self) -> None:
        self.thread.join(TIMEOUT_S)
        assert not self.thread.is_alive()


def test_statuses_are_pushed_as_the_journal_grows(folder: Path, serve: Any) -> None:
    journal = Journal(folder)
    a, b = "f.yaml::a", "f.yaml::b"
    journal.plan(info(a), info(b))
    server = serve()
    status, listed = get(server.base_url + "api/releases")
    assert status == 200
    assert [(s["version"], s["running"]) for s in json.loads(listed.body)] == [("v1", True)]

    stream = Sse(server.base_url + "api/releases/v1/stream")
    first = stream.next()
    assert first["type"] == "release"
    assert {r["key"]: r["status"] for r in first["rows"]} == {a: "queued", b: "queued"}

    latencies = []
    for step, status_now in [
        (lambda: journal.wait(a), "waiting"),
        (lambda: journal.start(a), "running"),
        (lambda: journal.finish(a, area=3.0), "passed"),
    ]:
        t0 = time.monotonic()
        step()
        message = stream.until(a, status_now)
        latencies.append(time.monotonic() - t0)
        assert message["type"] == "rows"
        assert [r["key"] for r in message["rows"]] == [a]
    assert message["seq"] == 3  # one message per change, numbered per stream
    assert message["summary"]["counts"] == {"passed": 1, "queued": 1}
    assert max(latencies) < 1.0, latencies
    journal.close()
    status, view = get(server.base_url + "api/releases/v1")
    assert status == 200 and json.loads(view.body)["summary"]["running"] is False
    server.stop()
    stream.join()  # stopping the server ends its streams


def test_what_lands_just_before_the_server_stops_still_reaches_the_page(
    folder: Path, serve: Any
) -> None:
    """A run writes its last result and stops its server at once (``--spilot-live``)."""
    journal = Journal(folder)
    a = "f.yaml::a"
    journal.plan(info(a))
    server = serve()
    stream = Sse(server.base_url + "api/releases/v1/stream")
    assert stream.next()["type"] == "release"
    journal.start(a)
    journal.finish(a, "failed", "boom")
    journal.close()
    server.stop()  # before the server's next read of the journal
    statuses = []
    while (message := stream.messages.get(timeout=TIMEOUT_S)) is not None:
        statuses += [r["status"] for r in message["rows"] if r["key"] == a]
    assert statuses[-1:] == ["failed"], statuses


def test_a_torn_line_waits_and_a_folded_journal_keeps_the_stream(folder: Path, serve: Any) -> None:
    journal = Journal(folder)
    a = "f.yaml::a"
    journal.plan(info(a))
    server = serve()
    stream = Sse(server.base_url + "api/releases/v1/stream")
    stream.next()
    path = journal.writer.path
    assert path is not None
    waiting = b'{"event":"waiting","key":"f.yaml::a","worker":"gw0","waiting_for":"a slot"}'
    with path.open("ab") as fh:
        fh.write(waiting[:30])
        fh.flush()
        assert stream.silent(0.3)  # half a line is not an event
        fh.write(waiting[30:] + b"\n")
    assert stream.until(a, "waiting")["rows"][0]["waiting_for"] == "a slot"
    journal.start(a)
    journal.finish(a)
    journal.close()
    journal.store.fold()  # writes the document and removes the journal files
    assert not list(journal.store.journal_dir.glob("*.jsonl"))
    stream.until(a, "passed")
    other = Journal(folder, worker="gw1")
    b = "f.yaml::b"
    other.start(b)
    other.finish(b, "failed", "boom")
    other.close()
    assert stream.until(b, "failed")["rows"][0]["message"] == "boom"


def test_a_log_streams_its_tail_then_new_lines_redacted(folder: Path, serve: Any) -> None:
    journal = Journal(folder)
    key = "sub/f.yaml::a[corner=ss]"  # a key with a slash and brackets, URL-quoted
    journal.plan(info(key))
    journal.start(key)
    log = journal.log(key)
    log.write_text("".join(f"line {i}\n" for i in range(1, 251)) + "lic 27000@licsrv\n")
    server = serve(redactor=SECRET)
    stream = Sse(server.base_url + f"api/releases/v1/log/{quote(key, safe='')}/stream")
    first = stream.next()
    assert first["type"] == "log" and first["key"] == key
    assert len(first["lines"]) == 200
    assert first["lines"][0] == "line 52" and first["lines"][-1] == "lic ***"
    with log.open("a") as fh:
        fh.write("new 27000@licsrv ")
        fh.flush()
        assert stream.silent(0.2)  # a line being written is sent once whole
        fh.write("end\n")
    assert stream.next()["lines"] == ["new *** end"]
    journal.close()


def test_paths_outside_the_folder_are_never_served(
    folder: Path, serve: Any, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.log"
    outside.write_text("private\n")
    journal = Journal(folder)
    linked, absolute, fine = "f.yaml::linked", "f.yaml::absolute", "f.yaml::fine"
    journal.plan(info(linked), info(absolute), info(fine))
    journal.start(fine)
    journal.start(absolute, log=outside)
    journal.run_dir(linked).mkdir(parents=True)
    (journal.run_dir(linked) / "job.log").symlink_to(outside)
    journal.start(linked, log=journal.run_dir(linked) / "job.log")
    server = serve()
    base = server.base_url

    def status(path: str) -> int:
        return get(base + path)[0]

    def log(key: str, version: str = "v1") -> str:
        return f"api/releases/{version}/log/{quote(key, safe='')}/stream"

    assert status(log(fine)) == 200
    assert status(log(linked)) == 404  # a symbolic link out of the folder
    assert status(log(absolute)) == 404  # an absolute path out of the folder
    assert status(log("f.yaml::unknown")) == 404
    assert status(log("../../outside.log")) == 404
    assert status(log(fine, "nope")) == 404
    for version in ("..%2F..%2Foutside", "%2Fetc%2Fpasswd", "..", "v1.json", "v1.journal"):
        assert status(f"api/releases/{version}") == 404, version
        assert status(f"api/releases/{version}/stream") == 404, version
    assert status("static/..%2Fview.py") == 404
    assert status("static/.hidden") == 404
    assert status("static/%2Fetc%2Fpasswd") == 404
    assert status("api/compare?old=v1&new=..%2Fv1") == 404
    assert status("api/compare?old=v1") == 400
    journal.close()


def test_only_get_and_head(folder: Path, serve: Any) -> None:
    server = serve()
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, response = get(server.base_url + "api/releases", method=method)
        assert status == 405 and response.headers["Allow"] == "GET, HEAD", method
    assert get(server.base_url + "api/releases", method="HEAD")[0] == 200


def test_any_address_but_loopback_needs_a_token(folder: Path, serve: Any) -> None:
    assert not needs_token("127.0.0.1") and not needs_token("127.0.0.2")
    assert not needs_token("::1") and not needs_token("localhost")
    assert needs_token("0.0.0.0") and needs_token("::") and needs_token("192.168.1.5")
    assert needs_token("build-server.example")
    Journal(folder).plan(info("f.yaml::a"))
    # Bound to every address: reachable from other machines, so a token is made up.
    server = serve(host="0.0.0.0")
    assert server.token and server.url.endswith(f"?token={server.token}")
    base = f"http://127.0.0.1:{server.port}/"
    assert get(base + "api/releases")[0] == 401
    assert get(base + "api/releases?token=wrong")[0] == 401
    assert get(base + "api/releases", {"Authorization": "Bearer wrong"})[0] == 401
    assert get(base + "api/releases", {"Cookie": "spilot_token=wrong"})[0] == 401
    assert get(base + "api/releases/v1/stream")[0] == 401
    status, response = get(base + f"api/releases?token={server.token}")
    assert status == 200
    cookie = response.headers["Set-Cookie"]
    # Named per server: another server on this host (another port) keeps its own.
    name = "spilot_token_" + hashlib.sha256(server.token.encode()).hexdigest()[:12]
    assert f"{name}={server.token}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert get(base + "api/releases", {"Cookie": f"{name}={server.token}"})[0] == 200
    assert get(base + "api/releases", {"Cookie": f"spilot_token={server.token}"})[0] == 401
    head = get(base + "api/releases/v1/stream", {"Authorization": f"Bearer {server.token}"}, "HEAD")
    assert head[0] == 405  # a stream never ends by itself
    assert get(base + "api/releases", {"Authorization": f"Bearer {server.token}"})[0] == 200
    stale = {"Cookie": "spilot_token=of-an-earlier-server"}
    assert get(base + f"api/releases?token={server.token}", stale)[0] == 200
    assert get(base + "api/releases", {"Authorization": f"Bearer {server.token}"}, "POST")[0] == 405
    stream = Sse(base + "api/releases/v1/stream", {"Authorization": f"Bearer {server.token}"})
    assert stream.next()["type"] == "release"
    # A token given on loopback is asked for too.
    local = serve(token="s3cret-token")
    assert get(local.base_url + "api/releases")[0] == 401
    assert get(local.base_url + "api/releases?token=s3cret-token")[0] == 200


def test_without_a_token_only_a_loopback_host_header(folder: Path, serve: Any) -> None:
    server = serve()
    assert get(server.base_url + "api/releases")[0] == 200
    # A page of another site whose name was pointed at 127.0.0.1 (DNS rebinding).
    assert get(server.base_url + "api/releases", {"Host": "evil.example"})[0] == 403
    assert get(server.base_url + "api/releases", {"Host": f"localhost:{server.port}"})[0] == 200


def test_secrets_in_rows_are_redacted(folder: Path, serve: Any) -> None:
    journal = Journal(folder)
    key = "f.yaml::a"
    journal.plan(info(key))
    journal.start(key)
    journal.log(key).write_text("licence 27000@licsrv refused\n")
    journal.finish(key, "failed", "cannot reach 27000@licsrv")
    journal.close()
    server = serve(redactor=SECRET)
    status, response = get(server.base_url + "api/releases/v1")
    assert status == 200 and b"27000@licsrv" not in response.body
    [row] = json.loads(response.body)["rows"]
    assert row["message"] == "cannot reach ***"
    assert row["log_tail"] == ["licence *** refused"]


def test_page_assets_history_and_compare(folder: Path, serve: Any) -> None:
    journal = Journal(folder)
    journal.plan(info("f.yaml::a"))
    journal.start("f.yaml::a")
    journal.finish("f.yaml::a", area=1.0)
    journal.close()
    server = serve()
    assets = sorted(p.name for p in STATIC.iterdir() if p.is_file())
    assert assets
    assert get(server.base_url + f"static/{assets[0]}")[0] == 200
    assert get(server.base_url + "static/nope.js")[0] == 404
    expected = 200 if (STATIC / "index.html").is_file() else 404
    assert get(server.base_url)[0] == expected
    status, history = get(server.base_url + "api/history")
    assert status == 200 and json.loads(history.body)["type"] == "history"
    status, compare = get(server.base_url + "api/compare?old=v1&new=v1")
    assert status == 200 and json.loads(compare.body)["type"] == "compare"


def test_a_busy_port_is_one_clear_error(folder: Path, serve: Any) -> None:
    server = serve()
    with pytest.raises(SpilotError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        LiveServer(folder, port=server.port).start()


def test_spilot_serve_prints_its_url_and_stops_on_ctrl_c(folder: Path) -> None:
    Journal(folder).plan(info("f.yaml::a"))
    code = (
        "import argparse, sys\n"
        "from pytest_spilot.cli import serve\n"
        "parser = argparse.ArgumentParser()\n"
        "serve.add_arguments(parser)\n"
        "sys.exit(serve.run(parser.parse_args(sys.argv[1:])))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith(f"spilot serve: the releases of {folder} at http://127.0.0.1:")
        url = line.split(" at ", 1)[1].strip()
        assert "token" not in url
        assert get(url + "api/releases")[0] == 200
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=TIMEOUT_S)
        assert child.returncode == 0
        assert "spilot serve: stopped" in out
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_stopped_server_frees_its_port(folder: Path) -> None:
    server = LiveServer(folder)
    server.start()
    port = server.port
    server.stop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_new_run_switches_the_log_stream_and_silence_keeps_it_alive(
    folder: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_server, "KEEPALIVE_S", 0.2)
    monkeypatch.setattr(live_server, "LOG_RECHECK_S", 0.1)
    journal = Journal(folder)
    key = "f.yaml::a"
    journal.plan(info(key))
    journal.start(key)
    journal.log(key).write_text("first run\n")
    server = serve()
    stream = Sse(server.base_url + f"api/releases/v1/log/{quote(key, safe='')}/stream")
    assert stream.next()["lines"] == ["first run"]
    time.sleep(0.5)
    assert stream.comments and stream.comments[0].startswith(b": keep-alive")
    # A rerun moves the earlier run directory aside and logs to a new file at the same path.
    run_dir = journal.run_dir(key)
    run_dir.rename(run_dir.with_name(run_dir.name + "~1"))
    journal.start(key)
    journal.log(key).write_text("second run\n")
    lines: list[str] = []
    while not lines:  # the new file may be read empty first, before its line is written
        lines = stream.next()["lines"]
    assert lines == ["second run"]
    journal.close()


def test_spilot_serve_takes_its_token_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from pytest_spilot.cli import serve as serve_cmd
    from pytest_spilot.errors import SpilotError

    parser = argparse.ArgumentParser()
    serve_cmd.add_arguments(parser)
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SPILOT_SERVE_TOKEN", "from-the-environment")
    assert serve_cmd._token(parser.parse_args(["--token-file", str(secret)])) == "from-a-file"
    assert serve_cmd._token(parser.parse_args([])) == "from-the-environment"
    assert serve_cmd._token(parser.parse_args(["--token", "given"])) == "given"
    secret.write_text("\n")
    with pytest.raises(SpilotError, match="its first line is empty"):
        serve_cmd._token(parser.parse_args(["--token-file", str(secret)]))
