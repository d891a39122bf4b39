"""Reading pytest's own JUnit XML in the end-to-end tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path


def outcomes(junit: Path) -> dict[str, str]:
    """Test id (validation::item) -> outcome, read from pytest's own JUnit XML."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case_id(case)
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        result[name] = "failed" if failed else "skipped" if skipped else "passed"
    return result


def case_id(case: ET.Element) -> str:
    """``validation::item`` from JUnit's classname (``validations.plan.yaml.job``) and name."""
    validation = case.get("classname", "").split(".yaml", 1)[1].lstrip(".")
    return "::".join(part for part in (validation, case.get("name", "")) if part)


def properties(junit: Path, name: str) -> dict[str, str]:
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case_id(case) == name:
            return {p.get("name"): p.get("value") for p in case.iter("property")}
    raise AssertionError(f"no test case {name}")


def property_values(junit: Path, name: str, key: str) -> list[str]:
    """Every value of a property that a test case carries several times (``artifact``)."""
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case_id(case) == name:
            return [p.get("value", "") for p in case.iter("property") if p.get("name") == key]
    raise AssertionError(f"no test case {name}")
