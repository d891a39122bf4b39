"""Design configs: generated or the folder's own, presets, PDK lookup, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_spilot.errors import SpilotError
from pytest_spilot.librelane.config import PRESETS, design_config, resolve_pdk, write_config


def test_generated_config(tmp_path: Path) -> None:
    design = tmp_path / "counter"
    design.mkdir()
    (design / "counter.v").write_text("module counter; endmodule\n")
    (design / "util.sv").write_text("")
    (design / "notes.txt").write_text("")
    config = design_config(design, preset="minimal", clock_period_ns=25, extra={"FOO": 1})
    assert config["meta"] == {"version": 2}
    assert config["DESIGN_NAME"] == "counter"
    assert config["VERILOG_FILES"] == ["dir::counter.v", "dir::util.sv"]
    assert config["CLOCK_PERIOD"] == 25 and config["FOO"] == 1
    assert all(config[k] == v for k, v in PRESETS["minimal"].items())
    written = json.loads(write_config(config, design, tmp_path / "run").read_text())
    assert written["VERILOG_FILES"] == [
        f"{design.resolve()}/counter.v",
        f"{design.resolve()}/util.sv",
    ]


def test_the_folders_own_config_wins(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("DESIGN_NAME: top\nVERILOG_FILES: [dir::a.v]\n")
    config = design_config(tmp_path, preset="high_quality")
    assert config["DESIGN_NAME"] == "top" and config["meta"]["version"] == 2
    assert config["SYNTH_STRATEGY"] == PRESETS["high_quality"]["SYNTH_STRATEGY"]


def test_empty_folder_and_unknown_preset(tmp_path: Path) -> None:
    with pytest.raises(SpilotError, match=r"no \.v or \.sv file"):
        design_config(tmp_path)
    (tmp_path / "a.v").write_text("")
    with pytest.raises(SpilotError, match=r"unknown preset 'fast'.*minimal, balanced"):
        design_config(tmp_path, preset="fast")


def test_pdk_by_name_and_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sky130A" / "libs.tech" / "librelane").mkdir(parents=True)
    monkeypatch.setenv("PDK_ROOT", str(tmp_path))
    assert resolve_pdk("sky130A") == resolve_pdk(str(tmp_path / "sky130A"))
    assert resolve_pdk("sky130A").root == tmp_path.resolve()
    with pytest.raises(SpilotError, match=r"PDK 'gf180mcuC' not found: looked for .*gf180mcuC"):
        resolve_pdk("gf180mcuC")
