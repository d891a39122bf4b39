"""A release followed live: statuses from the journal, rows changed one at a time, folds."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pytest_spilot.core.journal import (
    JobStarted,
    JournalWriter,
    RunFinished,
    RunSkipped,
    RunStarted,
    RunWaiting,
    StepProgress,
    ThresholdJudged,
    ValidationsPlanned,
)
from pytest_spilot.core.state import (
    JobHandle,
    Progress,
    ReleaseState,
    RunRecord,
    ThresholdRecord,
    ValidationInfo,
    ValidationRecord,
)
from pytest_spilot.core.store import ReleaseStore
from pytest_spilot.innovus.evidence import COMPATIBILITY_FILE, CompatibilityGate
from pytest_spilot.live.release_view import LiveRelease
from pytest_spilot.live.view import RowsChanged, ValidationRow
from pytest_spilot.redact import Redactor


def info(key: str, kind: str = "command", thresholds: tuple[str, ...] = ()) -> ValidationInfo:
    return ValidationInfo(
        key=key,
        id=key.rsplit("::", 1)[-1],
        name=key.rsplit("::", 1)[-1],
        file="validations/f.yaml",
        kind=kind,
        thresholds_declared=list(thresholds),
    )


class Journal:
    """One writer's journal of release ``version`` in ``folder`` (a ``.spilot/``), with the
    events of a validation's life; each validation's run directory and log under ``runs/``."""

    def __init__(self, folder: Path, version: str = "v1", worker: str = "gw0") -> None:
        self.folder = folder
        self.version = version
        self.worker = worker
        self.store = ReleaseStore(folder / f"{version}.json", version)
        self.writer: JournalWriter = self.store.writer(worker, folder)
        self.starts: dict[str, datetime] = {}
        self.infos: dict[str, ValidationInfo] = {}

    def plan(self, *infos: ValidationInfo) -> None:
        self.infos.update((i.key, i) for i in infos)
        self.writer.write(ValidationsPlanned(session="s1", validations=list(infos)))

    def wait(self, key: str, waiting_for: str = "gate g") -> None:
        self.writer.write(RunWaiting(key=key, worker=self.worker, waiting_for=waiting_for))

    def skip(self, key: str, reason: str = "passed in an earlier run") -> None:
        self.writer.write(RunSkipped(key=key, reason=reason))

    def run_dir(self, key: str) -> Path:
        return self.folder / "runs" / self.version / key.replace("::", "/")

    def log(self, key: str) -> Path:
        return self.run_dir(key) / "job.log"

    def start(self, key: str, log: Path | None = None) -> datetime:
        self.run_dir(key).mkdir(parents=True, exist_ok=True)
        log = log or self.log(key)
        log.touch()
        self.starts[key] = started = datetime.now(UTC)
        self.writer.write(
            RunStarted(
                validation=self.infos.get(key) or info(key),
                started=started,
                worker=self.worker,
                host="h",
                location="local",
                log=str(log),
                rerun=f"python3 -m pytest {key}",
            )
        )
        return started

    def job(self, key: str, job_id: str, node: str = "n1") -> None:
        handle = JobHandle(launcher="srun", host="h", owner_pid=1, node=node, job_id=job_id)
        self.writer.write(JobStarted(key=key, run_started=self.starts[key], job=handle))

    def progress(self, key: str, i: int, n: int) -> None:
        progress = Progress(state="running", step_index=i, step_count=n, stage="synthesis")
        self.writer.write(StepProgress(key=key, run_started=self.starts[key], progress=progress))

    def finish(
        self, key: str, outcome: str = "passed", message: str = "", **metrics: float
    ) -> None:
        run = RunRecord(
            outcome=outcome,  # type: ignore[arg-type]
            exit_code=0 if outcome == "passed" else 1,
            message=message,
            started=self.starts[key],
            finished=datetime.now(UTC),
            duration_s=0.5,
            run_dir=str(self.run_dir(key)),
            log=str(self.log(key)),
            metrics=metrics,
        )
        verdict = "passed" if outcome == "passed" else "failed"
        self.writer.write(RunFinished(key=key, run=run, verdict=verdict))  # type: ignore[arg-type]

    def threshold(self, key: str, name: str, outcome: str, level: str = "error") -> None:
        record = ThresholdRecord(
            id=name,
            metric="m",
            op="<=",
            outcome=outcome,  # type: ignore[arg-type]
            level=level,  # type: ignore[arg-type]
            message=f"m is {outcome}",
        )
        self.writer.write(
            ThresholdJudged(
                key=key,
                run_started=self.starts[key],
                threshold=record,
                verdict="passed" if outcome != "failed" else "failed",
            )
        )

    def close(self) -> None:
        self.writer.close()


def row(changed: RowsChanged | None, key: str) -> ValidationRow:
    assert changed is not None
    [found] = [r for r in changed.rows if r.key == key]
    return found


def test_statuses_follow_the_journal_queued_waiting_running_passed(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    a, b = "f.yaml::a", "f.yaml::b"
    journal.plan(info(a), info(b))
    live = LiveRelease(tmp_path, "v1")
    view = live.view()
    assert [(r.key, r.status) for r in view.rows] == [(a, "queued"), (b, "queued")]
    assert view.summary.running and view.summary.counts == {"queued": 2}

    journal.wait(a, "gate g")
    changed = live.poll()
    assert changed is not None and [r.key for r in changed.rows] == [a]  # only the row it names
    assert (row(changed, a).status, row(changed, a).waiting_for) == ("waiting", "gate g")
    assert changed.summary.counts == {"queued": 1, "waiting": 1}

    journal.start(a)
    journal.job(a, "4242")
    journal.progress(a, 3, 40)
    running = row(live.poll(), a)
    assert running.status == "running"
    assert (running.worker, running.host, running.location) == ("gw0", "h", "local")
    assert (running.node, running.job_id) == ("n1", "4242")
    assert running.progress is not None and running.progress.step_index == 3
    assert running.log == "runs/v1/f.yaml/a/job.log"  # relative to the served folder
    assert running.rerun == "python3 -m pytest f.yaml::a"
    assert running.elapsed_s is not None and running.elapsed_s >= 0

    journal.finish(a, area=12.5)
    passed = row(live.poll(), a)
    assert passed.status == "passed" and passed.metrics == {"area": 12.5}
    assert passed.log_tail == []  # a tail only for failures
    assert live.poll() is None  # nothing new, nothing sent
    assert live.view().summary.counts == {"passed": 1, "queued": 1}
    journal.close()  # the test run ends without running b
    ended = row(live.poll(), b)
    assert (ended.status, ended.message) == (
        "skipped",
        "not run: its test run ended before it started",
    )
    assert not live.summary().running


def test_warning_failure_skip_and_a_killed_run(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    w, f, s, k = "f.yaml::w", "f.yaml::f", "f.yaml::s", "f.yaml::k"
    journal.plan(info(w, thresholds=("t",)), info(f), info(s), info(k))
    secret = Redactor(["LM_LICENSE_FILE"], {"LM_LICENSE_FILE": "27000@licsrv"})
    live = LiveRelease(tmp_path, "v1", secret)
    journal.start(w)
    journal.finish(w)
    assert row(live.poll(), w).status == "running"  # its threshold is still due
    journal.threshold(w, "t", "warning", level="warning")
    assert row(live.poll(), w).status == "warning"

    journal.start(f)
    journal.log(f).write_text("step 1\nlicense 27000@licsrv refused\n")
    journal.finish(f, "failed", "exit 1 after 27000@licsrv")
    failed = row(live.poll(), f)
    assert failed.status == "failed"
    assert failed.message == "exit 1 after ***"
    assert failed.log_tail == ["step 1", "license *** refused"]

    journal.skip(s)
    skipped = row(live.poll(), s)
    assert (skipped.status, skipped.message) == ("skipped", "passed in an earlier run")

    # Another worker starts k and is killed before its run finishes (no closing line).
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from test_release_view import Journal\n"
        "j = Journal(Path(sys.argv[1]), worker='gw1')\n"
        "j.start(sys.argv[2])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    subprocess.run([sys.executable, "-c", code, str(tmp_path), k], env=env, timeout=60)
    killed = row(live.poll(), k)
    assert killed.status == "failed"
    assert killed.message == "the run never finished (its process ended first)"
    assert killed.worker == "gw1"
    journal.close()


def test_a_fold_that_removes_the_journal_keeps_every_row(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    a = "f.yaml::a"
    journal.plan(info(a))
    live = LiveRelease(tmp_path, "v1")
    journal.start(a)
    journal.finish(a, area=1.0)
    journal.close()
    journal.store.fold()  # the controller's fold at the end of its run
    assert not list(journal.store.journal_dir.glob("*.jsonl"))
    changed = live.poll()
    assert row(changed, a).status == "passed"
    assert live.view().rows[0].metrics == {"area": 1.0}

    # A second run appears and is folded away between two polls: only the document has it.
    again = Journal(tmp_path, worker="gw1")
    b = "f.yaml::b"
    again.start(b)
    again.finish(b, "failed", "boom")
    again.close()
    again.store.fold()
    changed = live.poll()
    assert row(changed, b).status == "failed" and row(changed, b).message == "boom"
    assert {r.key: r.status for r in live.view().rows} == {a: "passed", b: "failed"}


def test_a_document_without_journal_and_a_migration_gates_evidence(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "v1" / "gate"
    run_dir.mkdir(parents=True)
    gate = CompatibilityGate(
        gate="g", target="tcl", reference="pseudo", status="ready", judged_at=datetime.now(UTC)
    )
    (run_dir / COMPATIBILITY_FILE).write_text(gate.model_dump_json())
    now = datetime.now(UTC)
    outside = tmp_path.parent / "elsewhere.log"
    records = {
        "g": ValidationRecord(
            **dict(info("g", kind="migration")),
            run=RunRecord(
                outcome="passed",
                started=now,
                finished=now,
                duration_s=1.0,
                run_dir=str(run_dir),
                log=str(outside),
            ),
        ),
        "u": ValidationRecord(**dict(info("u")), started=now),  # killed before it finished
    }
    document = tmp_path / "v1.json"
    document.write_text(ReleaseState(version="v1", validations=records).model_dump_json())
    view = LiveRelease(tmp_path, "v1").view()
    g, u = view.rows
    assert g.status == "passed" and g.evidence == [gate]
    assert g.log is None  # a log outside the folder (and no root given) is not shown
    assert (u.status, u.message) == ("failed", "the run never finished (its process ended first)")
    assert not view.summary.running
    shown = LiveRelease(tmp_path, "v1", roots=[tmp_path.parent]).view().rows[0]
    assert shown.log == str(outside.resolve())


def test_one_event_costs_the_same_in_10000_validations_as_in_100(tmp_path: Path) -> None:
    def per_event(n: int) -> float:
        folder = tmp_path / str(n)
        journal = Journal(folder)
        keys = [f"f.yaml::v{i}" for i in range(n)]
        journal.plan(*(info(k) for k in keys))
        for key in keys[: n // 2]:
            journal.start(key)
            journal.finish(key, m=1.0)
        live = LiveRelease(folder, "v1")
        key = keys[-1]
        journal.start(key)
        live.poll()
        times = []
        for i in range(200):
            journal.progress(key, i, 200)
            t0 = time.perf_counter()
            changed = live.poll()
            times.append(time.perf_counter() - t0)
            assert changed is not None and len(changed.rows) == 1
        journal.close()
        return statistics.median(times)

    small, large = per_event(100), per_event(10_000)
    print(f"poll+apply of one event: {small * 1e3:.3f} ms at 100, {large * 1e3:.3f} ms at 10,000")
    assert large < 3 * small + 0.0005


def test_the_view_is_the_contract_json(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.plan(info("f.yaml::a"))
    journal.start("f.yaml::a")
    view = LiveRelease(tmp_path, "v1").view()
    data = json.loads(view.model_dump_json())
    assert data["type"] == "release"
    assert data["rows"][0]["status"] == "running"
    assert set(data["summary"]) == {"version", "created", "updated", "running", "counts"}
    journal.close()


def test_apply_takes_events_built_in_memory(tmp_path: Path) -> None:
    live = LiveRelease(tmp_path, "v1")
    assert live.view().rows == [] and live.apply([]) is None
    a = info("f.yaml::a")
    changed = live.apply([ValidationsPlanned(session="s", validations=[a])])
    assert row(changed, a.key).status == "queued" and changed is not None and changed.seq == 1
    waiting = RunWaiting(key=a.key, worker="gw1", waiting_for="a licence")
    started = datetime.now(UTC)  # the latest event by time decides, as across files
    changed = live.apply(
        [
            waiting,
            RunStarted(validation=a, started=started, worker="gw1", host="h", location="srun"),
        ]
    )
    assert changed is not None and changed.seq == 2 and len(changed.rows) == 1
    assert (row(changed, a.key).status, row(changed, a.key).location) == ("running", "srun")


def test_a_resumed_run_shows_what_passed_before_as_passed(tmp_path: Path) -> None:
    earlier = Journal(tmp_path)
    a = "f.yaml::a"
    earlier.plan(info(a))
    earlier.start(a)
    earlier.finish(a)
    earlier.close()
    earlier.store.fold()
    resumed = Journal(tmp_path, worker="gw1")
    resumed.plan(info(a))
    resumed.skip(a, "passed in release v1 at ... (--spilot-resume)")
    live = LiveRelease(tmp_path, "v1")
    assert {r.key: r.status for r in live.view().rows} == {a: "passed"}
    resumed.close()
