"""Debug bundles: what to look at after a session died, with secrets redacted."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path

from pytest_spilot.atomic import write_atomic_bytes
from pytest_spilot.innovus.rundir import SessionDir
from pytest_spilot.logtail import tail_lines
from pytest_spilot.redact import Redactor

TAIL_LINES = 200


def write_debug_bundle(
    run: SessionDir,
    request_id: str | None,
    reason: str,
    redactor: Redactor,
    env: Mapping[str, str],
) -> Path:
    """``debug/<time>-<request>.tar.gz``: session/, the request, its partial reports, log tails,
    and the environment, every text redacted."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = run.debug / f"{stamp}-{request_id or 'session'}.tar.gz"
    members: list[tuple[str, Path]] = [
        (f"session/{p.name}", p) for p in sorted(run.session.glob("*")) if p.is_file()
    ]
    if request_id:
        for p in (run.request_path(request_id), run.ack_path(request_id)):
            if p.is_file():
                members.append((f"{p.parent.name}/{p.name}", p))
        reports = run.reports / request_id
        members += [
            (str(p.relative_to(run.root)), p) for p in sorted(reports.rglob("*")) if p.is_file()
        ]
    tails = "".join(
        f"==> {p.name} (last {TAIL_LINES} lines) <==\n"
        + "\n".join(tail_lines(p, TAIL_LINES))
        + "\n"
        for p in sorted(run.session.glob("*.log"))
    )
    extra = {
        "REASON.txt": f"{reason}\nrequest: {request_id or '-'}\nrun dir: {run.root}\n",
        "log-tails.txt": tails,
        "environment.txt": redactor.environment(env),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in extra.items():
            _add(tar, f"bundle/{name}", redactor.text(text).encode())
        for name, src in members:
            try:
                data = src.read_bytes()
            except OSError:
                continue
            _add(tar, f"bundle/{name}", redactor.text(data.decode("utf-8", "replace")).encode())
    write_atomic_bytes(path, buffer.getvalue(), durable=False)
    return path


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
