"""A folder's releases over time: each metric's history and the comparison of two releases.

Both fold the folder's documents and journals with the core's own store without writing
anything (the live server is read-only), so a release still running is shown as it stands;
neither imports the web server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from pytest_spilot.core.regressions import compare_states
from pytest_spilot.core.settings import load_release, release_versions
from pytest_spilot.core.state import ReleaseState
from pytest_spilot.core.store import ReleaseStore, warn_on_stderr
from pytest_spilot.live.view import CompareRow, CompareView, HistoryView, MetricPoint, MetricSeries
from pytest_spilot.redact import Redactor

Warn = Callable[[str], None]
_V = TypeVar("_V", bound=BaseModel)


def releases(folder: Path, warn: Warn | None = None) -> list[ReleaseState]:
    """Every release with a document or journal in ``folder``, oldest first by ``created``."""
    states = []
    for version in release_versions(folder):
        folded = ReleaseStore(folder / f"{version}.json", version).read()
        for warning in folded.warnings:
            (warn or warn_on_stderr)(warning)
        if folded.state is not None:
            states.append(folded.state)
    return sorted(states, key=lambda s: (s.created, s.version))


def history_view(folder: Path, redactor: Redactor, warn: Warn | None = None) -> HistoryView:
    """One series per (validation, metric) over the releases of ``folder`` that ran it."""
    return history_of(releases(folder, warn), redactor)


def history_of(states: list[ReleaseState], redactor: Redactor) -> HistoryView:
    """The history of ``states`` (oldest first): one pass over releases x validations."""
    series: dict[tuple[str, str], MetricSeries] = {}
    for state in states:
        for key, record in state.validations.items():
            run = record.run
            if run is None:
                continue
            regressed = set(record.regressions.regressed) if record.regressions else set()
            for metric in {*run.metrics, *run.missing_metrics}:
                found = series.get((key, metric))
                if found is None:
                    found = series[(key, metric)] = MetricSeries(key=key, metric=metric, points=[])
                found.points.append(
                    MetricPoint(
                        version=state.version,
                        value=run.metrics.get(metric),
                        regressed=metric in regressed,
                    )
                )
                if metric in run.directions:
                    found.direction = run.directions[metric]
            # The latest release's rule is the one drawn: rules tighten release by release.
            for threshold in record.thresholds.values():
                found = series.get((key, threshold.metric))
                if found is not None and threshold.expected is not None:
                    found.threshold_op = threshold.op
                    found.threshold = threshold.expected
    view = HistoryView(
        versions=[s.version for s in states],
        series=[series[k] for k in sorted(series)],
    )
    return redacted(view, redactor)


def compare_view(folder: Path, old: str, new: str, redactor: Redactor) -> CompareView:
    """``spilot compare OLD NEW`` of two releases of ``folder``, every metric included."""
    before = load_release(old, folder, folder)
    after = load_release(new, folder, folder)
    return compare_of(before, after, redactor)


def compare_of(old: ReleaseState, new: ReleaseState, redactor: Redactor) -> CompareView:
    rows = [
        CompareRow(
            key=change.validation,
            metric=change.metric,
            old=change.old,
            new=change.new,
            change=change.change,
            verdict=change.verdict,
        )
        for change in compare_states(old, new)
    ]
    return redacted(CompareView(old=old.version, new=new.version, rows=rows), redactor)


def redacted(view: _V, redactor: Redactor) -> _V:
    """``view`` without this site's secret values (a release written elsewhere may hold them)."""
    if not redactor.values:
        return view
    return type(view).model_validate_json(redactor.text(view.model_dump_json()))
