"""The CLI runner's pieces: LibreLane's command line, and its printed errors read back."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_spilot.librelane.cli_flow import cli_argv, error_messages, judge, run
from pytest_spilot.librelane.flow_child import read_result

# LibreLane's console at 80 columns, as printed when a config is rejected.
REJECTED = """\
[12:18:13] WARNING  The following warnings have been generated:  __main__.py:157
[12:18:13] WARNING  An unknown key 'FOO_BAR' was provided.       __main__.py:159
[12:18:13] ERROR    Errors have occurred while loading the       __main__.py:160
                    design configuration file.
[12:18:13] ERROR    Value provided for variable 'CLOCK_PERIOD'   __main__.py:162
                    of type Decimal is invalid: 'abc'
[12:18:13] ERROR    LibreLane will now quit. Please check your   __main__.py:164
                    configuration.
""".splitlines(keepends=True)

STEP_FAILED = """\
[12:20:53] INFO     Running 'Checker.LintErrors' at 'x/03-checker-linterrors'… step.py:1
[12:20:53] ERROR    1 Lint errors found.                              checker.py:127
Classic - Stage 3 - Lint Errors Checker ━                      2/80 0:00:00
[12:20:53] ERROR    The following error was encountered while running __main__.py:189
                    the flow:
                    1 Lint errors found.
[12:20:53] ERROR    LibreLane will now quit.                          __main__.py:190
""".splitlines(keepends=True)


def test_errors_are_read_back_across_wrapped_lines() -> None:
    assert error_messages(REJECTED) == [
        "Errors have occurred while loading the design configuration file.",
        "Value provided for variable 'CLOCK_PERIOD' of type Decimal is invalid: 'abc'",
    ]
    status, message, error = judge(1, REJECTED, "/d/config.yaml")
    assert (status, error) == ("error", "InvalidConfig")
    assert message == (
        "/d/config.yaml: LibreLane rejects this configuration: Value provided for variable "
        "'CLOCK_PERIOD' of type Decimal is invalid: 'abc'"
    )


def test_a_failed_step_is_its_flow_error_once() -> None:
    # The step logs its error, then the flow repeats it as why it stopped: said once.
    assert judge(2, STEP_FAILED, "c.json") == ("failed", "1 Lint errors found.", "FlowError")
    assert judge(0, STEP_FAILED, "c.json") == ("passed", "", "")
    assert judge(3, ["no log level here\n"], "c.json") == ("error", "no log level here", "")


def test_the_command_line(tmp_path: Path) -> None:
    argv = cli_argv(
        ["librelane"],
        tmp_path / "config.yaml",
        run_dir=tmp_path / "flow",
        design_dir=tmp_path,
        pdk_root=Path("/pdks"),
        pdk="sky130A",
        scl="sky130_fd_sc_hd",
        flow="Classic",
        frm="Yosys.Synthesis",
        to="OpenROAD.Floorplan",
        skip=["Yosys.EQY"],
        overrides=["SYNTH_STRATEGY=AREA 0"],
    )
    assert argv == [
        "librelane",
        "--manual-pdk",
        "--pdk-root",
        "/pdks",
        "--pdk",
        "sky130A",
        "--scl",
        "sky130_fd_sc_hd",
        "--flow",
        "Classic",
        "--design-dir",
        str(tmp_path),
        "--force-run-dir",
        str(tmp_path / "flow"),
        "--from",
        "Yosys.Synthesis",
        "--to",
        "OpenROAD.Floorplan",
        "--skip",
        "Yosys.EQY",
        "-c",
        "SYNTH_STRATEGY=AREA 0",
        str(tmp_path / "config.yaml"),
    ]


def test_a_missing_command_is_an_error_result(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"DESIGN_NAME": "x"}))
    spec = {
        "run_dir": str(tmp_path / "flow"),
        "argv": [str(tmp_path / "no-librelane"), str(config)],
        "config": str(config),
        "flow": None,
    }
    assert run(spec) == 127
    result = read_result(tmp_path)
    assert result["status"] == "error" and "cannot start" in result["message"]
