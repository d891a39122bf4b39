"""``kind: innovus`` validations run by the runner itself: what fails before any request."""

from __future__ import annotations

from pathlib import Path

import pytest
from innovus_kit import BACKENDS, DESIGNS, FAST, require

from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.runners.base import RunContext
from pytest_spilot.runners.innovus import InnovusRunner
from pytest_spilot.siteconfig import InnovusConfig


def planned(tmp_path: Path, entry: str) -> PlannedValidation:
    path = tmp_path / "plan.yaml"
    path.write_text(f"version: 1\nvalidations:\n  - {{name: blk, kind: innovus, {entry}}}\n")
    return next(expand(load_validation_file(path), path, "plan.yaml"))


@pytest.fixture
def context(tmp_path: Path):
    """``context(backend)`` → a RunContext with a session pool that is closed at the end."""
    pools: list[InnovusSession] = []

    def make(backend: str, skill_dirs: list[Path] | None = None) -> RunContext:
        if backend != "pseudo":
            require("tclsh", "tcl")
        pool = InnovusSession(
            InnovusConfig(**FAST),
            BACKENDS,
            {"local": LocalLauncher()},
            tmp_path / "sessions",
            backend=backend,
            skill_dirs=skill_dirs,
        )
        pools.append(pool)
        return RunContext(
            run_dir=tmp_path / "run",
            log_path=tmp_path / "run.log",
            launchers={"local": LocalLauncher()},
            innovus=pool,
        )

    (tmp_path / "run").mkdir()
    yield make
    for pool in pools:
        pool.close()


@pytest.mark.parametrize("backend", ["pseudo", "tcl"])
def test_unknown_skill_fails_on_its_backend_before_a_session(
    tmp_path: Path, context, backend: str
) -> None:
    """Issue 14: it read 'exit code None' at location 'local'."""
    ctx = context(backend)
    outcome = InnovusRunner().run(planned(tmp_path, "skill: nonesuch"), ctx)
    assert (outcome.ok, outcome.exit_code, outcome.location) == (False, 1, f"innovus:{backend}")
    assert outcome.message.startswith(
        f"{tmp_path / 'plan.yaml'}: validation 'blk': unknown skill 'nonesuch'; the {backend} "
        "session has drc_health, noop, restore_design, summary_health, timing_health. A site's "
        "skills go in a folder named by 'skills' in [tool.spilot.innovus]"
    )
    assert outcome.command == ["scripts/nonesuch.tcl"]
    assert ctx.innovus is not None and ctx.innovus.started == 0, "no session for a typo"
    typo = InnovusRunner().run(planned(tmp_path, "skill: sumary_health"), ctx)
    assert "unknown skill 'sumary_health' (did you mean 'summary_health'?)" in typo.message


def test_design_without_top_fails_on_its_backend(tmp_path: Path, context) -> None:
    entry = f"skill: summary_health, design: {DESIGNS / 'clean.json'}"
    outcome = InnovusRunner().run(planned(tmp_path, entry), context("pseudo"))
    assert (outcome.exit_code, outcome.location) == (1, "innovus:pseudo")
    assert "'design' needs the top cell's name in args.top" in outcome.message


@pytest.mark.parametrize("backend", ["pseudo", "tcl"])
def test_a_broken_site_contract_fails_the_session_start_on_its_backend(
    tmp_path: Path, context, backend: str
) -> None:
    """Every backend stages the contracts at start (the bootstrap checks acks against them)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "odd.tcl").write_text("\n")
    (site / "odd.yaml").write_text("name: odd\nmetrics:\n  a: {better: up}\n")
    ctx = context(backend, [site])
    outcome = InnovusRunner().run(planned(tmp_path, "skill: noop"), ctx)
    assert (outcome.ok, outcome.location) == (False, f"innovus:{backend}")
    assert outcome.message.startswith(f"{site / 'odd.yaml'}:3: skill contract field 'metrics.a'")
