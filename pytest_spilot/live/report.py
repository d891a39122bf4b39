"""``spilot report VERSION --html OUT``: the live page without its live parts, as one file.

The file holds the page's CSS, uPlot, the page's script and the release's data (JSON in a
``<script type="application/json" id="spilot-report">``); opened from disk it asks no network.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from pytest_spilot.atomic import write_atomic
from pytest_spilot.core.settings import load_release
from pytest_spilot.core.state import ValidationRecord, now
from pytest_spilot.errors import SpilotError
from pytest_spilot.live.history import compare_of, history_of, redacted, releases
from pytest_spilot.live.release_view import LiveRelease
from pytest_spilot.live.view import ReportData
from pytest_spilot.plan.expand import item_id
from pytest_spilot.redact import Redactor

STATIC = Path(__file__).parent / "static"
# The page's assets in the order index.html names them; each is inlined where it is named.
STYLES = ("uPlot.min.css", "app.css")
SCRIPTS = ("uPlot.iife.min.js", "app.js")
DATA_MARK = "<!-- spilot-report-data -->"


def rerun_command(record: ValidationRecord, version: str) -> str:
    """A command that runs the validation again from the project's root."""
    if record.params:
        parts = ["run", *record.thresholds_declared]
        if record.regressions_declared:
            parts.append("regressions")
        ids = [f"{record.file}::{item_id(record.id, part)}" for part in parts]
    else:
        ids = [f"{record.file}::{record.name}"]
    return shlex.join(["python3", "-m", "pytest", *ids, "--spilot-version", version])


def report_data(
    folder: Path, version: str, redactor: Redactor, compare_with: str | None = None
) -> ReportData:
    """What the report of ``version`` shows: the release, the folder's history, a comparison."""
    warnings: list[str] = []
    state = load_release(version, folder, folder)
    history = [s for s in releases(folder, warnings.append) if s.created <= state.created]
    if all(s.version != state.version for s in history):  # a document kept outside the folder
        history.append(state)
    # The live page's own rows: the report shows a release exactly as the page did.
    live = LiveRelease(folder, state.version, redactor)
    try:
        view = live.view()
    finally:
        live.close()
    view.warnings = [*view.warnings, *warnings]
    compare = None
    if compare_with is not None:
        compare = compare_of(load_release(compare_with, folder, folder), state, redactor)
    data = ReportData(
        release=view,
        history=history_of(history, redactor),
        compare=compare,
        generated=now(),
    )
    return redacted(data, redactor)


def render_report(data: ReportData) -> str:
    """One self-contained HTML page: the live page's markup with its assets and data inlined."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    for name in STYLES:
        page = _inline(page, f'<link rel="stylesheet" href="/static/{name}">', "style", name)
    for name in SCRIPTS:
        page = _inline(page, f'<script src="/static/{name}"></script>', "script", name)
    if DATA_MARK not in page:
        raise SpilotError(f"{STATIC / 'index.html'}: lost its {DATA_MARK} mark; restore it")
    return page.replace(DATA_MARK, _data_script(data), 1)


def _inline(page: str, tag: str, element: str, name: str) -> str:
    if tag not in page:
        raise SpilotError(f"{STATIC / 'index.html'}: does not name {tag}; restore it")
    text = (STATIC / name).read_text(encoding="utf-8")
    # A closing tag inside would end the element early; none of the shipped assets has one.
    if f"</{element}" in text.lower():
        raise SpilotError(f"{STATIC / name}: holds '</{element}', which cannot be inlined")
    return page.replace(tag, f"<{element}>/* {name} */\n{text}\n</{element}>", 1)


def _data_script(data: ReportData) -> str:
    text = data.model_dump_json()
    # JSON escapes keep the text inert inside <script>: no '</script>', no '<!--'.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="spilot-report">{text}</script>'


def write_report(
    folder: Path,
    version: str,
    out: Path,
    redactor: Redactor,
    compare_with: str | None = None,
) -> ReportData:
    """Write the HTML report of release ``version`` of ``folder`` to ``out`` (atomically)."""
    data = report_data(folder, version, redactor, compare_with)
    write_atomic(out, render_report(data))
    return data
