"""``defaults`` beneath an entry: one merge for release plans and node inventories."""

from __future__ import annotations

from pytest_spilot.plan.defaults import beneath


def test_the_entry_wins_mappings_merge_and_named_lists_join() -> None:
    defaults = {"timeout_s": 60, "env": {"A": "1", "B": "2"}, "tags": ["x", "y"], "flags": ["-q"]}
    entry = {"timeout_s": 5, "env": {"B": "3"}, "tags": ["y", "z"], "flags": ["-v"]}
    assert beneath(entry, defaults, joined=("tags",)) == {
        "timeout_s": 5,
        "env": {"A": "1", "B": "3"},
        "tags": ["x", "y", "z"],  # the defaults' first, each item once
        "flags": ["-v"],  # not named in joined: replaced
    }


def test_what_the_entry_leaves_out_is_filled_in_and_the_inputs_stay() -> None:
    defaults = {"env": {"A": "1"}, "tags": ["x"]}
    entry = {"name": "n"}
    merged = beneath(entry, defaults, joined=("tags",))
    assert merged == {"name": "n", "env": {"A": "1"}, "tags": ["x"]}
    assert entry == {"name": "n"} and defaults == {"env": {"A": "1"}, "tags": ["x"]}


def test_values_of_different_shapes_are_the_entrys() -> None:
    """A wrong shape is left for the model to report, on the entry's own value."""
    merged = beneath({"env": ["A=1"], "tags": "x"}, {"env": {"A": "1"}, "tags": ["y"]}, ("tags",))
    assert merged == {"env": ["A=1"], "tags": "x"}
