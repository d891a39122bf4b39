"""Parity: the same skill on ``pseudo`` and ``tcl`` writes the same reports and metric keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from innovus_kit import DESIGNS

from pytest_spilot.innovus.contracts import contract_for, find_skills
from pytest_spilot.innovus.queue_supervisor import skill_script

SKILLS = ["summary_health", "timing_health", "drc_health"]


def answers(session, design: str) -> dict[str, tuple[list[str], dict[str, float]]]:
    restored = session.submit(
        skill_script("restore_design"),
        {"design": str(DESIGNS / f"{design}.json"), "top": "counter"},
    )
    assert restored.passed, restored.message
    out = {"restore_design": restored}
    out.update({skill: session.submit(skill_script(skill), {}) for skill in SKILLS})
    return {
        name: (
            sorted(
                Path(r).relative_to(f"reports/{ack.request_id}").as_posix() for r in ack.reports
            ),
            ack.metrics,
        )
        for name, ack in out.items()
    }


@pytest.mark.parametrize("design", ["clean", "setup_violations", "drc_violations"])
def test_pseudo_and_tcl_agree(start_session, design: str) -> None:
    pseudo = answers(start_session("pseudo"), design)
    tcl = answers(start_session("tcl"), design)
    for skill in pseudo:
        p_reports, p_metrics = pseudo[skill]
        t_reports, t_metrics = tcl[skill]
        assert p_reports == t_reports, skill
        assert p_metrics.keys() == t_metrics.keys(), skill
        assert p_metrics == {k: pytest.approx(v, abs=1e-6) for k, v in t_metrics.items()}, skill


def test_every_shipped_skill_keeps_its_contract(start_session) -> None:
    """On the tcl backend each shipped skill writes exactly its contract's reports and metrics."""
    session = start_session("tcl", skill_dirs=[])
    restored = session.submit(
        skill_script("restore_design"), {"design": str(DESIGNS / "clean.json"), "top": "counter"}
    )
    assert restored.passed
    for name, script in find_skills([]).items():
        contract = contract_for(script)
        args = (
            {"design": str(DESIGNS / "clean.json"), "top": "counter"}
            if name == "restore_design"
            else {}
        )
        ack = session.submit(skill_script(name), args)
        assert ack.passed, (name, ack.message)
        written = sorted(Path(r).name for r in ack.reports)
        assert written == sorted(Path(r).name for r in contract.reports), name
        assert sorted(ack.metrics) == sorted(contract.metrics), name
