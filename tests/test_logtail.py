"""tail_lines: the end of a log, read from its end."""

from __future__ import annotations

from pathlib import Path

from pytest_spilot.logtail import tail_lines


def test_last_lines_of_a_short_file(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("one\ntwo\nthree\n")
    assert tail_lines(log, 2) == ["two", "three"]
    assert tail_lines(log, 10) == ["one", "two", "three"]
    assert tail_lines(log, 0) == []


def test_missing_or_empty_file_has_no_tail(tmp_path: Path) -> None:
    assert tail_lines(tmp_path / "absent.log", 5) == []
    (tmp_path / "empty.log").write_text("")
    assert tail_lines(tmp_path / "empty.log", 5) == []


def test_lines_across_read_blocks_are_whole(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    lines = [f"line {i:06d} " + "x" * 90 for i in range(5000)]  # ~500 KiB, many 64 KiB blocks
    log.write_text("\n".join(lines) + "\n")
    assert tail_lines(log, 700, max_bytes=10**7) == lines[-700:]


def test_reads_at_most_max_bytes_of_a_huge_log(tmp_path: Path) -> None:
    log = tmp_path / "innovus.log"
    with log.open("wb") as fh:
        fh.truncate(2 * 1024**3)  # a sparse 2 GB log: reading it whole would take seconds
        fh.seek(0, 2)
        fh.write(b"\nlast but one\nlast\n")
    assert tail_lines(log, 2) == ["last but one", "last"]
    shown = tail_lines(log, 10**6, max_bytes=4096)
    assert shown[-2:] == ["last but one", "last"]
    assert sum(len(line) + 1 for line in shown) <= 4096


def test_strip_skips_blank_ends_like_str_strip(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("  first\nsecond\nthird\n\n\n   \n")
    assert tail_lines(log, 2, strip=True) == ["second", "third"]
    assert tail_lines(log, 5, strip=True) == ["first", "second", "third"]
    assert tail_lines(log, 2) == ["", "   "]


def test_undecodable_bytes_are_replaced(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"ok\nbad \xff\xfe byte\n")
    assert tail_lines(log, 1) == ["bad \ufffd\ufffd byte"]


def test_strip_keeps_indentation_of_a_line_inside_the_file(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("x" * 100 + "\n   indented\n\n")
    assert tail_lines(log, 5, strip=True, max_bytes=13) == ["   indented"]
