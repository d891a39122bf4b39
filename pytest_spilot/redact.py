"""Secret values (licence servers, tokens) replaced wherever text leaves the harness.

There is one secret set per process (:class:`Redactor`), extended as validations declare
their own ``secret_env``; every output the harness writes or relays goes through it: job
logs (:class:`RedactingStream`), session logs and bundles, journal lines (hence the release
document and ``spilot report``), and pytest's reports (hence JUnit and the terminal).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import select
import threading
from collections.abc import Iterable, Mapping
from typing import BinaryIO

REDACTED = "***"
MIN_SECRET_LEN = 3  # shorter values ("1", "on") would blank out ordinary text
# Names that look secret are redacted even when no one listed them: a word of the name
# (split at '_') says so, so PUBLIC_URL is not taken for a licence.
SECRET_NAME_RE = re.compile(
    r"(?:^|_)(?:SECRET|TOKEN|PASS|PASSWD|PASSWORD|PRIVATE|CREDENTIALS?|API_?KEY|"
    r"LIC|LICEN[CS]E|LM_LICENSE)(?:_|$)",
    re.I,
)
PARTIAL_LINE_LIMIT = 64 * 1024  # a line longer than this is flushed before its newline


class Redactor:
    """Replaces the values of secret variables wherever they appear (also JSON-escaped).

    One instance is shared by everything in a process that writes output; :meth:`add` grows
    it in place (a validation's own ``secret_env``), so every holder sees the new values.
    """

    def __init__(self, names: Iterable[str] = (), env: Mapping[str, str] = {}) -> None:
        self.names: frozenset[str] = frozenset()
        self.secrets: frozenset[str] = frozenset()
        self.values: list[str] = []
        self.add(names, env)

    def add(self, names: Iterable[str], env: Mapping[str, str]) -> None:
        """Also redact ``names`` (and every secret-looking name) as valued in ``env``."""
        self.names = self.names | set(names)
        self._add_values(
            {v for k, v in env.items() if self.is_secret(k) and len(v) >= MIN_SECRET_LEN}
        )

    def merge(self, other: Redactor) -> None:
        """Also redact everything ``other`` redacts."""
        self.names = self.names | other.names
        self._add_values(other.secrets)

    def _add_values(self, found: set[str] | frozenset[str]) -> None:
        if found <= self.secrets:
            return
        self.secrets = self.secrets | found
        # A value inside a JSON string (a journal line) is escaped: "a\"b", "\\srv".
        forms = self.secrets | {json.dumps(v)[1:-1] for v in self.secrets}
        self.values = sorted(forms, key=len, reverse=True)  # one assignment: thread-safe reads

    def is_secret(self, name: str) -> bool:
        return name in self.names or bool(SECRET_NAME_RE.search(name))

    def text(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def environment(self, env: Mapping[str, str]) -> str:
        return "".join(
            f"{k}={REDACTED if self.is_secret(k) else self.text(v)}\n"
            for k, v in sorted(env.items())
        )


class RedactingStream:
    """Writes whole lines to every target with secrets replaced; keeps the text it wrote."""

    def __init__(self, targets: list[BinaryIO], redactor: Redactor, keep: bool = True) -> None:
        self.targets = targets
        self.redactor = redactor
        self.kept = io.BytesIO() if keep else None
        self._pending = b""

    def write(self, data: bytes) -> None:
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < PARTIAL_LINE_LIMIT:
            self._pending = data
            return
        if cut == 0:
            cut = len(data)
        self._pending = data[cut:]
        self._emit(data[:cut])

    def close(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = b""

    def text(self) -> str:
        return self.kept.getvalue().decode("utf-8", "replace") if self.kept else ""

    def _emit(self, data: bytes) -> None:
        if self.redactor.values:
            data = self.redactor.text(data.decode("utf-8", "replace")).encode()
        if self.kept is not None:
            self.kept.write(data)
        for target in self.targets:
            target.write(data)
            target.flush()


class PipePump:
    """Copies a child's output pipe through a :class:`RedactingStream` on a daemon thread."""

    POLL_S = 0.2

    def __init__(self, fd: int, stream: RedactingStream, name: str = "spilot-pump") -> None:
        self.fd = fd
        self.stream = stream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 1.0) -> None:
        """Wait for end of file (every writer gone), at most ``timeout_s``; then stop."""
        self._thread.join(timeout_s)
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self.fd], [], [], self.POLL_S)
                if not ready:
                    continue
                data = os.read(self.fd, 65536)
                if not data:
                    break
                self.stream.write(data)
        except (OSError, ValueError):
            pass
        finally:
            self.stream.close()
