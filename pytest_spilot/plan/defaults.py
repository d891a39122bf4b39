"""A file's ``defaults`` laid beneath each of its entries (release plans, node inventories)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


def beneath(
    entry: Mapping[str, Any], defaults: Mapping[str, Any], joined: Collection[str]
) -> dict[str, Any]:
    """``entry`` over ``defaults``: what it leaves out is filled in, mappings merge with the
    entry winning, and the lists named in ``joined`` are the defaults' followed by the entry's
    (each item once); any other value of the entry replaces the default."""
    merged = dict(entry)
    for key, value in defaults.items():
        mine = entry.get(key)
        if key not in entry:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(mine, dict):
            merged[key] = {**value, **mine}
        elif key in joined and isinstance(value, list) and isinstance(mine, list):
            merged[key] = [*value, *(x for x in mine if x not in value)]
    return merged
