"""The pseudo backend's queue processor: bootstrap.tcl's rules in Python, answering from contracts.

It keeps the same files as the Tcl processor (ready, heartbeat, state.json, acks, reports), so
the supervisor, the fixtures and the tests cannot tell the two apart, except that skills do not
run: each writes the reports its contract names and returns the contract's metrics with the
contract's own ``pseudo:`` figures, else the stand-in design's. So it keeps every contract by
construction, where the bootstrap has to check a skill's answer against it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_spilot.atomic import write_atomic
from pytest_spilot.innovus.contracts import RESTORE_SKILL, SkillContract, pseudo_cannot_run
from pytest_spilot.innovus.design import DesignError, StandinDesign, load_design
from pytest_spilot.innovus.protocol import (
    MAX_REQUEST_BYTES,
    REQUEST_ID_RE,
    Ack,
    ErrorType,
    Heartbeat,
    Ready,
    Request,
)
from pytest_spilot.innovus.rundir import SessionDir


class Refused(Exception):
    def __init__(self, error_type: ErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def check_script(run: SessionDir, script: str) -> Path:
    """The script a request may run, or Refused(SECURITY / BAD_REQUEST)."""
    if any(ord(c) < 32 for c in script):
        raise Refused(ErrorType.BAD_REQUEST, f"script {script!r}: control characters")
    parts = script.replace("\\", "/").split("/")
    if os.path.isabs(script) or ".." in parts:
        raise Refused(ErrorType.SECURITY, f"script {script!r}: absolute paths and '..' are refused")
    if not script.endswith(".tcl") or parts[0] != "scripts":
        raise Refused(ErrorType.SECURITY, f"script {script!r}: only scripts/*.tcl may run")
    if script == "scripts/bootstrap.tcl":
        raise Refused(ErrorType.SECURITY, "the bootstrap itself may not be requested")
    path = (run.root / script).resolve()
    if not path.is_relative_to(run.scripts.resolve()):
        raise Refused(ErrorType.SECURITY, f"script {script!r} resolves outside scripts/: {path}")
    if not path.is_file():
        raise Refused(ErrorType.BAD_REQUEST, f"script {script!r} does not exist")
    return path


class PseudoProcessor(threading.Thread):
    def __init__(
        self,
        run: SessionDir,
        contracts: dict[str, SkillContract],
        heartbeat_interval_s: float,
        poll_interval_s: float,
    ) -> None:
        super().__init__(name=f"spilot-pseudo-{run.root.name}", daemon=True)
        self.run_dir = run
        self.contracts = contracts
        self.heartbeat_interval_s = heartbeat_interval_s
        self.poll_interval_s = poll_interval_s
        self.wakeup = threading.Event()
        self.acked = threading.Condition()
        self.design: StandinDesign | None = None
        self.done = {p.stem for p in run.acks.glob("*.json")}
        self.requests_done = 0
        self.exit_code: int | None = None

    def run(self) -> None:
        try:
            self._serve()
            self.exit_code = 0
        except BaseException:
            self.exit_code = 1
            raise
        finally:
            with self.acked:
                self.acked.notify_all()

    def _serve(self) -> None:
        run = self.run_dir
        self._heartbeat()
        run.write_model(
            run.file("ready"),
            Ready(pid=os.getpid(), tool_version="pseudo", started_ts=time.time(), json="python"),
        )
        self._state("ready")
        next_beat = time.monotonic() + self.heartbeat_interval_s
        while True:
            self._drain()
            if run.file("stop").exists():
                self._state("stopped")
                return
            now = time.monotonic()
            if now >= next_beat:
                self._heartbeat()
                next_beat = now + self.heartbeat_interval_s
            self.wakeup.wait(min(self.poll_interval_s, max(0.0, next_beat - now)))
            self.wakeup.clear()

    def _heartbeat(self) -> None:
        hb = Heartbeat(ts=time.time(), pid=os.getpid(), requests_done=self.requests_done)
        self.run_dir.write_model(self.run_dir.file("heartbeat"), hb)

    def _state(self, state: str, request_id: str | None = None) -> None:
        data = {"state": state, "request_id": request_id, "requests_done": self.requests_done}
        write_atomic(
            self.run_dir.file("state.json"), json.dumps({**data, "ts": time.time()}), durable=False
        )

    def _drain(self) -> None:
        pending = []
        for path in self.run_dir.queue.glob("*.json"):
            if path.name.startswith(".") or path.stem in self.done:
                continue
            try:
                created = float(json.loads(path.read_bytes()).get("created_ts", 0))
            except (OSError, ValueError, TypeError, AttributeError):
                created = 0.0  # unreadable requests first: they are answered at once
            pending.append((created, path.stem, path))
        for _, request_id, path in sorted(pending):
            self._state("busy", request_id)
            start = time.time()
            try:
                ack = self._answer(request_id, path)
            except Refused as exc:
                ack = Ack.failure(request_id, exc.error_type, str(exc))
            end = time.time()
            ack = ack.model_copy(
                update={
                    "start_ms": int(start * 1000),
                    "end_ms": int(end * 1000),
                    "duration_ms": round((end - start) * 1000, 3),
                }
            )
            self.run_dir.write_ack_once(ack)
            self.run_dir.retire(request_id)
            self.done.add(request_id)
            self.requests_done += 1
            self._state("ready")
            with self.acked:
                self.acked.notify_all()

    def _answer(self, request_id: str, path: Path) -> Ack:
        if not REQUEST_ID_RE.match(request_id):
            raise Refused(ErrorType.BAD_REQUEST, f"request id {request_id!r} is not a safe name")
        size = path.stat().st_size
        if size > MAX_REQUEST_BYTES:
            raise Refused(
                ErrorType.BAD_REQUEST, f"request is {size} bytes; the limit is {MAX_REQUEST_BYTES}"
            )
        try:
            request = Request.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(request)"
            raise Refused(ErrorType.BAD_REQUEST, f"{field}: {first['msg']}") from None
        if request.request_id != request_id:
            raise Refused(
                ErrorType.BAD_REQUEST,
                f"request_id {request.request_id!r} is not the file's name {request_id!r}",
            )
        script = check_script(self.run_dir, request.script)
        return self._run_skill(request, script)

    def _run_skill(self, request: Request, script: Path) -> Ack:
        rid = request.request_id
        contract = self.contracts.get(script.stem)
        if contract is None:
            return Ack.failure(
                rid,
                ErrorType.CMD_FAIL,
                f"the pseudo backend cannot run skill {script.stem!r}: it runs no Tcl and "
                f"answers from contracts, and {script.stem}.yaml does not exist beside "
                f"{script.stem}.tcl; write one (tcl/README.md, Skill contracts) or run it on "
                f"the tcl or real backend (skills with contracts: "
                f"{', '.join(sorted(self.contracts))})",
            )
        problems = contract.check_args(request.args)
        if problems:
            return Ack.failure(rid, ErrorType.CMD_FAIL, f"{contract.name}: {'; '.join(problems)}")
        if contract.name == RESTORE_SKILL:
            try:
                self.design = load_design(Path(request.args["design"]), request.args.get("top"))
            except DesignError as exc:
                self.design = None
                return Ack.failure(rid, ErrorType.RESTORE_FAIL, str(exc))
        if contract.requires_design and self.design is None:
            return Ack.failure(
                rid, ErrorType.CMD_FAIL, "no design is loaded; run restore_design first"
            )
        facts = self.design.facts() if self.design else {}
        figures = {
            m: spec.pseudo if spec.pseudo is not None else facts.get(m)
            for m, spec in contract.metrics.items()
        }
        gaps = contract.pseudo_gaps()
        if gaps:
            return Ack.failure(rid, ErrorType.CMD_FAIL, pseudo_cannot_run(contract.name, gaps))
        unloaded = [m for m, value in figures.items() if value is None]
        if unloaded:
            return Ack.failure(
                rid,
                ErrorType.CMD_FAIL,
                f"{contract.name}: metric(s) {', '.join(unloaded)} come from the loaded design "
                "on the pseudo backend, and none is loaded; run restore_design first (or set "
                f"requires_design: true in {contract.name}.yaml)",
            )
        metrics = {m: float(value) for m, value in figures.items() if value is not None}
        folder = self.run_dir.reports / rid
        written = []
        for name in contract.reports:
            report = folder / name
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(_pseudo_report(contract, name, self.design, metrics, request.args))
            written.append(str(report.relative_to(self.run_dir.root)))
        return Ack(
            request_id=rid,
            status="PASS",
            error_type=ErrorType.OK,
            reports=sorted(written),
            metrics=metrics,
        )


def _pseudo_report(
    contract: SkillContract,
    name: str,
    design: StandinDesign | None,
    metrics: dict[str, float],
    args: dict[str, Any],
) -> str:
    lines = [
        f"# {name}: written by the pseudo backend for skill {contract.name}",
        f"design: {design.name if design else '-'}",
        f"top: {design.top if design else '-'}",
        *(f"arg {k}: {v}" for k, v in sorted(args.items())),
        *(f"{k}: {v:g}" for k, v in metrics.items()),
    ]
    return "\n".join(lines) + "\n"
