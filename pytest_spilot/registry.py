"""What the hooks provide, gathered once: metric sources, launchers and runners by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from pytest_spilot import builtin_plugin, hookspecs
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.model import BUILTIN_KINDS, use_kinds, use_session_backends

if TYPE_CHECKING:
    from pytest_spilot.core.gates import GateCheck
    from pytest_spilot.innovus.supervisor import SessionBackend
    from pytest_spilot.launchers.base import Launcher
    from pytest_spilot.librelane.backends.base import FlowBackend
    from pytest_spilot.metrics.base import MetricSource
    from pytest_spilot.plan.model import ValidationBase
    from pytest_spilot.runners.base import ValidationRunner


@dataclass(frozen=True)
class Registry:
    metric_sources: dict[str, MetricSource]
    launchers: dict[str, Launcher]
    runners: dict[str, ValidationRunner]
    session_backends: dict[str, SessionBackend]
    flow_backends: dict[str, FlowBackend]
    gate_checks: dict[str, GateCheck]

    @classmethod
    def from_hook(cls, hook: Any) -> Registry:
        """Build from a hook relay (pytest's ``config.hook`` or :func:`plugin_manager`'s)."""

        # pluggy returns the last-registered plugin's result first: reversed, plugins win
        # over the built-ins, so a site can replace e.g. the ``local`` launcher.
        def gather(results: list[list[Any]], attr: str) -> dict[str, Any]:
            return {getattr(x, attr): x for group in reversed(results) for x in group}

        registry = cls(
            metric_sources=gather(hook.pytest_spilot_metric_sources(), "key"),
            launchers=gather(hook.pytest_spilot_launchers(), "name"),
            runners=gather(hook.pytest_spilot_runners(), "kind"),
            session_backends=gather(hook.pytest_spilot_session_backends(), "name"),
            flow_backends=gather(hook.pytest_spilot_flow_backends(), "name"),
            gate_checks=gather(hook.pytest_spilot_gate_checks(), "name"),
        )
        # Files read in this process from now on accept the kinds the plugins' runners handle.
        use_kinds(registry.kind_models())
        use_session_backends(registry.session_backends)
        return registry

    def kind_models(self) -> dict[str, type[ValidationBase] | None]:
        """Each plugin runner's kind and the model of its entries (None: PluginValidation).

        Built-in kinds have their models in the file format already; their runners stay
        unimported (the lazy fronts of ``builtin_plugin``).
        """
        return {
            kind: getattr(runner, "model", None)
            for kind, runner in self.runners.items()
            if kind not in BUILTIN_KINDS
        }

    def check_backend(
        self,
        name: str | None,
        where: str = "--spilot-backend",
        among: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise SpilotError unless ``name`` is a backend of ``among`` (default: any backend)."""
        backends = {**self.session_backends, **self.flow_backends} if among is None else among
        if name is not None and name not in backends:
            raise SpilotError(
                f"{where} {name!r} is not a registered backend; use one of "
                f"{', '.join(sorted(backends))}, or install the plugin that registers it "
                "(hooks pytest_spilot_session_backends, pytest_spilot_flow_backends)"
            )


def plugin_manager() -> pluggy.PluginManager:
    """The hooks outside pytest (the ``spilot`` command): built-ins plus ``spilot`` entry points."""
    pm = pluggy.PluginManager("pytest")
    pm.add_hookspecs(hookspecs)
    pm.register(builtin_plugin, "spilot-builtins")
    pm.load_setuptools_entrypoints("spilot")
    return pm
