"""Read a validation file, turning every problem into ``file:line: field: what to fix``."""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from pytest_spilot.errors import PlanError, PlanErrors
from pytest_spilot.plan.model import ValidationFile, validation_file_model
from pytest_spilot.yamlsource import Loc, YamlDocument, dotted, load_yaml

PLAN_SUFFIXES = (".yaml", ".yml")


def load_validation_file(path: Path) -> ValidationFile:
    """Parse and validate one file; PlanError/PlanErrors name the file, line and field."""
    doc = load_yaml(path)
    if doc.data is None:
        raise PlanError(
            path,
            "the file is empty; a validation file needs at least 'validations:' or 'gates:'",
            line=1,
        )
    if not isinstance(doc.data, dict):
        raise PlanError(
            path,
            "the top level must be a mapping with keys version, markers, "
            "defaults, validations, gates",
            line=1,
        )
    try:
        # Kept for errors found after loading; the spans (for rewriting) are not needed there.
        source = YamlDocument(path=doc.path, data=doc.data, lines=doc.lines)
        # With the kinds plugins registered: their entries validate against their own models.
        model = validation_file_model()
        plan = model.model_validate(doc.data, context={"source": source})
    except ValidationError as exc:
        raise PlanErrors(model_errors(doc, exc, model)) from None
    _check_unique_names(doc, plan)
    return plan


def _check_unique_names(doc: YamlDocument, plan: ValidationFile) -> None:
    seen: dict[str, str] = {}
    errors = []
    for section, entries in (("validations", plan.validations), ("gates", plan.gates)):
        for index, entry in enumerate(entries):
            loc = (section, index, "name")
            if entry.name in seen:
                errors.append(
                    PlanError(
                        doc.path,
                        f"duplicate name {entry.name!r} (first used at {seen[entry.name]}); "
                        "names must be unique within a file: rename one",
                        line=doc.line_of(loc),
                        field=dotted(loc),
                    )
                )
            else:
                seen[entry.name] = f"line {doc.line_of(loc)}"
    if errors:
        raise PlanErrors(errors)


# What a value must be, by pydantic's error type, for "expected a list or a string".
_EXPECTED = {
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}
# How a wrong value is shown: containers by their type (their repr could be long), others as is.
_SHOWN: dict[type, str] = {dict: "a mapping", list: "a list"}


def model_errors(
    doc: YamlDocument, exc: ValidationError, root: type[BaseModel] = ValidationFile
) -> list[PlanError]:
    """Every error of ``exc``; a value that fits none of a union's types is one error."""
    # In pydantic's order: a finished error, or the place of a value of the wrong type.
    found: list[PlanError | tuple[int | None, str]] = []
    wrong_type: dict[tuple[int | None, str], tuple[str, list[str]]] = {}
    for err in exc.errors():
        expected = _EXPECTED.get(err["type"])
        if expected is None:
            found.append(model_error(doc, err, root))
            continue
        loc = _data_loc(doc.data, err["loc"])
        where = (doc.line_of(loc), dotted(loc))
        if where not in wrong_type:
            value = err.get("input")
            shown = _SHOWN.get(type(value), repr(value))
            wrong_type[where] = (shown, [])
            found.append(where)
        if expected not in wrong_type[where][1]:
            wrong_type[where][1].append(expected)
    errors = []
    for item in found:
        if isinstance(item, PlanError):
            errors.append(item)
        else:
            shown, kinds = wrong_type[item]
            text = f"expected {' or '.join(kinds)} (got {shown})"
            errors.append(PlanError(doc.path, text, line=item[0], field=item[1]))
    return errors


def model_error(doc: YamlDocument, err: Any, root: type[BaseModel] = ValidationFile) -> PlanError:
    """One pydantic error of ``root`` parsed from ``doc`` as ``file:line: field: what to fix``."""
    loc = _data_loc(doc.data, err["loc"])
    kind, msg, value = err["type"], err["msg"], err.get("input")
    key = loc[-1] if loc else None
    if kind == "extra_forbidden":
        valid = sorted(_valid_keys(err["loc"][:-1], root))
        near = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}?" if near else f"valid keys here: {', '.join(valid)}"
        text = f"unknown key {key!r}; {hint}"
    elif kind == "missing":
        text = f"required key {key!r} is missing; add it"
    elif kind == "literal_error":
        text = f"{value!r} is not allowed; use one of {err['ctx']['expected']}"
    elif kind in ("value_error", "assertion_error"):
        text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    elif kind == "validation_kind":
        text = msg
        if isinstance(value, dict) and "kind" in value:
            loc = (*loc, "kind")
    elif kind == "metric_source":
        text = msg
    else:
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        text = f"{msg} (got {shown})"
    return PlanError(doc.path, text, line=doc.line_of(loc), field=dotted(loc))


def _data_loc(data: Any, loc: tuple[str | int, ...]) -> Loc:
    """Drop the union tags pydantic puts in ``loc``, keeping only steps that exist in the data."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        # A union tag that is also a key (``regex:``) is a tag when the next step is a key of
        # the same mapping; otherwise it is the key, and what follows it are union tags.
        following = loc[i + 1] if i + 1 < len(loc) else None
        in_dict = (
            isinstance(data, dict)
            and part in data
            and (following is None or isinstance(data[part], dict | list) or following not in data)
        )
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        elif isinstance(data, dict | list):
            if following is None and not isinstance(part, int):
                out.append(part)  # a missing or unknown key: keep it for the message
            continue
        else:
            continue
        out.append(part)
    return tuple(out)


def _valid_keys(loc: tuple[str | int, ...], root: type[BaseModel]) -> set[str]:
    """Field names (by alias) of the model that ``loc`` points into."""
    tp: Any = root
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return set()
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {f.alias or name for name, f in tp.model_fields.items()}
    return set()


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _step(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if origin is list:
        return get_args(tp)[0] if isinstance(part, int) else None
    if origin is dict:
        return get_args(tp)[1]
    if origin in (Union, types.UnionType):
        for member in get_args(tp):
            tags = [m for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]
            if tags and tags[0].tag == part:
                return _unwrap(member)
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
    return None
