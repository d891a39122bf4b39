"""The test PDK's cell views agree: Liberty, cell LEF, tech LEF, Verilog models and config.

Structure is read with small parsers here; function and flop mapping are checked by Yosys
itself (through the repository's ``yosys`` stand-in, as LibreLane runs it): each Verilog model
is proven equivalent to its Liberty function, and RTL with every flop flavour maps onto the
library's cells with Yosys' ``dfflibmap``, as LibreLane's synthesis does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flow_kit import PDK, TOOLS, require_real_librelane

REF = PDK / "libs.ref" / "spilot130_fd_sc"
LIB = REF / "lib" / "spilot130_fd_sc__tt_025C_1v80.lib"
LEF = REF / "lef" / "spilot130_fd_sc.lef"
TLEF = REF / "techlef" / "spilot130.tlef"
MODELS = REF / "verilog" / "spilot130_fd_sc.v"
SCL = PDK / "libs.tech" / "librelane" / "spilot130_fd_sc"
SUPPLY_USE = {"VPWR": "POWER", "VPB": "POWER", "VGND": "GROUND", "VNB": "GROUND"}
POWER = set(SUPPLY_USE)

# --- Liberty ----------------------------------------------------------------------------------


@dataclass
class Group:
    kind: str
    args: list[str]
    attrs: dict[str, str] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)

    def all(self, kind: str) -> list[Group]:
        return [g for g in self.groups if g.kind == kind]


TOKEN = re.compile(r'\s+|/\*.*?\*/|\\\n|"(?:[^"\\]|\\.)*"|[(){}:;,]|[^\s(){}:;,"]+', re.S)


def tokens(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text) if t.strip() and not t.startswith(("/*", "\\"))]


def parse_group(toks: list[str], i: int, kind: str, args: list[str]) -> tuple[Group, int]:
    group = Group(kind, args)
    while toks[i] != "}":
        name, i = toks[i], i + 1
        if toks[i] == ":":
            group.attrs[name] = toks[i + 1].strip('"')
            i += 2
        else:
            assert toks[i] == "(", f"Liberty: {name} {toks[i]}"
            j = toks.index(")", i)
            values = [t.strip('"') for t in toks[i + 1 : j] if t != ","]
            i = j + 1
            if toks[i] == "{":
                sub, i = parse_group(toks, i + 1, name, values)
                group.groups.append(sub)
                continue
        if toks[i] == ";":
            i += 1
    return group, i + 1


def liberty() -> dict[str, Group]:
    toks = tokens(LIB.read_text())
    assert toks[:2] == ["library", "("]
    lib, _ = parse_group(toks, toks.index("{") + 1, "library", [toks[2]])
    return {c.args[0]: c for c in lib.all("cell")}


def pins(cell: Group) -> dict[str, Group]:
    return {p.args[0]: p for p in cell.all("pin")}


def direction(cell: Group) -> dict[str, str]:
    return {name: p.attrs["direction"] for name, p in pins(cell).items()}


def functional(cells: dict[str, Group]) -> list[str]:
    return sorted(n for n, c in cells.items() if any(d == "output" for d in direction(c).values()))


# --- LEF --------------------------------------------------------------------------------------


def lef_statements(path: Path) -> list[tuple[list[str], bool]]:
    """A LEF file's lines as words, each with whether it ends in ``;`` (block heads do not)."""
    out = []
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].replace(";", " ; ").split()
        if words:
            ended = words[-1] == ";"
            out.append(([w for w in words if w != ";"], ended))
    return out


@dataclass
class Macro:
    name: str
    attrs: dict[str, list[str]] = field(default_factory=dict)
    pins: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    port_layers: dict[str, set[str]] = field(default_factory=dict)


def macros() -> dict[str, Macro]:
    found: dict[str, Macro] = {}
    macro: Macro | None = None
    pin: str | None = None
    for st, ended in lef_statements(LEF):
        head = st[0]
        if head == "MACRO":
            macro = found.setdefault(st[1], Macro(st[1]))
        elif macro is None:
            continue
        elif head == "PIN" and not ended:
            pin = st[1]
            macro.pins[pin] = {}
            macro.port_layers[pin] = set()
        elif head == "END" and len(st) == 2 and st[1] == pin:
            pin = None
        elif head == "END" and len(st) == 2 and st[1] == macro.name:
            macro = None
        elif pin is not None:
            if head == "LAYER":
                macro.port_layers[pin].add(st[1])
            elif ended and head != "RECT":
                macro.pins[pin][head] = st[1:]
        else:
            macro.attrs[head] = st[1:]
    return found


def tech_sites() -> dict[str, tuple[float, float]]:
    sites: dict[str, tuple[float, float]] = {}
    current = None
    for st, ended in lef_statements(TLEF):
        if st[0] == "SITE" and not ended:
            current = st[1]
        elif st[0] == "SIZE" and current:
            sites[current] = (float(st[1]), float(st[3]))
        elif st[0] == "END" and st[1:] == [current]:
            current = None
    return sites


def tech_layers() -> set[str]:
    return {st[1] for st, ended in lef_statements(TLEF) if st[0] == "LAYER" and not ended}


# --- config.tcl -------------------------------------------------------------------------------


def scl_config() -> dict[str, str]:
    text = (SCL / "config.tcl").read_text()
    return dict(re.findall(r'set ::env\((\w+)\) "([^"]*)"', text))


# --- Yosys ------------------------------------------------------------------------------------


def yosys(commands: str) -> subprocess.CompletedProcess[str]:
    require_real_librelane()
    env = {**os.environ, "SPILOT_PYTHON": sys.executable}
    return subprocess.run(
        [str(TOOLS / "yosys"), "-p", commands],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def verilog_ports(tmp_path: Path, defines: str = "") -> dict[str, dict[str, str]]:
    """Each model's ports and their directions, as Yosys reads the models file."""
    out = tmp_path / "models.json"
    proc = yosys(f"read_verilog -sv {defines} -lib {MODELS}; write_json {out}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    modules: dict[str, Any] = json.loads(out.read_text())["modules"]
    return {
        name: {p: str(v["direction"]) for p, v in m["ports"].items()} for name, m in modules.items()
    }


# --- tests ------------------------------------------------------------------------------------

CELLS = sorted(liberty())


def test_every_view_has_the_same_cells(tmp_path: Path) -> None:
    assert set(macros()) == set(CELLS)
    assert set(verilog_ports(tmp_path)) == set(CELLS)
    assert len(CELLS) >= 17


def test_areas_are_lef_sizes_on_the_core_site() -> None:
    sites = tech_sites()
    assert set(sites) == {"unithd"}
    site_w, site_h = sites["unithd"]
    cells, found = liberty(), macros()
    for name in CELLS:
        m = found[name]
        w, h = float(m.attrs["SIZE"][0]), float(m.attrs["SIZE"][2])
        assert m.attrs["SITE"] == ["unithd"] and m.attrs["CLASS"][0] == "CORE", name
        assert m.attrs["ORIGIN"] == ["0", "0"] and m.attrs["FOREIGN"] == [name], name
        assert h == site_h and round(w / site_w, 6).is_integer(), (name, w, h)
        assert float(cells[name].attrs["area"]) == round(w * h, 3), name


def test_pins_agree_between_liberty_lef_and_verilog(tmp_path: Path) -> None:
    lef_dir = {"INPUT": "input", "OUTPUT": "output", "INOUT": "inout"}
    layers = tech_layers()
    cells, found = liberty(), macros()
    plain, powered = verilog_ports(tmp_path), verilog_ports(tmp_path, "-DUSE_POWER_PINS")
    config = scl_config()
    supplies = set(config["SCL_POWER_PINS"].split()) | set(config["SCL_GROUND_PINS"].split())
    assert supplies == POWER
    for name in CELLS:
        lib = direction(cells[name])
        m = found[name]
        signal = {p: lef_dir[a["DIRECTION"][0]] for p, a in m.pins.items() if p not in POWER}
        assert signal == lib, name
        assert set(m.pins) - set(signal) == POWER, name
        for p, a in m.pins.items():
            assert a["USE"] == [SUPPLY_USE.get(p, "SIGNAL")], (name, p)
            assert m.port_layers[p] and m.port_layers[p] <= layers, (name, p)
        assert plain[name] == lib, name
        assert powered[name] == {**lib, **dict.fromkeys(POWER, "inout")}, name


def test_liberty_timing_and_sequential_groups() -> None:
    cells = liberty()
    for name in functional(cells):
        cell = cells[name]
        assert float(cell.attrs["area"]) > 0, name
        ps = pins(cell)
        inputs = [p for p, g in ps.items() if g.attrs["direction"] == "input"]
        for p in inputs:
            assert float(ps[p].attrs["capacitance"]) > 0, (name, p)
        seq = cell.all("ff") + cell.all("latch")
        for out in (g for g in ps.values() if g.attrs["direction"] == "output"):
            assert out.attrs.get("function"), (name, out.args)
            arcs = {
                (t.attrs["related_pin"], t.attrs.get("timing_type", "combinational"))
                for t in out.all("timing")
            }
            if not inputs:  # a tie cell: constant outputs, no arcs
                assert out.attrs["function"] in ("0", "1") and not arcs, name
                continue
            for t in out.all("timing"):
                assert t.attrs.get("timing_sense"), (name, t.attrs)
                assert t.all("cell_rise") or t.all("cell_fall"), (name, t.attrs)
            if not seq:
                assert arcs == {(p, "combinational") for p in inputs}, name
                continue
            (state,) = seq
            assert out.attrs["function"] == state.args[0], name
            if state.kind == "latch":
                assert state.attrs.keys() == {"enable", "data_in"}, name
                gate = state.attrs["enable"]
                assert arcs == {(state.attrs["data_in"], "combinational"), (gate, "rising_edge")}
                continue
            clock = state.attrs["clocked_on"]
            assert ps[clock].attrs.get("clock") == "true", name
            expected = {(clock, "rising_edge")}
            for kind, arc in (("clear", "clear"), ("preset", "preset")):
                if kind in state.attrs:
                    (pin,) = re.findall(r"\w+", state.attrs[kind])
                    expected.add((pin, arc))
                    checks = {t.attrs["timing_type"] for t in ps[pin].all("timing")}
                    assert checks == {"recovery_rising", "removal_rising"}, (name, pin)
            assert arcs == expected, name
        for state in seq:
            edge = "rising" if state.kind == "ff" else "falling"
            controls = ("clocked_on", "enable", "clear", "preset")
            control = set(re.findall(r"\w+", " ".join(state.attrs.get(k, "") for k in controls)))
            for p in (p for p in inputs if p not in control):  # data: D, and DE of an enable flop
                checks = {t.attrs["timing_type"] for t in ps[p].all("timing")}
                assert checks == {f"setup_{edge}", f"hold_{edge}"}, (name, p)


def test_liberty_has_one_group_brace_per_line() -> None:
    # LibreLane removes excluded cells (no_synth.cells) with a line-based scan that counts at
    # most one '{' and one '}' per line; a denser file would swallow the cells after it.
    for n, line in enumerate(LIB.read_text().splitlines(), 1):
        assert line.count("{") <= 1 and line.count("}") <= 1, f"{LIB.name}:{n}: {line}"


def test_config_names_cells_the_library_has() -> None:
    cells, config = liberty(), scl_config()
    for key in ("SYNTH_DRIVING_CELL", "SYNTH_TIEHI_CELL", "SYNTH_TIELO_CELL", "SYNTH_BUFFER_CELL"):
        cell, *ports = config[key].split("/")
        assert cell in cells and set(ports) <= set(pins(cells[cell])), key
    for key in ("FILL_CELLS", "DECAP_CELLS", "CTS_ROOT_BUFFER", "CTS_CLK_BUFFERS"):
        assert set(config[key].split()) <= set(cells), key
    excluded = (SCL / "no_synth.cells").read_text().split()
    assert set(excluded) == set(config["FILL_CELLS"].split() + config["DECAP_CELLS"].split())
    assert set(excluded).isdisjoint(functional(cells))  # only cells without logic are excluded
    routing = {line.split()[0] for line in (SCL / "tracks.info").read_text().splitlines()}
    assert routing <= tech_layers()


@pytest.mark.parametrize("cell", functional(liberty()))
def test_model_is_equivalent_to_the_liberty_function(cell: str) -> None:
    proc = yosys(
        f"read_verilog -sv {MODELS}; hierarchy -top {cell}; proc; rename {cell} gold; "
        f"read_liberty -ignore_miss_func {LIB}; rename {cell} gate; async2sync; "
        "miter -equiv -flatten -make_assert gold gate miter; "
        "hierarchy -top miter; sat -verify -prove-asserts -tempinduct -set-init-zero miter"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "Induction step proven: SUCCESS!" in proc.stdout


FLOPS_RTL = """
module flops (input clk, rst_n, set_n, en, g, s, a, b, c, output reg q0, q1, q2, q3, q4,
              output y);
    always @(posedge clk) q0 <= a;
    always @(posedge clk or negedge rst_n) if (!rst_n) q1 <= 1'b0; else q1 <= b;
    always @(posedge clk or negedge set_n) if (!set_n) q2 <= 1'b1; else q2 <= c;
    always @(posedge clk) if (en) q3 <= a ^ b;
    always @* if (g) q4 = c;
    assign y = s ? a : b;
endmodule
"""


def test_every_flop_flavour_maps_onto_a_cell(tmp_path: Path) -> None:
    rtl = tmp_path / "flops.v"
    rtl.write_text(FLOPS_RTL)
    stat = tmp_path / "stat.json"
    # The order of LibreLane's synthesis script: generic synthesis, dfflibmap, then ABC.
    proc = yosys(
        f"read_verilog {rtl}; synth -top flops; dfflibmap -liberty {LIB}; "
        f"abc -liberty {LIB}; opt_clean; tee -q -o {stat} stat -json -liberty {LIB}"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    got = json.loads(stat.read_text())["design"]["num_cells_by_type"]
    prefix = "spilot130_fd_sc__"
    assert all(name.startswith(prefix) for name in got), got  # nothing left unmapped
    sequential = {k: v for k, v in got.items() if k[len(prefix) :].startswith(("df", "edf", "dl"))}
    assert sequential == {
        f"{prefix}dfxtp_1": 1,
        f"{prefix}dfrtp_1": 1,
        f"{prefix}dfstp_1": 1,
        f"{prefix}edfxtp_1": 1,
        f"{prefix}dlxtp_1": 1,
    }


def test_klayout_reads_the_lef(tmp_path: Path) -> None:
    db = pytest.importorskip("klayout.db")  # LibreLane's own dependency
    options = db.LoadLayoutOptions()
    options.lefdef_config.lef_files = [str(TLEF)]
    layout = db.Layout()
    layout.read(str(LEF), options)
    assert sorted(c.name for c in layout.each_cell()) == CELLS
