"""Sessions for the kernel tests: started in a temporary run directory, always stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from innovus_kit import BACKENDS, FAST, TEST_SKILLS, require

from pytest_spilot.innovus.backends.tcl import STANDIN
from pytest_spilot.innovus.queue_supervisor import QueueSupervisor
from pytest_spilot.innovus.supervisor import SessionSpec
from pytest_spilot.launchers.local import LocalLauncher
from pytest_spilot.siteconfig import InnovusConfig


@pytest.fixture
def tclsh() -> str:
    return require("tclsh", "tcl")


@pytest.fixture
def start_session(tmp_path: Path):
    """``start_session(backend, **config)`` → a ready supervisor, stopped at the test's end."""
    started: list[QueueSupervisor] = []

    def start(
        backend: str = "tcl",
        *,
        launcher=None,
        env: dict[str, str] | None = None,
        skill_dirs: list[Path] | None = None,
        ready: bool = True,
        **config,
    ) -> QueueSupervisor:
        if backend != "pseudo":
            require("tclsh", "tcl")
        if backend == "real":
            # No Innovus binary exists here: the real backend runs the stand-in as its binary.
            config.setdefault("binary", f"tclsh {STANDIN}")
        spec = SessionSpec(
            run_dir=tmp_path / f"session-{len(started)}",
            config=InnovusConfig(**{**FAST, **config}),
            launcher=launcher or LocalLauncher(),
            skill_dirs=[TEST_SKILLS] if skill_dirs is None else skill_dirs,
            env=env or {},
        )
        supervisor: QueueSupervisor = BACKENDS[backend].create(spec)
        started.append(supervisor)
        supervisor.start()
        if ready:
            supervisor.wait_ready(15)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop("end of test")
        process = getattr(supervisor, "process", None)
        if process is not None:
            assert process.poll() is not None, "a session process outlived its test"
