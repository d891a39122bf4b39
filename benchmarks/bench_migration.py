"""Migration gate cost: the whole checklist (``kind: migration``, 18 claims) against the ``tcl``
backend, vs. the same sessions and requests submitted by hand without any judging.

Both start a tcl and a pseudo session, restore the design and run every shipped skill on each,
plus a no-op and a traversal request on the tcl one; the gate adds the tool and version probes,
the input hashes and up to one heartbeat interval of waiting for the heartbeat to advance.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import Options, Result, error_result, main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from innovus_kit import BACKENDS, DESIGNS, FAST

from pytest_spilot.innovus.contracts import find_skills
from pytest_spilot.innovus.migration import TRAVERSAL_SCRIPT, MigrationCheck
from pytest_spilot.innovus.queue_supervisor import skill_script
from pytest_spilot.innovus.session import InnovusSession
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.siteconfig import InnovusConfig

REPEATS = 5
CONFIG = InnovusConfig(**FAST)
LAUNCHERS = {"local": LocalLauncher()}
DESIGN = {"design": str(DESIGNS / "clean.json"), "top": "counter"}


def session(root: Path, backend: str) -> InnovusSession:
    return InnovusSession(CONFIG, BACKENDS, LAUNCHERS, root, backend=backend, worker=backend)


def by_hand(root: Path) -> None:
    for backend in ("tcl", "pseudo"):
        pool = session(root, backend)
        try:
            live = pool.supervisor()
            if backend == "tcl":
                live.submit(skill_script("noop"), {})
                live.submit(TRAVERSAL_SCRIPT, {})
            pool.run_skill("restore_design", DESIGN, check=True)
            for name in sorted(find_skills([])):
                pool.run_skill(name, DESIGN if name == "restore_design" else {})
        finally:
            pool.close()


def gate(root: Path) -> None:
    check = MigrationCheck(
        gate="bench",
        config=CONFIG,
        launchers=LAUNCHERS,
        open_session=lambda backend: session(root, backend),
        target="tcl",
        design=DESIGNS / "clean.json",
        top="counter",
    )
    verdict = check.judge()
    if verdict.status != "ready":
        raise RuntimeError(verdict.summary())


def timed(work, root: Path) -> list[float]:
    samples = []
    for i in range(REPEATS):
        start = time.perf_counter()
        work(root / f"{work.__name__}-{i}")
        samples.append(time.perf_counter() - start)
    return samples


def bench(options: Options) -> list[Result]:
    name = "migration gate (tcl target)"
    if shutil.which("tclsh") is None:
        return [error_result(name, 1.0, RuntimeError("apt-get install -y tcl"))]
    with tempfile.TemporaryDirectory(prefix="spilot-bench-migration-") as tmp:
        root = Path(tmp)
        timed(by_hand, root / "warm")
        hand = timed(by_hand, root)
        judged = timed(gate, root)
    result = Result(
        name,
        "MigrationCheck.judge",
        statistics.median(judged),
        "the same sessions and requests by hand",
        statistics.median(hand),
        target=2.0,
        runs={"gate": judged, "by_hand": hand},
    )
    result.notes.append(
        f"heartbeat_interval_s {CONFIG.heartbeat_interval_s:g}: the heartbeat claim waits up to "
        "one interval for the file to be rewritten"
    )
    return [result]


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], bench))
