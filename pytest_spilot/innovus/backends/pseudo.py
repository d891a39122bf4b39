"""``pseudo``: a Python queue processor in a thread, answering from skill contracts."""

from __future__ import annotations

from typing import ClassVar

from pytest_spilot.backend_names import PSEUDO
from pytest_spilot.innovus.contracts import contract_for, find_skills
from pytest_spilot.innovus.processor import PseudoProcessor
from pytest_spilot.innovus.queue_supervisor import QueueSupervisor
from pytest_spilot.innovus.supervisor import SessionSpec


class PseudoSupervisor(QueueSupervisor):
    backend: ClassVar[str] = PSEUDO

    processor: PseudoProcessor | None = None

    def _launch(self) -> None:
        skills = find_skills(self.spec.skill_dirs)
        contracts = {
            name: contract_for(script)
            for name, script in skills.items()
            if script.with_suffix(".yaml").is_file()
        }
        self.processor = PseudoProcessor(
            self.dir, contracts, self.config.heartbeat_interval_s, self.config.poll_interval_s
        )
        self.processor.start()

    def _exit_code(self) -> int | None:
        if self.processor is None:
            return 127
        return None if self.processor.is_alive() else (self.processor.exit_code or 0)

    def _wake(self, request_id: str) -> None:
        if self.processor is not None:
            self.processor.wakeup.set()

    def _wait_event(self, timeout_s: float) -> None:
        assert self.processor is not None
        with self.processor.acked:
            self.processor.acked.wait(timeout_s)

    def _kill(self) -> None:
        if self.processor is not None and self.processor.is_alive():
            self.dir.file("stop").touch()
            self.processor.wakeup.set()
            self.processor.join(5.0)


class PseudoBackend:
    name: ClassVar[str] = PSEUDO

    def create(self, spec: SessionSpec) -> PseudoSupervisor:
        return PseudoSupervisor(spec)
