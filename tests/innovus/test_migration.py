"""Migration gates: each claim of the checklist judged on a real session, rolled into a verdict.

There is no Innovus binary here: the ``real`` target runs the Tcl stand-in as its binary, and a
"missing binary" is a path that does not exist — which is exactly what a site without its
Innovus install looks like.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from innovus_kit import BACKENDS, DESIGNS, FAST, REPO, require

from pytest_spilot.errors import SpilotError
from pytest_spilot.innovus.contracts import find_skills
from pytest_spilot.innovus.evidence import (
    CompatibilityGate,
    evidence_matrix,
    file_digest,
)
from pytest_spilot.innovus.migration import ISSUE_CODES, MigrationCheck
from pytest_spilot.innovus.processor import PseudoProcessor
from pytest_spilot.innovus.protocol import Ack, ErrorType, Request
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.launchers.template import COMMAND, TemplateLauncher
from pytest_spilot.siteconfig import InnovusConfig

STANDIN = REPO / "tcl" / "standin" / "innovus.tcl"
LICENCES = ("CDS_LIC_FILE", "LM_LICENSE_FILE")


def judge(
    tmp_path: Path,
    target: str,
    *,
    skill_dirs: list[Path] | None = None,
    version: str | None = None,
    launchers: dict | None = None,
    design: Path | None = DESIGNS / "clean.json",
    **config: object,
) -> CompatibilityGate:
    cfg = InnovusConfig(**{**FAST, **config})
    launchers = launchers or {"local": LocalLauncher()}
    opened: list[InnovusSession] = []

    def open_session(backend: str) -> InnovusSession:
        session = InnovusSession(
            cfg,
            BACKENDS,
            launchers,
            tmp_path / "sessions",
            backend=backend,
            worker=backend,
            skill_dirs=skill_dirs,
        )
        opened.append(session)
        return session

    gate = MigrationCheck(
        gate="innovus_migration",
        config=cfg,
        launchers=launchers,
        open_session=open_session,
        target=target,
        design=design,
        top="counter",
        version=version,
        skill_dirs=skill_dirs or [],
    ).judge()
    for session in opened:
        assert session._current is None, "a migration check left a session running"
    return gate


def verdicts(gate: CompatibilityGate) -> dict[str, str]:
    return {c.claim: c.verdict for c in gate.claims}


def test_tcl_target_is_ready_with_every_claim_and_its_inputs(tmp_path: Path) -> None:
    tclsh = require("tclsh", "tcl")
    gate = judge(tmp_path, "tcl")
    assert (gate.status, gate.blocking_issue_codes) == ("ready", []), gate.summary()
    assert not gate.rollback.required
    skills = sorted(find_skills([]))
    expected = {
        *(c for c in ISSUE_CODES if c not in ("skill_contract", "parity")),
        *(f"skill_contract:{s}" for s in skills),
        *(f"parity:{s}" for s in skills),
    }
    assert verdicts(gate) == dict.fromkeys(expected, "pass")
    claims = {c.claim: c for c in gate.claims}
    assert claims["tool_on_path"].inputs == {"tool": file_digest(Path(tclsh))}
    design = file_digest(DESIGNS / "clean.json")
    assert claims["skill_contract:summary_health"].inputs["design"] == design
    assert claims["parity:drc_health"].inputs["tcl"] == claims["parity:drc_health"].inputs["pseudo"]
    assert all(v.startswith("sha256:") for c in gate.claims for v in c.inputs.values())


def test_missing_binary_is_blocked_and_nothing_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in LICENCES:
        monkeypatch.delenv(name, raising=False)
    gate = judge(tmp_path, "real", binary="/nonexistent/innovus")
    assert gate.status == "blocked"
    assert gate.blocking_issue_codes == ["LICENSE_ENV_UNSET", "TOOL_MISSING"]
    # A missing install is fixed in the environment; nothing to roll back.
    assert gate.rollback.model_dump() == {"required": False, "trigger_codes": []}
    seen = verdicts(gate)
    assert seen["tool_on_path"] == seen["licence_variables"] == "fail"
    for claim in ("tool_version", "session_ready", "noop_acked_pass", "parity"):
        assert seen[claim] == "insufficient_evidence", claim
    assert not (tmp_path / "sessions").exists()
    assert "TOOL_MISSING" in gate.summary() and "/nonexistent/innovus" in gate.summary()


@pytest.fixture
def licensed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Licence variables as a site sets them (no licence server exists here: nothing reads them)."""
    for name in LICENCES:
        monkeypatch.setenv(name, "5280@licence-server")


@pytest.mark.usefixtures("licensed")
@pytest.mark.parametrize(
    ("version", "codes"), [(r"Innovus v21\.", []), (r"Innovus v23\.", ["TOOL_VERSION_MISMATCH"])]
)
def test_real_backend_on_the_standin(tmp_path: Path, version: str, codes: list[str]) -> None:
    """The real backend's command line, with the stand-in as the binary; a version pin holds
    or blocks, and a wrong version is fixed by installing the right one, not by a rollback."""
    require("tclsh", "tcl")
    gate = judge(tmp_path, "real", binary=f"tclsh {STANDIN}", version=version)
    assert gate.blocking_issue_codes == codes, gate.summary()
    assert gate.status == ("blocked" if codes else "ready")
    assert not gate.rollback.required
    claims = {c.claim: c for c in gate.claims}
    assert "Innovus v21" in claims["tool_version"].detail
    assert "licence-server" not in claims["licence_variables"].model_dump_json()


@pytest.mark.usefixtures("licensed")
def test_session_that_never_becomes_ready_triggers_rollback(tmp_path: Path) -> None:
    gate = judge(tmp_path, "real", binary="false")  # on PATH, exits at once
    assert gate.blocking_issue_codes == ["SESSION_NOT_READY", "TOOL_VERSION_MISMATCH"]
    assert gate.rollback.model_dump() == {"required": True, "trigger_codes": ["SESSION_NOT_READY"]}
    seen = verdicts(gate)
    assert seen["heartbeat_advances"] == seen["traversal_refused"] == "insufficient_evidence"


def test_missing_submitter_blocks(tmp_path: Path) -> None:
    require("tclsh", "tcl")
    queue = TemplateLauncher(name="dsub", template=["no-such-dsub", "-I", COMMAND])
    gate = judge(tmp_path, "tcl", launcher="dsub", launchers={"dsub": queue})
    assert verdicts(gate)["submitter_on_path"] == "fail"
    assert "SUBMITTER_MISSING" in gate.blocking_issue_codes


def test_skill_that_breaks_its_contract_blocks_with_rollback(tmp_path: Path) -> None:
    """The pseudo backend answers from the contract; the Tcl skill writes nothing."""
    require("tclsh", "tcl")
    site = tmp_path / "site_skills"
    site.mkdir()
    (site / "thin.tcl").write_text("# promises a report, writes none\n")
    (site / "thin.yaml").write_text("name: thin\nreports: [thin.rpt]\n")
    gate = judge(tmp_path, "tcl", skill_dirs=[site])
    assert gate.blocking_issue_codes == ["SKILL_CONTRACT_BROKEN"]
    assert gate.rollback.required
    assert gate.rollback.trigger_codes == ["SKILL_CONTRACT_BROKEN"]
    failed = {c.claim for c in gate.claims if c.verdict == "fail"}
    assert failed == {"skill_contract:thin"}
    contract = next(c for c in gate.claims if c.claim == "skill_contract:thin")
    # The session itself failed the request (the tcl backend checks acks against contracts).
    assert "CMD_FAIL: skill 'thin' broke its contract: report(s) thin.rpt not written" in (
        contract.detail
    )
    # A failed answer leaves nothing to compare: parity is not judged, and blocks.
    parity = next(c for c in gate.claims if c.claim == "parity:thin")
    assert (parity.verdict, parity.blocking) == ("insufficient_evidence", True)


SITE_TCL = """\
set fh [open [spilot::report congestion.rpt] w]
puts $fh "congestion_pct: 2.5"
close $fh
spilot::metric congestion_pct 2.5
"""


def site_skill(tmp_path: Path, metric: str) -> Path:
    """A site's own skill that keeps its contract on the tcl backend."""
    site = tmp_path / "site_skills"
    site.mkdir()
    (site / "congestion.tcl").write_text(SITE_TCL)
    (site / "congestion.yaml").write_text(
        "name: congestion\nreports: [congestion.rpt]\n"
        f"metrics:\n  congestion_pct: {{unit: '%', direction: lower_is_better{metric}}}\n"
    )
    return site


def test_site_skill_the_reference_cannot_run_does_not_block(tmp_path: Path) -> None:
    """Issue 14: the pseudo reference has no figure for a site skill; the gate says so for
    that claim and stays ready, the target still held to the contract."""
    require("tclsh", "tcl")
    gate = judge(tmp_path, "tcl", skill_dirs=[site_skill(tmp_path, "")])
    assert (gate.status, gate.blocking_issue_codes) == ("ready", []), gate.summary()
    claims = {c.claim: c for c in gate.claims}
    assert claims["skill_contract:congestion"].verdict == "pass"
    parity = claims["parity:congestion"]
    assert (parity.verdict, parity.blocking) == ("insufficient_evidence", False)
    assert "the reference backend pseudo cannot judge site skill 'congestion'" in parity.detail
    assert "congestion_pct: {pseudo: 0}" in parity.detail, "says what to add"
    others = [c for c in gate.claims if c.claim != "parity:congestion"]
    assert {c.verdict for c in others} == {"pass"}
    assert gate.summary() == (
        f"tcl: ready ({len(others)} claims pass; not judged, not blocking: parity:congestion)"
    )


def test_site_skill_with_pseudo_figures_is_judged_for_parity(tmp_path: Path) -> None:
    require("tclsh", "tcl")
    gate = judge(tmp_path, "tcl", skill_dirs=[site_skill(tmp_path, ", pseudo: 2.5")])
    assert gate.status == "ready", gate.summary()
    assert verdicts(gate)["parity:congestion"] == "pass"
    assert all(c.blocking for c in gate.claims)


def test_pseudo_target_with_a_site_skill_it_cannot_run(tmp_path: Path) -> None:
    gate = judge(tmp_path, "pseudo", skill_dirs=[site_skill(tmp_path, "")])
    assert gate.status == "ready", gate.summary()
    claims = {c.claim: c for c in gate.claims}
    for claim in ("skill_contract:congestion", "parity:congestion"):
        assert (claims[claim].verdict, claims[claim].blocking) == ("insufficient_evidence", False)
        assert "the pseudo backend cannot run skill 'congestion'" in claims[claim].detail


def test_a_shipped_skill_the_reference_fails_still_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a site's own skill may go unjudged: the reference must answer every shipped one."""
    require("tclsh", "tcl")
    answer = PseudoProcessor._run_skill

    def broken(self: PseudoProcessor, request: Request, script: Path) -> Ack:
        if script.stem == "drc_health":
            return Ack.failure(request.request_id, ErrorType.CMD_FAIL, "a broken reference")
        return answer(self, request, script)

    monkeypatch.setattr(PseudoProcessor, "_run_skill", broken)
    gate = judge(tmp_path, "tcl")
    assert (gate.status, gate.blocking_issue_codes) == ("blocked", ["INSUFFICIENT_EVIDENCE"])
    parity = next(c for c in gate.claims if c.claim == "parity:drc_health")
    assert (parity.verdict, parity.blocking) == ("insufficient_evidence", True)
    assert "a broken reference" in parity.detail


def test_evidence_matrix_of_gates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LICENCES:
        monkeypatch.delenv(name, raising=False)
    blocked = judge(tmp_path, "real", binary="/nonexistent/innovus")
    ready = blocked.model_copy(update={"status": "ready", "blocking_issue_codes": []})
    files = []
    for name, gate in (("a", ready), ("b", blocked)):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(gate.model_dump_json())
    assert evidence_matrix("2.1", files[:1]).status == "ready"
    matrix = evidence_matrix("2.1", files)
    assert (matrix.version, matrix.status, len(matrix.gates)) == ("2.1", "blocked", 2)
    assert evidence_matrix("2.1", []).status == "blocked", "no gate is no evidence"
    files[0].write_text("{not json")
    with pytest.raises(SpilotError, match=r"a\.json.*run the gate again"):
        evidence_matrix("2.1", files)


def test_tool_not_on_path_names_it(tmp_path: Path) -> None:
    if shutil.which("innovus"):
        pytest.skip("an innovus binary is on PATH here")
    gate = judge(tmp_path, "real")
    tool = next(c for c in gate.claims if c.claim == "tool_on_path")
    assert (tool.verdict, tool.detail) == ("fail", "innovus: not on PATH")


def test_without_a_design_the_design_skills_are_insufficient_evidence(tmp_path: Path) -> None:
    """Nothing failed, but not everything was judged: not ready, and nothing to roll back."""
    require("tclsh", "tcl")
    gate = judge(tmp_path, "tcl", design=None)
    seen = verdicts(gate)
    assert seen["skill_contract:noop"] == seen["parity:noop"] == "pass"
    for skill in ("restore_design", "summary_health", "drc_health"):
        assert seen[f"skill_contract:{skill}"] == "insufficient_evidence", skill
        assert seen[f"parity:{skill}"] == "insufficient_evidence", skill
    assert (gate.status, gate.blocking_issue_codes) == ("blocked", ["INSUFFICIENT_EVIDENCE"])
    assert not gate.rollback.required
