"""The flow-runner extension point: how a validation of one ``kind`` runs its job."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from pytest_spilot.core.state import JobHandle
from pytest_spilot.launchers.base import Launcher
from pytest_spilot.plan.expand import PlannedValidation
from pytest_spilot.plan.model import Direction
from pytest_spilot.redact import Redactor

if TYPE_CHECKING:
    from pytest_spilot.core.gates import GateCheck
    from pytest_spilot.innovus.session import InnovusSession
    from pytest_spilot.librelane.service import LibreLaneFlows
    from pytest_spilot.remote.node import NodePool


@dataclass(frozen=True)
class RunContext:
    """Where a run happens and what it may use."""

    run_dir: Path
    log_path: Path
    launchers: Mapping[str, Launcher]
    env: Mapping[str, str] = field(default_factory=dict)
    innovus: InnovusSession | None = None  # this process's Innovus session
    librelane: LibreLaneFlows | None = None  # this process's LibreLane flows
    nodes: NodePool | None = None  # this process's inventory nodes
    gate_checks: Mapping[str, GateCheck] = field(default_factory=dict)
    # Pass both to every Job the runner starts.
    secrets: Redactor = field(default_factory=Redactor)
    on_job_start: Callable[[JobHandle], None] | None = None


@dataclass(frozen=True)
class RunOutcome:
    """What the job did; ``metrics`` are those the tool reports natively (an ack, metrics.json)."""

    exit_code: int | None
    duration_s: float
    message: str = ""
    timed_out: bool = False
    command: list[str] = field(default_factory=list)
    metrics: Mapping[str, float] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)
    location: str | None = None  # where it ran, when more precise than ``location:``
    transient: bool = False  # a failure that may pass when tried again (``retries``)
    job_id: str | None = None  # the batch system's job id
    directions: Mapping[str, Direction] = field(default_factory=dict)  # from the tool's definitions
    # Of the metrics the tool defines, whether it marks each critical (LibreLane's metric
    # library): a regression of a critical one fails, of another warns (noncritical_regressions).
    critical: Mapping[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class ValidationRunner(Protocol):
    """Runs validations of one ``kind`` (command, innovus, librelane, or a plugin's).

    A plugin's runner of a new kind may also declare ``model: ClassVar[type[ValidationBase]]``
    (``pytest_spilot.plan.model``, with ``kind: Literal["its kind"]``): its entries are then
    checked against that model and ``validation.spec`` is one (``validation.spec_as(model)``
    gives it that type). Without it, an entry of the kind takes any other keys, which the
    runner reads from ``validation.spec.model_extra``.
    """

    kind: ClassVar[str]

    def run(self, validation: PlannedValidation, ctx: RunContext) -> RunOutcome:
        """Run the validation's job once; never raise for a failing job, report it."""
        ...
