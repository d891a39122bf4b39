"""A release's jobs hold pool tokens: a wait is journalled and timed, requests reach batch jobs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pytest_spilot.core.journal import RunWaiting, read_journal
from pytest_spilot.core.release import Release
from pytest_spilot.core.settings import Settings
from pytest_spilot.core.store import journal_dir
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.resources import CPUS, PoolSizes, TokenPool, job_tokens, license_pool

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
    assert other.free() == {license_pool("lic"): 1}


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
