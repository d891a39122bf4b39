"""Migration gates: the production checklist of an Innovus backend, judged claim by claim.

Moving from the ``pseudo`` backend to the Tcl stand-in or to real Innovus (or to a new Innovus
release) is safe when every claim holds: the tool and the submitter are on PATH, the licence
variables are set, the bootstrap reaches ``ready`` in time, the heartbeat advances, a no-op is
acked PASS and a path traversal is refused, every skill keeps its contract, and the target
answers with the same report files and metric keys as the reference. Each claim is ``pass``,
``fail`` or ``insufficient_evidence`` (it could not be judged because an earlier claim failed)
and carries the hashes of the inputs it was judged on, so two evidence matrices can be told
apart by what they looked at, not only by what they concluded.

A site's own skill that the reference cannot run (the pseudo backend without figures for its
metrics, the stand-in without the commands it uses) leaves its parity claim
``insufficient_evidence`` without blocking: the target is still held to the skill's contract,
and one skill of a site must not keep every Innovus validation from running.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pytest_spilot.backend_names import PSEUDO, REAL
from pytest_spilot.core.provenance import version_output
from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.contracts import RESTORE_SKILL, contract_for, find_skills
from pytest_spilot.innovus.environment import (
    backend_tool,
    find_program,
    licence_state,
    version_command,
)
from pytest_spilot.innovus.evidence import (
    Claim,
    CompatibilityGate,
    EvidenceVerdict,
    Rollback,
    file_digest,
    sha256,
)
from pytest_spilot.innovus.queue_supervisor import skill_script
from pytest_spilot.innovus.rundir import SHIPPED_SKILLS, TCL_DIR, SessionDir
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.base import Launcher
from pytest_spilot.launchers.configured import submit_command
from pytest_spilot.siteconfig import InnovusConfig

# Claim → the issue code a failure of it blocks with.
ISSUE_CODES = {
    "tool_on_path": "TOOL_MISSING",
    "tool_version": "TOOL_VERSION_MISMATCH",
    "submitter_on_path": "SUBMITTER_MISSING",
    "licence_variables": "LICENSE_ENV_UNSET",
    "session_ready": "SESSION_NOT_READY",
    "heartbeat_advances": "HEARTBEAT_STALLED",
    "noop_acked_pass": "NOOP_NOT_PASS",
    "traversal_refused": "TRAVERSAL_NOT_REFUSED",
    "skill_contract": "SKILL_CONTRACT_BROKEN",
    "parity": "PARITY_MISMATCH",
}
# A missing tool or an unset variable is fixed in the environment; these mean the target
# behaves differently from what the release was validated on, so a deployed switch to it
# must be rolled back.
ROLLBACK_CODES = frozenset(
    {
        "SESSION_NOT_READY",
        "HEARTBEAT_STALLED",
        "NOOP_NOT_PASS",
        "TRAVERSAL_NOT_REFUSED",
        "SKILL_CONTRACT_BROKEN",
        "PARITY_MISMATCH",
    }
)
INSUFFICIENT = "INSUFFICIENT_EVIDENCE"
TRAVERSAL_SCRIPT = "scripts/../outside.tcl"
VERSION_TIMEOUT_S = 60.0


def _digests(paths: dict[str, Path]) -> dict[str, str]:
    out = {}
    for name, path in paths.items():
        try:
            out[name] = file_digest(path)
        except OSError:
            out[name] = "missing"
    return out


@dataclass
class _Answer:
    """One skill's answer: report file names and metric keys, or why it has none."""

    reports: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    error: str = ""  # the skill ran and failed
    not_run: str = ""  # the skill could not be run (no design): nothing to judge
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass
class MigrationCheck:
    """Judges ``target`` against ``reference`` (sessions come from ``open_session``)."""

    gate: str
    config: InnovusConfig
    launchers: dict[str, Launcher]
    open_session: Callable[[str], InnovusSession]
    target: str
    reference: str = PSEUDO
    design: Path | None = None
    top: str | None = None
    version: str | None = None  # a regex the tool's version line must match
    skill_dirs: list[Path] = field(default_factory=list)
    claims: list[Claim] = field(init=False, default_factory=list)
    started: datetime = field(init=False, default_factory=lambda: datetime.now(UTC))
    skills: dict[str, Path] = field(init=False, default_factory=dict)  # restore_design first
    design_inputs: dict[str, str] = field(init=False, default_factory=dict)

    def judge(self) -> CompatibilityGate:
        self.claims = []
        self.started = datetime.now(UTC)
        found = find_skills(self.skill_dirs)
        order = sorted(found, key=lambda name: (name != RESTORE_SKILL, name))
        self.skills = {name: found[name] for name in order}
        self.design_inputs = _digests({"design": self.design}) if self.design else {}
        self._environment(self._tool())
        self._target_session(environment_ok=self._holds("tool_on_path"))
        return self._verdict()

    # -- environment -------------------------------------------------------------------------

    def _tool(self) -> list[str]:
        tool = backend_tool(self.target, self.config.binary, self.config.tclsh)
        # A backend without a tool of its own (pseudo, a plugin's) runs in this Python.
        return [sys.executable] if tool is None else tool

    def _environment(self, tool: list[str]) -> None:
        program = find_program(tool[0] if tool else "")
        if program.where is None:
            self._add("tool_on_path", "fail", program.detail)
            self._add("tool_version", "insufficient_evidence", "the tool is not on PATH")
        else:
            self._add(
                "tool_on_path", "pass", program.where, {"tool": file_digest(Path(program.where))}
            )
            self._version(tool)
        self._submitter()
        self._licences()

    def _version(self, tool: list[str]) -> None:
        argv, stdin = version_command(self.target, self.config.binary, self.config.tclsh) or (
            [*tool, "--version"],
            "",
        )
        try:
            text = version_output(argv, stdin, VERSION_TIMEOUT_S)
        except SpilotError as exc:
            self._add("tool_version", "fail", str(exc))
            return
        line = text.splitlines()[0]
        inputs = {"version_output": sha256(text.encode())}
        if self.version and not re.search(self.version, text):
            self._add(
                "tool_version", "fail", f"{line!r} does not match version {self.version!r}", inputs
            )
        else:
            self._add("tool_version", "pass", line, inputs)

    def _submitter(self) -> None:
        launcher = self.launchers.get(self.config.launcher)
        if launcher is None:
            self._add(
                "submitter_on_path", "fail", f"launcher {self.config.launcher!r} is not known"
            )
        elif (template := submit_command(launcher)) is not None:
            submitter = find_program(template[0])
            self._add(
                "submitter_on_path",
                "pass" if submitter.where else "fail",
                submitter.detail,
                {"template": sha256(shlex.join(template).encode())}
                | ({"submitter": file_digest(Path(submitter.where))} if submitter.where else {}),
            )
        else:
            self._add("submitter_on_path", "pass", f"{self.config.launcher}: no batch submitter")

    def _licences(self) -> None:
        if self.target != REAL:
            self._add("licence_variables", "pass", f"the {self.target} backend needs no licence")
            return
        state = licence_state(self.config)
        unset = [n for n, is_set in state.items() if not is_set]
        # Only names and whether each is set are hashed: a licence server's address is a secret.
        inputs = {"license_env": sha256(repr(sorted(state.items())).encode())}
        self._add(
            "licence_variables",
            "fail" if unset else "pass",
            f"not set: {', '.join(unset)}"
            if unset
            else f"set: {', '.join(state) or 'none needed'}",
            inputs,
        )

    # -- the session -------------------------------------------------------------------------

    def _target_session(self, environment_ok: bool) -> None:
        """Every claim judged on a session of the target (parity too, while it runs)."""
        session_claims = ("session_ready", "heartbeat_advances", "noop_acked_pass")
        if not environment_ok:
            for claim in (*session_claims, "traversal_refused", "skill_contract"):
                self._add(claim, "insufficient_evidence", "the tool is not on PATH")
            self._parity(None)
            return
        session = self.open_session(self.target)
        try:
            start = time.monotonic()
            try:
                supervisor = session.supervisor()
            except SpilotError as exc:
                self._add("session_ready", "fail", str(exc).splitlines()[0][:400], self._boot())
                for claim in (*session_claims[1:], "traversal_refused", "skill_contract"):
                    self._add(claim, "insufficient_evidence", "the session never became ready")
                self._parity(None)
                return
            self._add(
                "session_ready",
                "pass",
                f"ready in {time.monotonic() - start:.2f} s "
                f"(ready_timeout_s {self.config.ready_timeout_s:g})",
                self._boot(),
            )
            # The heartbeat is watched while the requests run, not waited for up front.
            # Read through the run-directory protocol: what any backend's session must keep.
            run_dir = SessionDir(supervisor.run_dir)
            beat = run_dir.heartbeat_stamp(), time.monotonic()
            noop = supervisor.submit(skill_script("noop"), {})
            noop_script = self.skills.get("noop")
            self._add(
                "noop_acked_pass",
                "pass" if noop.passed else "fail",
                f"{noop.status} {noop.error_type or ''} {noop.message}".strip(),
                _digests({"script": noop_script}) if noop_script else {},
            )
            refused = supervisor.submit(TRAVERSAL_SCRIPT, {})
            self._add(
                "traversal_refused",
                "pass" if refused.error_type == "SECURITY" else "fail",
                f"{TRAVERSAL_SCRIPT!r} acked {refused.status} {refused.error_type or ''}".strip(),
                {"request_script": sha256(TRAVERSAL_SCRIPT.encode())},
            )
            answers = dict(self._answers(session))
            self._contracts(answers)
            self._parity(answers)  # while the target session lives: its heartbeat goes on
            self._heartbeat(run_dir, *beat)
        finally:
            session.close()

    def _boot(self) -> dict[str, str]:
        return _digests({"bootstrap.tcl": TCL_DIR / "bootstrap.tcl"})

    def _heartbeat(self, run_dir: SessionDir, first: tuple[int, int] | None, begun: float) -> None:
        path = run_dir.file("heartbeat")
        deadline = begun + 3 * self.config.heartbeat_interval_s + 1.0
        while time.monotonic() < deadline:
            if run_dir.heartbeat_stamp() not in (None, first):
                self._add(
                    "heartbeat_advances",
                    "pass",
                    f"{path.name} rewritten within {time.monotonic() - begun:.2f} s",
                    {"heartbeat": file_digest(path)},
                )
                return
            time.sleep(0.05)
        self._add(
            "heartbeat_advances",
            "fail",
            f"{path} not rewritten within 3 x heartbeat_interval_s "
            f"({self.config.heartbeat_interval_s:g} s)",
        )

    def _answers(self, session: InnovusSession) -> Iterator[tuple[str, _Answer]]:
        """Each skill run once, the design restored first (skills read the open design)."""
        restored = False
        for name, script in self.skills.items():
            contract = contract_for(script)
            inputs = _digests({"script": script, "contract": script.with_suffix(".yaml")})
            args: dict[str, object] = {}
            if contract.requires_design or name == RESTORE_SKILL:
                if self.design is None or not self.top:
                    yield name, _Answer(not_run="no design: give design and top", inputs=inputs)
                    continue
                inputs.update(self.design_inputs)
                if name == RESTORE_SKILL:
                    args = {"design": str(self.design), "top": self.top}
                elif not restored:
                    yield name, _Answer(not_run="the design was not restored", inputs=inputs)
                    continue
            result = session.run_skill(name, args)
            if name == RESTORE_SKILL:
                restored = result.passed
            yield (
                name,
                _Answer(
                    reports=sorted(p.name for p in result.reports),
                    metrics=sorted(result.metrics),
                    error="" if result.passed else f"{result.ack.error_type}: {result.ack.message}",
                    inputs=inputs,
                ),
            )

    def _site_skill(self, name: str) -> bool:
        return self.skills[name].parent != SHIPPED_SKILLS

    def _pseudo_cannot_run(self, name: str) -> bool:
        """A site skill whose contract gives the pseudo backend no figures to answer with."""
        return self._site_skill(name) and bool(contract_for(self.skills[name]).pseudo_gaps())

    def _contracts(self, answers: dict[str, _Answer]) -> None:
        for name, answer in answers.items():
            contract = contract_for(self.skills[name])
            claim = f"skill_contract:{name}"
            if answer.not_run:
                self._add(claim, "insufficient_evidence", answer.not_run, answer.inputs)
                continue
            if answer.error and self.target == PSEUDO and self._pseudo_cannot_run(name):
                detail = f"not blocking: {answer.error}"
                self._add(claim, "insufficient_evidence", detail, answer.inputs, blocking=False)
                continue
            want = sorted(Path(r).name for r in contract.reports)
            keys = sorted(contract.metrics)
            problems = [answer.error] if answer.error else []
            if answer.reports != want:
                problems.append(f"reports {answer.reports} != contract {want}")
            if answer.metrics != keys:
                problems.append(f"metrics {answer.metrics} != contract {keys}")
            self._add(
                claim,
                "fail" if problems else "pass",
                "; ".join(problems) or f"{len(want)} reports, {len(keys)} metrics",
                answer.inputs,
            )

    # -- parity ------------------------------------------------------------------------------

    def _parity(self, target: dict[str, _Answer] | None) -> None:
        if target is None:
            self._add("parity", "insufficient_evidence", "the target session gave no answers")
            return
        if self.reference == self.target:
            reference = target
        else:
            session = self.open_session(self.reference)
            try:
                reference = dict(self._answers(session))
            except SpilotError as exc:
                self._add("parity", "insufficient_evidence", f"{self.reference}: {exc}"[:400])
                return
            finally:
                session.close()
        for name, answer in target.items():
            theirs = reference.get(name)
            claim = f"parity:{name}"
            inputs = {
                f"{self.target}": sha256(repr((answer.reports, answer.metrics)).encode()),
                f"{self.reference}": sha256(
                    repr(theirs and (theirs.reports, theirs.metrics)).encode()
                ),
            }
            unjudged = [a.not_run or a.error for a in (answer, theirs) if a is not None]
            cannot = self._parity_cannot_be_judged(name, answer, theirs)
            if cannot:
                self._add(claim, "insufficient_evidence", cannot, inputs, blocking=False)
                continue
            if theirs is None or any(unjudged):
                why = next((w for w in unjudged if w), "no answer from the reference")
                self._add(claim, "insufficient_evidence", why, inputs)
                continue
            problems = []
            if answer.reports != theirs.reports:
                problems.append(f"reports {answer.reports} vs {theirs.reports}")
            if answer.metrics != theirs.metrics:
                problems.append(f"metric keys {answer.metrics} vs {theirs.metrics}")
            self._add(
                claim,
                "fail" if problems else "pass",
                "; ".join(problems)
                or f"same {len(answer.reports)} reports and "
                f"{len(answer.metrics)} metric keys as {self.reference}",
                inputs,
            )

    def _parity_cannot_be_judged(self, name: str, answer: _Answer, theirs: _Answer | None) -> str:
        """Why parity of a site skill is not judged and does not block, or ""."""
        if theirs is None or theirs.not_run or answer.not_run or not self._site_skill(name):
            return ""
        if answer.error and self.target == PSEUDO and self._pseudo_cannot_run(name):
            return f"not blocking: {answer.error}"
        # A target that failed the skill is judged by skill_contract; only a reference that
        # fails a skill the target runs leaves nothing to compare with.
        if not theirs.error or answer.error:
            return ""
        return (
            f"not blocking: the reference backend {self.reference} cannot judge site skill "
            f"{name!r} ({theirs.error}); the {self.target} answer is held to {name}.yaml by "
            f"skill_contract:{name}. To judge parity, give every metric of {name}.yaml a "
            "pseudo: figure, or set the gate's reference: to a backend that runs the skill"
        )

    # -- the verdict -------------------------------------------------------------------------

    def _add(
        self,
        claim: str,
        verdict: EvidenceVerdict,
        detail: str,
        inputs: dict[str, str] | None = None,
        blocking: bool = True,
    ) -> None:
        code = ISSUE_CODES[claim.split(":", 1)[0]]
        self.claims.append(
            Claim(
                claim=claim,
                verdict=verdict,
                code=code,
                detail=detail,
                inputs=inputs or {},
                blocking=blocking,
            )
        )

    def _holds(self, claim: str) -> bool:
        return any(c.claim == claim and c.verdict == "pass" for c in self.claims)

    def _verdict(self) -> CompatibilityGate:
        order = list(ISSUE_CODES)
        self.claims.sort(key=lambda c: order.index(c.claim.split(":", 1)[0]))  # checklist order
        codes = sorted({c.code for c in self.claims if c.verdict == "fail"})
        if not codes and any(
            c.verdict == "insufficient_evidence" and c.blocking for c in self.claims
        ):
            codes = [INSUFFICIENT]
        triggers = [c for c in codes if c in ROLLBACK_CODES]
        return CompatibilityGate(
            gate=self.gate,
            target=self.target,
            reference=self.reference,
            status="blocked" if codes else "ready",
            blocking_issue_codes=codes,
            rollback=Rollback(required=bool(triggers), trigger_codes=triggers),
            claims=self.claims,
            judged_at=datetime.now(UTC),
        )
