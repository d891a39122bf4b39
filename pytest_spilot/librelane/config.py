"""A design's LibreLane configuration: its own file read by LibreLane unchanged, or generated.

A design folder holds Verilog and optionally a LibreLane config (``config.json``,
``config.yaml``). LibreLane loads the folder's own file itself, in every form it accepts (JSON,
YAML, ``dir::`` globs, ``pdk::``/``scl::`` sections, its meta version): the file is never
rewritten. Presets, ``args`` and a chosen ``DESIGN_NAME`` reach LibreLane as its override
strings (``Flow(..., config_override_strings=[...])``, the CLI's ``-c KEY=VALUE``); the PDK as
its ``pdk``/``scl``/``pdk_root`` arguments. Without a file the configuration is generated and
written: ``DESIGN_NAME`` (the folder's name unless given), ``VERILOG_FILES`` (every
``.v``/``.sv`` in the folder unless given), the clock, ``meta.version: 2`` (explicit: readings of
LibreLane disagree on the default), plus a preset's variables and the caller's extra keys.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from pytest_spilot.errors import SpilotError

CONFIG_NAMES = ("config.json", "config.yaml", "config.yml")
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
GENERATED_NAME = "spilot-config.json"  # written only when the design has no config
VERILOG_SUFFIXES = (".v", ".sv")
KNOWN_PDKS = ("sky130A", "gf180mcuC", "ihp-sg13g2")

# The presets, in one place: named bundles of LibreLane variables. Only variables of the
# synthesis steps, so that a flow cut short after synthesis accepts every preset.
PRESETS: dict[str, dict[str, Any]] = {
    "minimal": {"SYNTH_STRATEGY": "AREA 0", "SYNTH_ABC_BUFFERING": False},
    "balanced": {"SYNTH_STRATEGY": "AREA 2", "SYNTH_ABC_BUFFERING": False},
    "high_quality": {"SYNTH_STRATEGY": "DELAY 1", "SYNTH_ABC_BUFFERING": True},
}


@dataclass(frozen=True)
class PdkChoice:
    """Where the PDK is: ``root`` holds ``<name>/libs.tech/librelane/``."""

    root: Path
    name: str
    scl: str | None = None


def resolve_pdk(pdk: str, pdk_root: str | None = None) -> PdkChoice:
    """A PDK by name under ``PDK_ROOT`` (or ``pdk_root``), or by path to ``<root>/<name>``."""
    as_path = Path(pdk).expanduser()
    if as_path.is_dir() and (as_path / "libs.tech" / "librelane").is_dir():
        return PdkChoice(as_path.parent.resolve(), as_path.name)
    root_text = pdk_root or os.environ.get("PDK_ROOT") or str(Path.home() / ".ciel")
    root = Path(root_text).expanduser()
    if (root / pdk / "libs.tech" / "librelane").is_dir():
        return PdkChoice(root.resolve(), pdk)
    hint = f" (known names: {', '.join(KNOWN_PDKS)})" if pdk not in KNOWN_PDKS else ""
    raise SpilotError(
        f"PDK {pdk!r} not found: looked for {root / pdk / 'libs.tech' / 'librelane'} "
        f"(PDK_ROOT={root_text}) and for {pdk!r} as a path to a PDK folder{hint}; "
        "install it with ciel (ciel enable --pdk-family ...) or set PDK_ROOT"
    )


@dataclass(frozen=True)
class DesignConfig:
    """What LibreLane reads: a config file, the folder its ``dir::`` paths resolve in, overrides."""

    design_dir: Path
    own_file: Path | None = None  # the design's own config, handed to LibreLane untouched
    generated: Mapping[str, Any] | None = None  # without an own file: the config to write
    overrides: Mapping[str, Any] = field(default_factory=dict)  # on top of the own file

    @property
    def name(self) -> str:
        """The design's name as far as known without LibreLane (for job names)."""
        for source in (self.overrides, self.generated or {}):
            if isinstance(source.get("DESIGN_NAME"), str):
                return str(source["DESIGN_NAME"])
        if self.own_file is not None:
            try:
                value = _read_config(self.own_file).get("DESIGN_NAME")
            except SpilotError:
                value = None
            if isinstance(value, str):
                return value
        return self.design_dir.name

    def config_file(self, run_root: Path) -> Path:
        """The file LibreLane loads: the design's own, else the generated one written here."""
        if self.own_file is not None:
            return self.own_file.resolve()
        run_root.mkdir(parents=True, exist_ok=True)
        path = run_root / GENERATED_NAME
        path.write_text(json.dumps(self.generated or {}, indent=2) + "\n", encoding="utf-8")
        return path

    def override_strings(self) -> list[str]:
        """The overrides as LibreLane's ``KEY=VALUE`` strings (its CLI's ``-c``)."""
        return [f"{key}={override_value(key, value)}" for key, value in self.overrides.items()]

    def view(self) -> dict[str, Any]:
        """The raw variables with the overrides on top, unresolved (for the pseudo flow)."""
        base = _read_config(self.own_file) if self.own_file else dict(self.generated or {})
        return {**base, **self.overrides}


def override_value(key: str, value: Any) -> str:
    """``value`` as LibreLane parses an override string back (permissive typing).

    Lists end in a comma: LibreLane splits a string at commas (else semicolons, else
    whitespace) and drops one empty last item, so one item with a space stays one item; an
    empty list is the empty string, which LibreLane reads as no items.
    Mappings are Tcl-style ``key value`` pairs, as LibreLane reads them.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal | str):
        return str(value)
    if isinstance(value, list | tuple) and not value:
        return ""  # a lone separator would be one empty item
    if isinstance(value, list | tuple) and all(_scalar(v) for v in value):
        items = [override_value(key, v) for v in value]
        # LibreLane splits at commas whenever the string has one: no other separator helps.
        if not any("," in i for i in items):
            return ",".join(items) + ","
    if isinstance(value, Mapping) and all(_scalar(v) for v in value.values()):
        return shlex.join(t for k, v in value.items() for t in (str(k), override_value(key, v)))
    raise SpilotError(
        f"LibreLane variable {key}: {value!r} cannot be passed to LibreLane as an override "
        "(KEY=VALUE takes a number, string, true/false, a list of those without ',' in its "
        "items, or a flat mapping); set it in the design's config file instead"
    )


def _scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | Decimal | str)


def design_config(
    design_dir: Path,
    *,
    name: str | None = None,
    preset: str | None = None,
    clock_port: str = "clk",
    clock_period_ns: float = 10.0,
    extra: Mapping[str, Any] | None = None,
) -> DesignConfig:
    """The design's configuration: its own file plus overrides, else generated.

    ``design_dir`` is the design folder, or one of its config files under any name (as
    engineers keep ``config-sky130.yaml`` beside ``config-gf180.yaml``).
    """
    named_file = None
    if design_dir.is_file() and design_dir.suffix in CONFIG_SUFFIXES:
        named_file, design_dir = design_dir, design_dir.parent
    if not design_dir.is_dir():
        raise SpilotError(f"design folder {design_dir} does not exist")
    if preset is not None and preset not in PRESETS:
        raise SpilotError(
            f"unknown preset {preset!r}; use one of {', '.join(PRESETS)} "
            "(defined in pytest_spilot/librelane/config.py)"
        )
    overrides: dict[str, Any] = {"DESIGN_NAME": name} if name else {}
    overrides.update(PRESETS.get(preset or "", {}))
    overrides.update(extra or {})
    own = named_file or next(
        (design_dir / n for n in CONFIG_NAMES if (design_dir / n).is_file()), None
    )
    if own is not None:
        if "meta" in overrides:
            raise SpilotError(
                f"{own}: 'meta' cannot be added to the design's own config from outside "
                "(it describes the file: LibreLane reads it from there); set it in the file"
            )
        design = DesignConfig(design_dir.resolve(), own_file=own, overrides=overrides)
        design.override_strings()  # an unrepresentable value is an error before any run
        return design
    sources = sorted(
        p.name for p in design_dir.iterdir() if p.suffix in VERILOG_SUFFIXES and p.is_file()
    )
    if not sources and "VERILOG_FILES" not in overrides:
        raise SpilotError(
            f"design folder {design_dir} has no .v or .sv file and no config; add the "
            "Verilog, or a config.json naming VERILOG_FILES"
        )
    generated: dict[str, Any] = {
        "meta": {"version": 2},
        "DESIGN_NAME": design_dir.name,
        "VERILOG_FILES": [f"dir::{s}" for s in sources],
        "CLOCK_PORT": clock_port,
        "CLOCK_PERIOD": clock_period_ns,
        **overrides,
    }
    return DesignConfig(design_dir.resolve(), generated=generated)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SpilotError(f"{path}: cannot read the design config: {exc}") from None
    if not isinstance(data, dict):
        raise SpilotError(f"{path}: a LibreLane config is a mapping of variables")
    return data
