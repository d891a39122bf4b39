"""The session run directory: its layout, staging the Tcl, and reading and writing its files."""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pytest_spilot.atomic import write_atomic, write_new
from pytest_spilot.innovus.protocol import Ack, Request

TCL_DIR = Path(__file__).resolve().parent.parent / "_tcl"
if not TCL_DIR.is_dir():  # a source checkout: the repository's own tcl/
    TCL_DIR = Path(__file__).resolve().parents[2] / "tcl"
SHIPPED_SKILLS = TCL_DIR / "skills"

M = TypeVar("M", bound=BaseModel)


def read_json(path: Path) -> Any | None:
    """The parsed file, or None when it is missing or not (yet) JSON."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class SessionDir:
    root: Path

    @property
    def session(self) -> Path:
        return self.root / "session"

    @property
    def scripts(self) -> Path:
        return self.root / "scripts"

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    @property
    def acks(self) -> Path:
        return self.root / "ack"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def debug(self) -> Path:
        return self.root / "debug"

    @property
    def bootstrap(self) -> Path:
        return self.scripts / "bootstrap.tcl"

    def file(self, name: str) -> Path:
        """A file of ``session/`` (ready, heartbeat, state.json, stop, port, logs)."""
        return self.session / name

    def heartbeat_stamp(self) -> tuple[int, int] | None:
        """The heartbeat file's identity and mtime; a change, not the time inside, is a beat
        (immune to clock skew across hosts). None before the first beat."""
        try:
            st = self.file("heartbeat").stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def create(self, skill_dirs: list[Path]) -> None:
        """A fresh run directory with the bootstrap, its library and every skill staged."""
        if self.root.exists():
            shutil.rmtree(self.root)
        for folder in (self.session, self.queue, self.acks, self.reports, self.debug):
            folder.mkdir(parents=True)
        shutil.copytree(TCL_DIR / "lib", self.scripts / "lib")
        shutil.copy2(TCL_DIR / "bootstrap.tcl", self.bootstrap)
        for folder in [SHIPPED_SKILLS, *skill_dirs]:  # later folders replace same-named skills
            for script in sorted(folder.glob("*.tcl")):
                shutil.copy2(script, self.scripts / script.name)
            for helper in sorted(folder.glob("lib/*.tcl")):  # what skills source, beside json.tcl
                shutil.copy2(helper, self.scripts / "lib" / helper.name)

    def write_model(self, path: Path, model: BaseModel) -> None:
        write_atomic(path, model.model_dump_json(by_alias=True), durable=False)

    def read_model(self, path: Path, model: type[M]) -> M | None:
        data = read_json(path)
        if data is None:
            return None
        try:
            return model.model_validate(data)
        except ValidationError:
            return None

    def request_path(self, request_id: str) -> Path:
        return self.queue / f"{request_id}.json"

    def retire(self, request_id: str) -> None:
        """Move an acked request to ``queue/done/`` (keeps the queue's listing short)."""
        done = self.queue / "done"
        done.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            self.request_path(request_id).rename(done / f"{request_id}.json")

    def ack_path(self, request_id: str) -> Path:
        return self.acks / f"{request_id}.json"

    def enqueue(self, request: Request) -> None:
        self.write_model(self.request_path(request.request_id), request)

    def read_ack(self, request_id: str) -> Ack | None:
        return self.read_model(self.ack_path(request_id), Ack)

    def write_ack_once(self, ack: Ack) -> Ack:
        """Write ``ack`` unless the request is acked already; return the ack that stands."""
        if write_new(self.ack_path(ack.request_id), ack.model_dump_json()):
            return ack
        return self.read_ack(ack.request_id) or ack
