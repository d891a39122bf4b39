"""The file formats by name, for ``spilot schema NAME``: JSON Schema straight from the models."""

from __future__ import annotations

import json

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from pytest_spilot.core.journal import JournalLine
from pytest_spilot.core.state import ReleaseState
from pytest_spilot.innovus.contracts import SkillContract
from pytest_spilot.innovus.design import StandinDesign
from pytest_spilot.innovus.evidence import EvidenceMatrix
from pytest_spilot.innovus.protocol import Ack, Request
from pytest_spilot.live.view import LiveMessage, ReportData
from pytest_spilot.plan.model import ValidationFile, plugin_models, validation_file_model
from pytest_spilot.plan.orfs_rules import OrfsRulesFile
from pytest_spilot.registry import Registry, plugin_manager
from pytest_spilot.remote.inventory import Inventory
from pytest_spilot.siteconfig import SiteConfig

FORMATS: dict[str, type[BaseModel]] = {
    "validations": ValidationFile,
    "state": ReleaseState,
    "journal": JournalLine,
    "config": SiteConfig,
    "request": Request,
    "ack": Ack,
    "skill": SkillContract,
    "design": StandinDesign,
    "nodes": Inventory,
    "evidence": EvidenceMatrix,
    "live": LiveMessage,
    "orfs-rules": OrfsRulesFile,
    "report": ReportData,
}


# Formats the harness writes for others to read: their schema is of what is written
# (with derived fields such as a validation's overall 'verdict').
WRITTEN = {"state", "live", "report"}


def json_schema(name: str, registry: Registry | None = None) -> str:
    """The JSON Schema of format ``name``; validations with the kinds of ``registry``'s runners.

    ``registry`` defaults to the built-ins and the ``spilot`` entry points' plugins.
    """
    mode: JsonSchemaMode = "serialization" if name in WRITTEN else "validation"
    model = FORMATS[name]
    if name == "validations":
        registry = registry or Registry.from_hook(plugin_manager().hook)
        model = validation_file_model(plugin_models(registry.kind_models()))
    return json.dumps(model.model_json_schema(by_alias=True, mode=mode), indent=2)
