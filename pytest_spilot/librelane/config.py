"""A design's LibreLane configuration: found or generated, with a preset and a PDK.

A design folder holds Verilog and optionally a LibreLane config (``config.json``,
``config.yaml``). Without one the configuration is generated here: ``DESIGN_NAME`` (the
folder's name unless given), ``VERILOG_FILES`` (every ``.v``/``.sv`` in the folder unless
given), the clock, ``meta.version: 2`` (always explicit: readings of LibreLane disagree on the
default), plus a preset's variables and the caller's extra keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_spilot.errors import SpilotError

CONFIG_NAMES = ("config.json", "config.yaml", "config.yml")
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


def design_config(
    design_dir: Path,
    *,
    name: str | None = None,
    preset: str | None = None,
    clock_port: str = "clk",
    clock_period_ns: float = 10.0,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The design's configuration as a dict (the folder's own file, else generated)."""
    if not design_dir.is_dir():
        raise SpilotError(f"design folder {design_dir} does not exist")
    if preset is not None and preset not in PRESETS:
        raise SpilotError(
            f"unknown preset {preset!r}; use one of {', '.join(PRESETS)} "
            "(defined in pytest_spilot/librelane/config.py)"
        )
    own = next((design_dir / n for n in CONFIG_NAMES if (design_dir / n).is_file()), None)
    if own is not None:
        config = _read_config(own)
    else:
        sources = sorted(
            p.name for p in design_dir.iterdir() if p.suffix in VERILOG_SUFFIXES and p.is_file()
        )
        if not sources and not (extra and "VERILOG_FILES" in extra):
            raise SpilotError(
                f"design folder {design_dir} has no .v or .sv file and no config; add the "
                "Verilog, or a config.json naming VERILOG_FILES"
            )
        config = {
            "meta": {"version": 2},
            "DESIGN_NAME": name or design_dir.name,
            "VERILOG_FILES": [f"dir::{s}" for s in sources],
            "CLOCK_PORT": clock_port,
            "CLOCK_PERIOD": clock_period_ns,
        }
    if name:
        config["DESIGN_NAME"] = name
    config.setdefault("meta", {}).setdefault("version", 2)
    config.update(PRESETS.get(preset or "", {}))
    config.update(extra or {})
    return config


def write_config(config: Mapping[str, Any], design_dir: Path, run_root: Path) -> Path:
    """Write the configuration LibreLane will read; ``dir::`` keeps resolving in the design."""
    run_root.mkdir(parents=True, exist_ok=True)
    path = run_root / "spilot-config.json"
    resolved = json.loads(
        json.dumps(config).replace('"dir::', f'"{design_dir.resolve().as_posix()}/')
    )
    path.write_text(json.dumps(resolved, indent=2) + "\n", encoding="utf-8")
    return path


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SpilotError(f"{path}: cannot read the design config: {exc}") from None
    if not isinstance(data, dict):
        raise SpilotError(f"{path}: a LibreLane config is a mapping of variables")
    return data
