"""Architecture rules that keep the library usable without pytest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest_spilot
from pytest_spilot.cli.schema import FORMATS

PACKAGE = Path(pytest_spilot.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_library_never_imports_pytest() -> None:
    library = [p for p in PACKAGE.rglob("*.py") if "plugin" not in p.relative_to(PACKAGE).parts]
    assert len(library) > 10
    offenders = {str(p): imported_roots(p) & {"pytest", "_pytest", "xdist"} for p in library}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_file_format_exports_a_json_schema() -> None:
    for name, model in FORMATS.items():
        schema = model.model_json_schema(by_alias=True)
        assert schema["type"] == "object", name


def test_test_modules_have_unique_names() -> None:
    """Test folders are not packages: two test files of one name cannot both be imported."""
    tests = Path(__file__).parent
    seen: dict[str, list[str]] = {}
    for path in tests.rglob("test_*.py"):
        if "hostile" not in path.parts:
            seen.setdefault(path.name, []).append(str(path.relative_to(tests)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
