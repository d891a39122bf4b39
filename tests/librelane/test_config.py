"""Design configs: the folder's own file untouched plus overrides, or generated; PDK lookup."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import ClassVar

import pytest
from flow_kit import DESIGNS

from pytest_spilot.errors import SpilotError
from pytest_spilot.launchers.base import Job
from pytest_spilot.launchers.template import TemplateLauncher
from pytest_spilot.librelane.backends.pseudo import PseudoFlowBackend
from pytest_spilot.librelane.config import (
    GENERATED_NAME,
    PRESETS,
    design_config,
    override_value,
    resolve_pdk,
)
from pytest_spilot.librelane.service import LibreLaneFlows
from pytest_spilot.siteconfig import LibreLaneConfig


def test_generated_config(tmp_path: Path) -> None:
    design = tmp_path / "counter"
    design.mkdir()
    (design / "counter.v").write_text("module counter; endmodule\n")
    (design / "util.sv").write_text("")
    (design / "notes.txt").write_text("")
    config = design_config(design, preset="minimal", clock_period_ns=25, extra={"FOO": 1})
    assert config.own_file is None and config.override_strings() == []
    path = config.config_file(tmp_path / "run")
    assert path == tmp_path / "run" / GENERATED_NAME
    written = json.loads(path.read_text())
    assert written["meta"] == {"version": 2}
    assert written["DESIGN_NAME"] == "counter" == config.name
    # dir:: stays: LibreLane resolves it in the design folder it is given.
    assert written["VERILOG_FILES"] == ["dir::counter.v", "dir::util.sv"]
    assert written["CLOCK_PERIOD"] == 25 and written["FOO"] == 1
    assert all(written[k] == v for k, v in PRESETS["minimal"].items())


def test_the_folders_own_config_is_read_by_librelane_untouched(tmp_path: Path) -> None:
    text = "DESIGN_NAME: top\nVERILOG_FILES: dir::src/*.v\npdk::spilot*:\n  CLOCK_PERIOD: 5\n"
    (tmp_path / "config.yaml").write_text(text)
    config = design_config(tmp_path, preset="high_quality", name="top2", extra={"X": [1, 2]})
    assert config.config_file(tmp_path / "run") == (tmp_path / "config.yaml").resolve()
    assert (tmp_path / "config.yaml").read_text() == text
    assert not (tmp_path / "run").exists()
    assert config.override_strings() == [
        "DESIGN_NAME=top2",
        f"SYNTH_STRATEGY={PRESETS['high_quality']['SYNTH_STRATEGY']}",
        "SYNTH_ABC_BUFFERING=true",
        "X=1,2,",
    ]
    assert config.name == "top2"
    assert design_config(tmp_path).name == "top"
    assert config.view()["VERILOG_FILES"] == "dir::src/*.v"


def test_a_config_file_named_by_its_path(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"DESIGN_NAME": "default"}')
    (tmp_path / "config-gf180.yaml").write_text("DESIGN_NAME: gf\n")
    config = design_config(tmp_path / "config-gf180.yaml", preset="minimal")
    assert config.own_file == tmp_path / "config-gf180.yaml" and config.name == "gf"
    assert config.design_dir == tmp_path.resolve()


def test_override_values_as_librelane_parses_them() -> None:
    assert override_value("K", True) == "true" and override_value("K", 2.5) == "2.5"
    assert override_value("K", "AREA 0") == "AREA 0"
    # A trailing separator: LibreLane splits at it and drops the empty last item.
    assert override_value("K", ["a b"]) == "a b,"
    assert override_value("K", []) == "" and override_value("K", ["A=1;2", "B"]) == "A=1;2,B,"
    assert shlex.split(override_value("K", {"x": "a b", "y": 1})) == ["x", "a b", "y", "1"]
    for bad in (None, [[1]], ["a,b"], {"x": {"y": 1}}):
        with pytest.raises(SpilotError, match=r"K: .* cannot be passed to LibreLane"):
            override_value("K", bad)


def test_list_overrides_read_back_by_librelanes_own_variables() -> None:
    variable = pytest.importorskip("librelane.config.variable")
    generic = pytest.importorskip("librelane.common")
    for items in ([], ["a"], ["a b", "c"], ["A=1;2", "B"]):
        declared = variable.Variable("FOO", list[str] | None, "test")
        text = override_value("FOO", items)
        _, parsed = declared.compile(generic.GenericDict({"FOO": text}), [], permissive_typing=True)
        assert parsed == items, text


def test_a_batch_template_gets_the_validations_cpus(tmp_path: Path) -> None:
    class Recording(TemplateLauncher):
        lines: ClassVar[list[list[str]]] = []

        def command_line(self, job: Job) -> list[str]:
            line = super().command_line(job)
            self.lines.append(line)
            return line

    grid = Recording(name="grid", template=["env", "GRANTED={cpus}", "{command}"])
    flows = LibreLaneFlows(
        LibreLaneConfig(backend="pseudo", launcher="grid"),
        {"pseudo": PseudoFlowBackend()},
        {"grid": grid},
        tmp_path / "flows",
    )
    result = flows.run(DESIGNS / "counter", timeout=120, env={"SPILOT_CPUS": "3"})
    assert result.passed, result.message
    assert Recording.lines and Recording.lines[0][:2] == ["env", "GRANTED=3"]


def test_meta_cannot_be_added_to_an_own_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"DESIGN_NAME": "top"}')
    with pytest.raises(SpilotError, match=r"config\.json: 'meta' cannot be added"):
        design_config(tmp_path, extra={"meta": {"version": 2}})


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
