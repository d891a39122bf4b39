"""Designs nobody here wrote for the harness, through ``kind: librelane`` on the real backend.

LibreLane's own ``spm`` example, copied out of the installed package untouched, and
``uart_tx`` (an FSM with asynchronous reset and set, enable flops and a mux) synthesize on the
test PDK; the flop counts prove that asynchronous-reset, -set and enable flops were mapped
onto their cells rather than emulated or left unmapped.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pytest
from flow_kit import DESIGNS, PDK, TOOLS, require_real_librelane
from junit_kit import outcomes, properties

CELL = "spilot130_fd_sc__"


def spm_source() -> Path:
    import librelane

    return Path(librelane.__file__).parent / "examples" / "spm"


def same_tree(a: Path, b: Path) -> list[str]:
    """Files that differ or exist on one side only (empty when the trees are identical)."""
    cmp = filecmp.dircmp(a, b)
    found = [*cmp.left_only, *cmp.right_only, *cmp.funny_files]
    found += [f for f in cmp.common_files if not filecmp.cmp(a / f, b / f, shallow=False)]
    for sub in cmp.common_dirs:
        found += [f"{sub}/{f}" for f in same_tree(a / sub, b / sub)]
    return found


def plan(name: str, design: Path) -> str:
    return f"""
version: 1
markers: [librelane]
defaults:
  timeout_s: 300
validations:
  - name: {name}
    kind: librelane
    design: {design}
    pdk: {PDK}
    acceptance:
      - {{metric: design__lint_error__count, op: "==", value: 0}}
      - {{metric: design__instance_unmapped__count, op: "==", value: 0}}
      - {{metric: synthesis__check_error__count, op: "==", value: 0}}
      - {{metric: design__instance__count, op: ">", value: 0}}
"""


def run_real(pytester: pytest.Pytester, name: str, design: Path) -> dict[str, str]:
    """Runs one validation on the real backend; the run's junit properties, all checks passed."""
    pytester.makefile(".yaml", **{"validations/designs": plan(name, design)})
    pytester.makepyprojecttoml(f'[tool.spilot.librelane]\npath_prepend = ["{TOOLS}"]\n')
    junit = pytester.path / "out.xml"
    result = pytester.runpytest_subprocess(
        "--spilot-backend=real", "-o", "junit_family=xunit1", f"--junitxml={junit}"
    )
    assert junit.is_file(), result.stdout.str()
    got = outcomes(junit)
    assert got and set(got.values()) == {"passed"}, (got, result.stdout.str())
    assert f"{name}::run" in got
    return properties(junit, f"{name}::run")


def synthesized_cells(props: dict[str, str]) -> dict[str, int]:
    """Cell counts from the synthesis step's own statistics, not from the harness."""
    stats = sorted(Path(props["run_dir"]).rglob("*yosys-synthesis/reports/stat.json"))
    assert len(stats) == 1, stats
    cells = json.loads(stats[0].read_text())["design"]["num_cells_by_type"]
    return {str(k): int(v) for k, v in cells.items()}


def test_librelanes_spm_example_synthesizes_unchanged(pytester: pytest.Pytester) -> None:
    require_real_librelane()
    source = spm_source()
    assert (source / "config.yaml").is_file(), f"no spm example in {source}"
    design = pytester.path / "spm"
    shutil.copytree(source, design)
    assert same_tree(source, design) == []

    props = run_real(pytester, "spm", design)

    assert float(props["metric.design__instance__count"]) > 64
    assert float(props["metric.design__instance__area"]) > 0
    assert float(props["metric.design__lint_error__count"]) == 0
    assert float(props["metric.design__instance_unmapped__count"]) == 0
    cells = synthesized_cells(props)
    # spm's 64 flops all reset asynchronously (active low): each is one dfrtp_1.
    assert cells.get(f"{CELL}dfrtp_1") == 64, cells
    assert all(name.startswith(CELL) for name in cells), cells
    assert same_tree(source, design) == []  # the run wrote nothing into the design folder


def test_an_fsm_with_async_reset_set_and_enable_synthesizes(pytester: pytest.Pytester) -> None:
    require_real_librelane()
    props = run_real(pytester, "uart_tx", DESIGNS / "uart_tx")

    assert float(props["metric.design__instance__count"]) > 16
    assert float(props["metric.design__instance__area"]) > 0
    cells = synthesized_cells(props)
    flops = {k: v for k, v in cells.items() if "__df" in k or "__edf" in k}
    # state (2), baud (2), bit_index (3) reset asynchronously; tx is set asynchronously (the
    # idle line level); data_q has no reset and loads on an enable.
    assert flops == {f"{CELL}dfrtp_1": 7, f"{CELL}dfstp_1": 1, f"{CELL}edfxtp_1": 8}, cells
    assert not any(p.name == "runs" for p in (DESIGNS / "uart_tx").iterdir())
