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


# What a validation file may say: YAML's core schema (plus the timestamps and merge keys that
# PyYAML's safe loader resolves by itself). Any other tag (``!!python/...``, ``!custom``) would
# be silently dropped on a sequence or mapping, so it is refused.
CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp", "merge")
)
MAX_DEPTH = 64  # plans nest a handful of levels; this bounds the builder's recursion
MIN_ALIAS_BUDGET = 10_000  # nodes that aliases may repeat, or 10 per distinct node if more


class _Builder:
    def __init__(self, doc: YamlDocument, loader: yaml.SafeLoader) -> None:
        self.doc = doc
        self.loader = loader
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.repeated = 0

    def refuse(self, message: str, loc: Loc, node: yaml.Node | None = None) -> PlanError:
        # Inside aliases and deep nests the node's own line is the anchor's, and the full
        # path is noise: name the key the user wrote, at most four steps down.
        where = loc
        if node is None:
            keys = [i for i, part in enumerate(loc[:4]) if isinstance(part, str)]
            where = loc[: keys[-1] + 1] if keys else loc[:1]
        line = node.start_mark.line + 1 if node is not None else self.doc.line_of(where)
        return PlanError(self.doc.path, message, line=line, field=dotted(where))

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        if node.tag not in CORE_TAGS:
            raise self.refuse(
                f"tag {node.tag.replace('tag:yaml.org,2002:', '!!')!r} is not allowed; "
                "validation files use plain YAML values only: remove the tag",
                loc,
                node,
            )
        if len(loc) > MAX_DEPTH:
            raise self.refuse(
                f"nested more than {MAX_DEPTH} levels deep; flatten the structure", loc
            )
        key = id(node)
        if key in self.active:
            raise self.refuse(
                "an alias refers to the mapping or list that contains it (a recursive "
                "alias); point the alias at a separate anchor",
                loc,
            )
        if key in self.seen:
            self.repeated += 1
            if self.repeated > max(MIN_ALIAS_BUDGET, 10 * len(self.seen)):
                raise self.refuse(
                    f"aliases expand to more than {self.repeated - 1} repeated values "
                    "(an alias bomb?); use fewer nested aliases",
                    loc,
                )
        self.seen.add(key)
        self.active.add(key)
        try:
            return self._build(node, loc)
        finally:
            self.active.discard(key)

    def _build(self, node: yaml.Node, loc: Loc) -> Any:
        self.doc.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            own = sum(k.tag != "tag:yaml.org,2002:merge" for k, _ in node.value)
            self.loader.flatten_mapping(node)
            merged = len(node.value) - own  # '<<' pairs come first; the mapping's own override
            from_merge: set[Any] = set()
            for index, (key_node, value_node) in enumerate(node.value):
                if key_node.tag not in CORE_TAGS or not isinstance(key_node, yaml.ScalarNode):
                    raise self.refuse(
                        "mapping keys must be plain words (no tags, lists or mappings)",
                        loc,
                        key_node,
                    )
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise PlanError(
                        self.doc.path,
                        f"mapping key {key!r} is not a plain name; write keys as plain words",
                        line=key_node.start_mark.line + 1,
                    )
                if key in result and key not in from_merge:
                    raise PlanError(
                        self.doc.path,
                        f"key {key!r} appears twice in the same mapping; keep one",
                        line=key_node.start_mark.line + 1,
                        field=dotted(loc),
                    )
                if index < merged:
                    from_merge.add(key)
                else:
                    from_merge.discard(key)
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
        data = path.read_bytes()
        # Universal newlines, as read_text gives: spans index this text.
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanError(
            path,
            f"byte {data[exc.start : exc.start + 1]!r} is not UTF-8 text; save the file as "
            "UTF-8 (it was probably written in Latin-1 or another legacy encoding)",
            line=line,
        ) from None
    except FileNotFoundError:
        raise PlanError(
            path,
            "file not found; check the path (relative paths resolve "
            "against the file that names them)",
        ) from None
    except OSError as exc:
        raise PlanError(path, f"cannot read the file ({exc.strerror or exc})") from None
    doc = YamlDocument(path=path, data=None)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc.data = None if node is None else _Builder(doc, loader).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise PlanError(
            path,
            f"YAML syntax error: {problem}{context}; fix the file's syntax "
            "(indentation, quoting of ':' and '#', matching brackets)",
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise PlanError(path, f"YAML error: {exc}") from None
    except RecursionError:  # PyYAML's pure-Python parser, or merge keys, nested without end
        raise PlanError(
            path,
            f"nested too deeply to read (more than {MAX_DEPTH} levels, or '<<' merge keys that "
            "merge themselves); flatten the structure",
        ) from None
    finally:
        loader.dispose()
    return doc
