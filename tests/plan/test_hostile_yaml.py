"""Hostile YAML: alias bombs, recursion, foreign tags, deep nests, escapes from the run
directory and wrong bytes are refused with one exact error, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_spilot.errors import PlanError, PlanErrors
from pytest_spilot.plan.loader import load_validation_file


def alias_bomb(levels: int) -> str:
    """403 bytes at 6 levels; 9 ** levels strings once expanded."""
    text = 'version: 1\na: &a ["x","x","x","x","x","x","x","x","x"]\n'
    previous = "a"
    for name in "bcdefghijk"[: levels - 1]:
        text += f"{name}: &{name} [{','.join(['*' + previous] * 9)}]\n"
        previous = name
    return text + f"validations:\n  - name: v\n    run: [echo]\n    env: {{X: *{previous}}}\n"


V = "version: 1\nvalidations:\n  - name: v\n"
# name -> (file text, the error after "<path>:")
EXACT = {
    "alias_bomb": (
        alias_bomb(6),
        "6: e: aliases expand to more than 10000 repeated values (an alias bomb?); "
        "use fewer nested aliases",
    ),
    "alias_bomb_9": (
        alias_bomb(9),
        "6: e: aliases expand to more than 10000 repeated values (an alias bomb?); "
        "use fewer nested aliases",
    ),
    "recursive_alias": (
        V + "    run: [echo]\n    env: &e {A: *e}\n",
        "5: validations[0].env.A: an alias refers to the mapping or list that contains it "
        "(a recursive alias); point the alias at a separate anchor",
    ),
    "deep_nest": (
        "version: 1\nvalidations: " + "[" * 5000 + "]" * 5000 + "\n",
        "2: validations: nested more than 64 levels deep; flatten the structure",
    ),
    "python_tag_on_sequence": (
        V + '    run: !!python/object/apply:subprocess.call [sh, -c, "touch X"]\n',
        "4: validations[0].run: tag '!!python/object/apply:subprocess.call' is not allowed; "
        "validation files use plain YAML values only: remove the tag",
    ),
    "python_tag_on_mapping": (
        V + "    run: [echo]\n    env: !!python/object:os.system {A: b}\n",
        "5: validations[0].env: tag '!!python/object:os.system' is not allowed; "
        "validation files use plain YAML values only: remove the tag",
    ),
    "local_tag": (
        V + "    run: !custom echo\n",
        "4: validations[0].run: tag '!custom' is not allowed; "
        "validation files use plain YAML values only: remove the tag",
    ),
    "tagged_key": (
        V + "    run: [echo]\n    env: {!!binary YQ==: b}\n",
        "5: validations[0].env: mapping keys must be plain words (no tags, lists or mappings)",
    ),
    "run_is_a_number": (
        V + "    run: 42\n",
        "4: validations[0].run: expected a list or a string (got 42)",
    ),
    "json_escapes_run_dir": (
        V + "    run: [echo]\n    metrics: {m: {json: ../../../../etc/passwd, path: a}}\n",
        "5: validations[0].metrics.m.json: '../../../../etc/passwd' leaves the run directory "
        "('..'); name a file inside it, or give an absolute path to read a file elsewhere on "
        "purpose",
    ),
    "regex_file_escapes_run_dir": (
        V + "    run: [echo]\n    metrics: {m: {regex: 'x', file: out/../../secret}}\n",
        "5: validations[0].metrics.m.file: 'out/../../secret' leaves the run directory "
        "('..'); name a file inside it, or give an absolute path to read a file elsewhere on "
        "purpose",
    ),
}


@pytest.mark.parametrize("case", sorted(EXACT))
def test_hostile_yaml_gets_its_exact_error(tmp_path: Path, case: str) -> None:
    text, expected = EXACT[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises((PlanError, PlanErrors)) as info:
        load_validation_file(path)
    assert str(info.value) == f"{path}:{expected}"


def test_bytes_that_are_not_utf8_are_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\nvalidations:\n  - name: caf\xe9\n")
    with pytest.raises(PlanError) as info:
        load_validation_file(path)
    assert str(info.value) == (
        f"{path}:3: byte b'\\xe9' is not UTF-8 text; save the file as UTF-8 (it was probably "
        "written in Latin-1 or another legacy encoding)"
    )


def test_anchors_and_merge_keys_in_ordinary_use_still_load(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "version: 1\nvalidations:\n"
        "  - &base {name: a, run: [echo], env: &env {A: '1'}, timeout_s: 5}\n"
        "  - {<<: *base, name: b, env: *env}\n"
        "  - name: c\n    run: [echo]\n    env: *env\n"
        "    metrics: {m: {json: /abs/golden.json, path: x}, n: {regex: 'x', file: out/r.txt}}\n"
    )
    plan = load_validation_file(path)
    assert [v.name for v in plan.validations] == ["a", "b", "c"]
    assert [v.env for v in plan.validations] == [{"A": "1"}] * 3


def test_a_hostile_file_under_pytest_runs_nothing(pytester: pytest.Pytester) -> None:
    """The tag that used to be dropped ran ``sh -c "touch X"``: now collection stops first."""
    pytester.makefile(
        ".yaml",
        **{
            "validations/evil": V
            + '    run: !!python/object/apply:subprocess.call [sh, -c, "touch X"]\n'
        },
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    assert "evil.yaml:4: validations[0].run: tag '!!python/object" in result.stdout.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "X").exists()
