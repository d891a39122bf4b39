"""Secret values (licence servers, tokens) replaced wherever text leaves the harness."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "***"
# Names that look secret are redacted even when no one listed them.
SECRET_NAME_RE = re.compile(r"(SECRET|TOKEN|PASSW|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|LIC)", re.I)


class Redactor:
    """Replaces the values of secret variables wherever they appear."""

    def __init__(self, names: Iterable[str], env: Mapping[str, str]) -> None:
        self.names = set(names)
        self.values = sorted(
            {v for k, v in env.items() if self.is_secret(k) and len(v) >= 3}, key=len, reverse=True
        )

    def is_secret(self, name: str) -> bool:
        return name in self.names or bool(SECRET_NAME_RE.search(name))

    def text(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, REDACTED)
        return text

    def environment(self, env: Mapping[str, str]) -> str:
        return "".join(
            f"{k}={REDACTED if self.is_secret(k) else self.text(v)}\n"
            for k, v in sorted(env.items())
        )
