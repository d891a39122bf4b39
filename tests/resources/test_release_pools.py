"""A release's jobs hold pool tokens: a wait is journalled and timed, requests reach batch jobs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pytest_spilot.core.journal import RunWaiting, read_journal
from pytest_spilot.core.release import Release
from pytest_spilot.core.settings import Settings
from pytest_spilot.core.store import journal_dir
from pytest_spilot.innovus.licenses import LicenseSlots
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.template import TemplateLauncher
from pytest_spilot.librelane.service import LibreLaneFlows
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.resources import CPUS, PoolSizes, TokenPool, job_tokens, license_pool
from pytest_spilot.siteconfig import InnovusConfig, LibreLaneConfig

PLAN = """
version: 1
defaults:
  resources: {licenses: {lic: 1}}
validations:
  - name: needs_lic
    run: 'echo "cpus=$SPILOT_CPUS licenses=$SPILOT_LICENSES"'
    resources: {cpus: 2}
  - name: too_many
    run: 'true'
    resources: {licenses: {lic: 2}}
"""


def _release(tmp_path: Path, pools: PoolSizes) -> tuple[Release, dict[str, PlannedValidation]]:
    plan = tmp_path / "validations" / "plan.yaml"
    plan.parent.mkdir()
    plan.write_text(PLAN)
    validations = {
        v.id: v for v in expand(load_validation_file(plan), plan, "validations/plan.yaml")
    }
    settings = Settings.resolve(tmp_path, version="v1")
    registry = Registry.from_hook(plugin_manager().hook)
    return Release(settings, registry, pools=pools), validations


def test_a_waiting_run_is_journalled_timed_and_told_its_tokens(tmp_path: Path) -> None:
    release, validations = _release(tmp_path, PoolSizes(cpus=4, licenses={"lic": 1}))
    other = TokenPool(tmp_path / ".spilot" / "resources", {license_pool("lic"): 1})
    held = other.acquire({license_pool("lic"): 1})
    runs = []
    thread = threading.Thread(target=lambda: runs.append(release.run(validations["needs_lic"])))
    thread.start()
    time.sleep(0.6)
    assert not runs, "the run started without the licence"
    held.release()
    thread.join(10)
    release.close()
    run = runs[0]
    assert run.outcome == "passed", run.message
    assert run.held == {CPUS: 2, license_pool("lic"): 1}
    assert run.waited_s >= 0.5
    assert "cpus=2 licenses=lic:1" in Path(run.log).read_text()
    waits = [
        e
        for f in read_journal(journal_dir(release.settings.state_path))
        for e in f.events
        if isinstance(e, RunWaiting)
    ]
    assert [w.waiting_for for w in waits] == ["1 licence lic (0 of 1 free)", ""]
    assert all(w.key == validations["needs_lic"].key for w in waits)
    # Released on the way out: the pool is whole again.
    again = other.try_acquire({license_pool("lic"): 1})
    assert again is not None
    again.release()


def test_a_request_beyond_its_pool_fails_the_run_with_the_fix(tmp_path: Path) -> None:
    release, validations = _release(tmp_path, PoolSizes(cpus=4, licenses={"lic": 1}))
    run = release.run(validations["too_many"])
    release.close()
    assert run.outcome == "failed"
    assert "licence lic 2 of a pool of 1" in run.message
    assert "--spilot-license FEATURE=N" in run.message
    assert "licence lic 2 of a pool of 1" in Path(run.log).read_text()


def test_what_a_job_takes_depends_on_where_it_runs() -> None:
    sizes = PoolSizes(cpus=4, licenses={"innovus": 2, "genus": 1})
    here = job_tokens(8, {"genus": 1, "calibre": 3}, sizes)
    assert here.tokens == {CPUS: 4, license_pool("genus"): 1}
    assert here.describe() == (
        "4 cpus, licence genus 1 (asks 8 cpus, the pool has 4: holds all of them; "
        "licence calibre: no pool, not capped)"
    )
    batch = job_tokens(2, {"genus": 1}, sizes, placement="batch")
    assert batch.tokens == {license_pool("genus"): 1}
    assert batch.notes == ["2 cpus asked of the batch system"]
    left = PoolSizes(cpus=4, licenses={"genus": 1}, batch_licenses=True)
    assert job_tokens(2, {"genus": 1}, left, placement="batch").tokens == {}
    remote = job_tokens(2, {}, sizes, placement="remote")
    assert remote.tokens == {}
    session = job_tokens(None, {"innovus": 1}, sizes, session_feature="innovus")
    assert session.tokens == {} and session.notes == ["licence innovus held by the session"]


SESSION_PLAN = """
version: 1
defaults:
  resources: {licenses: {innovus: 1}}
gates:
  - {name: gate, required: true, run: 'true'}
validations:
  - {name: job, run: 'true', resources: {licenses: {}}}
  - {name: flow, kind: librelane, design: designs/d, resources: {cpus: 2, licenses: {}}}
  - {name: blk, kind: innovus, skill: noop, design: d.json, resources: {cpus: 2, licenses: {}}}
"""


def _session_release(
    tmp_path: Path, launcher: str = "local"
) -> tuple[Release, InnovusSession, dict[str, PlannedValidation]]:
    """A release whose process holds an idle Innovus session's licence (1 in the pool)."""
    plan = tmp_path / "validations" / "plan.yaml"
    plan.parent.mkdir()
    plan.write_text(SESSION_PLAN)
    validations = {
        v.id: v for v in expand(load_validation_file(plan), plan, "validations/plan.yaml")
    }
    settings = Settings.resolve(tmp_path, version="v1")
    registry = Registry.from_hook(plugin_manager().hook)
    registry.launchers["srun"] = TemplateLauncher()
    folder = tmp_path / ".spilot" / "resources"
    slots = LicenseSlots(folder, 1)
    session = InnovusSession(
        InnovusConfig(launcher=launcher), {}, registry.launchers, tmp_path, licenses=slots
    )
    session.adopt_slot(slots.acquire())
    flows = LibreLaneFlows(LibreLaneConfig(launcher=launcher), {}, registry.launchers, tmp_path)
    pools = PoolSizes(cpus=2, licenses={"innovus": 1})
    release = Release(settings, registry, innovus=session, librelane=flows, pools=pools)
    return release, session, validations


class _OtherWorkerEvaluates:
    """A gate board on which another worker evaluates the gate, taking an innovus licence."""

    def __init__(self, folder: Path) -> None:
        self.pool = TokenPool(folder, {license_pool("innovus"): 1})

    def decided(self, key: str) -> bool:
        return False

    def record(self, key: str, evaluate: object) -> tuple[str, bool]:
        self.pool.acquire({license_pool("innovus"): 1}, timeout_s=1).release()
        return "the other worker's run", False


def test_a_worker_waiting_for_a_gate_gives_back_its_idle_sessions_licence(
    tmp_path: Path,
) -> None:
    release, session, validations = _session_release(tmp_path)
    release.gates = _OtherWorkerEvaluates(tmp_path / ".spilot" / "resources")  # type: ignore[assignment]
    assert release.run(validations["gate"]) == "the other worker's run"  # type: ignore[comparison-overlap]
    assert not session.holds_slot
    release.close()


def test_an_idle_session_gives_its_licence_to_a_queued_run(tmp_path: Path) -> None:
    release, session, validations = _session_release(tmp_path)
    other = TokenPool(tmp_path / ".spilot" / "resources", {license_pool("innovus"): 1})
    got: list[str] = []
    queued = threading.Event()

    def waiter() -> None:
        with other.acquire({license_pool("innovus"): 1}, on_wait=lambda _: queued.set()):
            got.append("licence")

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert queued.wait(5)
    assert release.run(validations["job"]).outcome == "passed"
    thread.join(5)
    release.close()
    assert got == ["licence"] and not session.holds_slot


def test_flows_and_sessions_launched_by_a_batch_system_hold_no_local_cpus(
    tmp_path: Path,
) -> None:
    release, session, validations = _session_release(tmp_path, launcher="srun")
    for name in ("flow", "blk"):
        assert release.placement(validations[name]) == "batch"
        assert CPUS not in release.job_tokens(validations[name]).tokens
    session.close()
    release.close()
