"""``spilot compare OLD NEW --markdown``: the comparison as a pull-request comment."""

from __future__ import annotations

from pytest_spilot.core.acceptance import format_value
from pytest_spilot.core.regressions import MetricChange

# The order rows are listed in: what a reviewer must act on first.
_ORDER = ("regressed", "worse", "better", "new", "gone", "no direction")
_MARK = {"regressed": "❌ **regressed**", "worse": "⚠️ worse", "better": "✅ better"}


def _cell(text: str) -> str:
    """``text`` safe inside a table cell (a '|' would start a new cell, a newline a new row)."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def _unchanged(change: MetricChange) -> bool:
    return change.verdict == "same" or (
        change.verdict == "no direction" and change.old == change.new
    )


def compare_markdown(changes: list[MetricChange], old: str, new: str) -> str:
    """A GitHub table: regressions first, then improvements; unchanged metrics only counted."""
    listed = sorted(
        (c for c in changes if not _unchanged(c)),
        key=lambda c: (_ORDER.index(c.verdict), c.validation, c.metric),
    )
    unchanged = len(changes) - len(listed)
    regressed = sum(c.verdict == "regressed" for c in changes)
    better = sum(c.verdict == "better" for c in changes)
    lines = [
        f"### Release `{_cell(old)}` → `{_cell(new)}`",
        "",
        f"**{regressed} regression{'s' if regressed != 1 else ''}**, {better} "
        f"improvement{'s' if better != 1 else ''}, {unchanged} unchanged "
        f"(of {len(changes)} metrics)",
    ]
    if listed:
        lines += [
            "",
            "| validation | metric | old | new | change | verdict |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        lines += [
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    c.validation,
                    c.metric,
                    format_value(c.old),
                    format_value(c.new),
                    c.change,
                    _MARK.get(c.verdict, c.verdict),
                )
            )
            + " |"
            for c in listed
        ]
    return "\n".join(lines) + "\n"
