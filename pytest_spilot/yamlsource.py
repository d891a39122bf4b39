"""YAML loading that remembers the line of every key, so errors can point into the file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_spilot.errors import PlanError

Loc = tuple[str | int, ...]
# libyaml's parser gives the same nodes and marks (character offsets) about 5x faster.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class YamlDocument:
    """Plain data parsed from a YAML file plus the line (1-based) of every mapping key and item."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    # Character offsets (start, end) of every scalar value: rewrite one in place, keep the rest.
    spans: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Line of the deepest existing prefix of ``loc``."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)


class _Builder:
    def __init__(self, doc: YamlDocument, loader: yaml.SafeLoader) -> None:
        self.doc = doc
        self.loader = loader

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.doc.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            self.loader.flatten_mapping(node)
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise PlanError(
                        self.doc.path,
                        f"mapping key {key!r} is not a plain name; write keys as plain words",
                        line=key_node.start_mark.line + 1,
                    )
                if key in result:
                    raise PlanError(
                        self.doc.path,
                        f"key {key!r} appears twice in the same mapping; keep one",
                        line=key_node.start_mark.line + 1,
                        field=dotted(loc),
                    )
                self.doc.lines[(*loc, str(key))] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, (*loc, str(key)))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        self.doc.spans[loc] = (node.start_mark.index, node.end_mark.index)
        return self.loader.construct_object(node, deep=True)


def dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_yaml(path: Path) -> YamlDocument:
    """Parse ``path``; raise PlanError with the line for unreadable files and YAML syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(
            path,
            "file not found; check the path (relative paths resolve "
            "against the file that names them)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(path, f"cannot read the file ({exc}); it must be UTF-8 text") from None
    doc = YamlDocument(path=path, data=None)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc.data = None if node is None else _Builder(doc, loader).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise PlanError(
            path,
            f"YAML syntax error: {problem}{context}; fix the file's syntax "
            "(indentation, quoting of ':' and '#', matching brackets)",
            line=line,
        ) from None
    except yaml.YAMLError as exc:
        raise PlanError(path, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    return doc
