# Hook specifications only declare: pluggy never calls their bodies, so none returns a value.
# mypy: disable-error-code="empty-body"
"""Extension hooks of pytest-spilot; implement them in a conftest.py or a plugin.

Inside pytest these are ordinary pytest hooks (registered by the plugin); the ``spilot``
command loads the same implementations from the ``spilot`` entry-point group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pytest_spilot.core.gates import GateCheck
    from pytest_spilot.core.state import ValidationRecord
    from pytest_spilot.innovus.supervisor import SessionBackend
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.librelane.backends.base import FlowBackend
    from pytest_spilot.metrics.base import MetricSource
    from pytest_spilot.runners.base import ValidationRunner

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_spilot_metric_sources() -> list[MetricSource]:
    """Return metric sources to add, each with a unique ``key``.

    A validation file uses a plugin's source as ``{source: KEY, ...options}``; its
    ``read(spec, ctx)`` gets that mapping as a model with the options as attributes.
    """


@hookspec
def pytest_spilot_launchers() -> list[Launcher]:
    """Return launchers to add; a validation's ``location:`` names one by its ``name``.

    A site's own batch system is a launcher: build the command line, run the job with its
    output streamed to ``job.log_path``, kill the whole job on timeout (exit code 124).
    """


@hookspec
def pytest_spilot_runners() -> list[ValidationRunner]:
    """Return runners to add, one per validation ``kind`` they handle.

    A new kind is accepted in validation files, and in ``spilot schema validations``, once its
    runner is registered; the runner's optional ``model`` (a ``ValidationBase`` subclass)
    defines its entries' keys (see ``pytest_spilot.runners.base.ValidationRunner``).
    """


@hookspec
def pytest_spilot_session_backends() -> list[SessionBackend]:
    """Return Innovus session backends to add, each with a unique ``name``.

    ``--spilot-backend NAME`` (or ``backend`` in ``[tool.spilot.innovus]``) selects one; an
    unregistered name is a usage error listing the registered ones. A
    backend's ``create(spec)`` returns a supervisor (``start``, ``wait_ready``, ``submit``,
    ``poll_health``, ``stop``, ``collect_logs``) for a session in ``spec.run_dir``; deriving
    from ``pytest_spilot.innovus.queue_supervisor.QueueSupervisor`` keeps the run-directory
    protocol.
    """


@hookspec
def pytest_spilot_flow_backends() -> list[FlowBackend]:
    """Return LibreLane flow backends to add, each with a unique ``name``.

    ``--spilot-backend NAME`` (or ``backend`` in ``[tool.spilot.librelane]``) selects one; a
    ``--spilot-backend`` that names no flow backend (``tcl``) leaves flows on the configured one.

    A backend's ``command(request, flow_dir, config_path)`` is the argv of a child process
    that runs the flow with ``flow_dir`` as LibreLane's run folder, announces its step list
    and writes its result beside it (``pytest_spilot/librelane/flow_child.py``); the harness
    follows, times out and reads the results the same way for every backend.
    """


@hookspec
def pytest_spilot_gate_checks() -> list[GateCheck]:
    """Return Python gate checks, each with a unique ``name``.

    A validation file uses one as ``{name: ..., kind: python, check: NAME, args: {...},
    required: true}``. ``check(args)`` returns ``GateVerdict(ok, message)``; an exception fails
    the gate with its message. Like every gate it runs once per test run, also under xdist,
    and a failing required gate skips the validations of its file.
    """


@hookspec
def pytest_spilot_validation_finished(record: ValidationRecord) -> None:
    """Called in the process that ran it after each result of a validation is journalled.

    ``record`` is the validation's whole record so far (run, thresholds, regressions, and
    ``record.verdict``); use it for notifications. Exceptions raised here are reported but
    never lose the result: it is in the release journal already.
    """
