"""Collection nodes: a plan file, a validation (collector), its run item and threshold items."""

from __future__ import annotations

import os
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import ExceptionRepr, TerminalRepr

from pytest_spilot.core.acceptance import format_value
from pytest_spilot.core.regressions import DEFAULT_MARGIN_PCT
from pytest_spilot.core.release import Release
from pytest_spilot.core.state import RunRecord, ThresholdRecord
from pytest_spilot.errors import PlanError, SpilotError
from pytest_spilot.logtail import tail_lines
from pytest_spilot.plan.checks import check_plan
from pytest_spilot.plan.expand import PlannedValidation, expand
from pytest_spilot.plan.loader import load_validation_file
from pytest_spilot.plan.model import Threshold
from pytest_spilot.plugin.secrets import add_validation_secrets

KIND_MARKERS = {"innovus": "innovus", "librelane": "librelane"}
LOG_TAIL_LINES = 20


class ValidationFailed(Exception):
    """A validation item's failure; its message is the whole report."""


class SpilotWarning(UserWarning):
    """A threshold with ``level: warning`` that was missed."""


def _release(node: pytest.Item | pytest.Collector) -> Release:
    release: Release = node.config.stash[RELEASE_KEY]
    return release


RELEASE_KEY = pytest.StashKey[Release]()
# The options of a run that decide what a validation does and where its results go: a re-run
# command passes them on when they were given (--spilot-version always, resolved).
RERUN_OPTIONS = {
    "spilot_backend": "--spilot-backend",
    "spilot_state": "--spilot-state",
    "spilot_baseline": "--spilot-baseline",
    "spilot_regressions": "--spilot-regressions",
    "spilot_regression_margin": "--spilot-regression-margin",
    "spilot_runs": "--spilot-runs",
    "spilot_config": "--spilot-config",
    "spilot_nodes": "--spilot-nodes",
}
RERUN_DEFAULTS: dict[str, object] = {"spilot_regression_margin": DEFAULT_MARGIN_PCT}


class PlanFile(pytest.File):
    """A validation file; every problem in it is one collection error naming file, line, field."""

    gates: list[PlannedValidation]

    def collect(self) -> Iterator[ValidationNode]:
        plan = load_validation_file(self.path)
        file_key = (
            self.path.relative_to(self.config.rootpath).as_posix()
            if self.path.is_relative_to(self.config.rootpath)
            else self.path.as_posix()
        )
        planned = list(expand(plan, self.path, file_key))
        check_plan(planned, getattr(_release(self).innovus, "skill_dirs", ()))
        # Every validation of the file depends on its required gates, even under -k.
        self.gates = [v for v in planned if v.is_gate]
        for validation in planned:
            # Matrix entries share the entry's name; their items carry the values (item_id).
            yield ValidationNode.from_parent(self, name=validation.spec.name, validation=validation)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: str | None = None,  # Node's signature; pytest gives collectors no style
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, SpilotError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class ValidationNode(pytest.Collector):
    """One validation after matrix expansion: its run item and threshold items share its scope."""

    def __init__(self, *, validation: PlannedValidation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validation = validation
        self._run: RunRecord | None = None
        # -k 'timing_report[ss-low]' selects a validation by its id in the release state.
        self.extra_keyword_matches.add(validation.id)
        add_validation_secrets(_release(self).secrets, validation)
        names = ["gate"] if validation.is_gate else ["release"]
        names += [*validation.markers]
        if validation.spec.kind in KIND_MARKERS:
            names.append(KIND_MARKERS[validation.spec.kind])
        if validation.spec.location != "local":
            names.append("remote")  # a node of the inventory or a batch system
        for name in dict.fromkeys(names):
            try:
                self.add_marker(getattr(pytest.mark, name))
            except (AttributeError, pytest.fail.Exception):
                error: PlanError = validation.plan_error(
                    f"validation {validation.id!r}: marker {name!r} is not registered; add it "
                    "to 'markers' in the pytest configuration, or remove it",
                    validation.marker_loc(name),
                )
                raise error from None

    def collect(self) -> Iterator[SpilotItem]:
        yield self._item(RunItem, "run")
        for threshold in self.validation.thresholds:
            yield self._item(ThresholdItem, threshold.id, threshold=threshold)
        if self.has_regressions:
            yield self._item(RegressionItem, "regressions")

    @property
    def has_regressions(self) -> bool:
        return bool(self.config.getoption("spilot_regressions")) and not self.validation.is_gate

    def item_parts(self) -> list[str]:
        """The parts of this validation's item ids, in collection order."""
        parts = ["run", *(t.id for t in self.validation.thresholds)]
        return [*parts, "regressions"] if self.has_regressions else parts

    def _item(self, cls: type[SpilotItem], part: str, **kwargs: Any) -> SpilotItem:
        name = self.validation.item_id(part).split("::", 1)[1]
        # Given as a string, pytest 9 parses the node id as it parses one from the command
        # line or the --lf cache (names + params), so the two compare equal; pytest 8 keeps it.
        nodeid = f"{self.nodeid}::{name}"
        return cls.from_parent(self, name=name, nodeid=nodeid, **kwargs)

    def rerun_ids(self) -> list[str]:
        """Node ids, relative to where pytest was started, that select exactly this validation."""
        invoked = self.config.invocation_params.dir
        where = Path(os.path.relpath(self.path, invoked)).as_posix()
        if not self.validation.params:
            return [f"{where}::{self.name}"]  # the collector: its name is unique in its file
        # Every matrix entry shares the name: list the entry's items.
        return [f"{where}::{self.validation.item_id(part)}" for part in self.item_parts()]

    def rerun_command(self) -> str:
        """A POSIX shell command that runs this validation again, with this run's options."""
        release = _release(self)
        options = ["--spilot-version", release.settings.version]
        for dest, flag in RERUN_OPTIONS.items():
            value = self.config.getoption(dest)
            if value is True:
                options.append(flag)
            elif value not in (None, False, "", RERUN_DEFAULTS.get(dest)):
                options += [flag, str(value)]
        words = ["python3", "-m", "pytest", *self.rerun_ids(), *options]
        return shlex.join(words)

    def run_record(self) -> RunRecord:
        """The validation's run: executed by whichever item asks first, then shared."""
        if self._run is None:
            self._run = _release(self).run(self.validation, self.rerun_command())
        return self._run


class SpilotItem(pytest.Item):
    parent: ValidationNode

    @property
    def validation(self) -> PlannedValidation:
        return self.parent.validation

    def setup(self) -> None:
        record = _release(self).passed_before(self.validation)
        if record is not None:
            self.user_properties += [
                ("spilot", self.role),
                ("validation", self.validation.id),
                ("resumed_from", str(record.finished)),
            ]
            reason = (
                f"passed in release {_release(self).settings.version} at "
                f"{record.finished:%Y-%m-%d %H:%M:%S}Z (--spilot-resume)"
            )
            _release(self).skipped(self.validation, reason)
            pytest.skip(reason)
        plan_file = self.parent.parent
        if self.validation.is_gate or not isinstance(plan_file, PlanFile):
            return
        failed = _release(self).failed_gate(plan_file.gates, waiting=self.validation)
        if failed is not None:
            gate, run = failed
            why = run.message or f"exit code {run.exit_code}"
            self.user_properties += [
                ("spilot", self.role),
                ("validation", self.validation.id),
                ("skipped_by_gate", gate.id),
            ]
            reason = f"required gate {gate.id!r} failed: {why}"
            _release(self).skipped(self.validation, reason)
            pytest.skip(reason)

    role = "run"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.validation.line_of(self.validation.loc)
        return self.path, None if line is None else line - 1, self.nodeid.split("::", 1)[1]

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None
    ) -> str | TerminalRepr:
        rerun = f"re-run: {self.parent.rerun_command()}"
        if isinstance(excinfo.value, ValidationFailed | SpilotError):
            return f"{excinfo.value}\n{rerun}"
        report = super().repr_failure(excinfo)
        if isinstance(report, ExceptionRepr):
            report.addsection("re-run", rerun, sep="-")
            return report
        # A string, or a repr without sections (a fixture lookup error's).
        return f"{report}\n{rerun}"

    def _props(self, run: RunRecord) -> None:
        self.user_properties += [
            ("spilot", self.role),
            ("validation", self.validation.id),
            ("location", run.location),
            ("run_dir", run.run_dir),
            ("log", run.log),
            *[("artifact", p) for p in run.artifacts],
        ]


class RunItem(SpilotItem):
    """Runs the validation's job; fails when the job fails (exit code, timeout, session error)."""

    role = "run"

    def runtest(self) -> None:
        run = self.parent.run_record()
        self._props(run)
        self.user_properties += [
            ("exit_code", run.exit_code),
            ("duration_s", f"{run.duration_s:.3f}"),
            ("attempts", run.attempts),
            *[("retried_because", why) for why in run.retried_because],
            *([("job_id", run.job_id)] if run.job_id else []),
            *[(f"metric.{k}", format_value(v)) for k, v in run.metrics.items()],
            *[(f"missing.{k}", why) for k, why in run.missing_metrics.items()],
        ]
        ended = "not started" if run.exit_code is None else f"exit code {run.exit_code}"
        summary = f"{self.validation.id}: {ended} in {run.duration_s:.2f} s"
        if run.job_id:
            summary += f" (job {run.job_id} on {run.location})"
        if run.attempts > 1:
            summary += f" after {run.attempts} attempts"
        if run.message:
            summary += f": {run.message}"
        self.user_properties.append(("summary", summary))
        print(f"{summary}; log: {run.log}")
        if run.outcome != "passed":
            raise ValidationFailed(
                f"run failed: {run.message or f'exit code {run.exit_code}'}\n"
                f"log: {run.log}\n{_tail(Path(run.log))}"
            )


class ThresholdItem(SpilotItem):
    """Judges one acceptance threshold on the run's metrics; never runs the job a second time."""

    role = "threshold"

    def __init__(self, *, threshold: Threshold, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold

    def runtest(self) -> None:
        run = self.parent.run_record()
        verdict = _release(self).judge(self.validation, self.threshold, run)
        self._props(run)
        self.user_properties += _verdict_props(verdict)
        print(verdict.message)
        if verdict.outcome == "failed":
            raise ValidationFailed(verdict.message)
        if verdict.outcome == "warning":
            # Shown where the threshold is written (the plan's YAML or its rules file; pytest
            # prints that line), not at this code.
            file, line = self.validation.threshold_where(self.threshold)
            warnings.warn_explicit(
                SpilotWarning(f"{self.nodeid}: {verdict.message}"),
                category=SpilotWarning,
                filename=str(file),
                lineno=line or 0,
                module=file.name,
            )


class RegressionItem(SpilotItem):
    """Every metric with a direction against the baseline release (``--spilot-regressions``)."""

    role = "regressions"

    def runtest(self) -> None:
        run = self.parent.run_record()
        self._props(run)
        margin = self.config.getoption("spilot_regression_margin") / 100
        verdict, changes = _release(self).judge_regressions(self.validation, run, margin)
        self.user_properties += [("verdict", verdict.outcome), ("summary", verdict.message)]
        self.user_properties += [(f"regression.{c.metric}", c.line()) for c in changes or []]
        print(verdict.message)
        for line in verdict.changes:
            print(line)
        if verdict.outcome == "failed":
            regressed = [f"  {c.line()}" for c in changes or [] if c.failed]
            raise ValidationFailed(
                "\n".join([f"{verdict.message}:" if regressed else verdict.message, *regressed])
            )
        if verdict.outcome == "warning":
            warned = [f"  {c.line()}" for c in changes or [] if c.warned]
            text = "\n".join([f"{self.nodeid}: {verdict.message}:", *warned])
            warnings.warn(SpilotWarning(text), stacklevel=1)


def _verdict_props(verdict: ThresholdRecord) -> list[tuple[str, object]]:
    props: list[tuple[str, object]] = [
        ("metric", verdict.metric),
        ("value", "" if verdict.value is None else format_value(verdict.value)),
        ("op", verdict.op),
        ("expected", "" if verdict.expected is None else format_value(verdict.expected)),
        ("level", verdict.level),
        ("verdict", verdict.outcome),
        ("summary", verdict.message),
    ]
    if verdict.baseline is not None:
        props.append(("baseline", format_value(verdict.baseline)))
    if verdict.tolerance is not None:
        props.append(("tolerance", format_value(verdict.tolerance)))
    return props


def _tail(log: Path) -> str:
    shown = tail_lines(log, LOG_TAIL_LINES)
    return f"--- last {len(shown)} lines of the log ---\n" + "\n".join(shown) if shown else ""
