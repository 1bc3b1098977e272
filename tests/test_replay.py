"""The server's cell replay: the same notebook the front end builds from the same events
(mirrors the ValidatedCells tests in src/__tests__/notebook.spec.ts)."""

from __future__ import annotations

from typing import Any

from cookbook_ext.replay import replay_cells


def cell(cell_id: str, source: str) -> dict[str, Any]:
    return {"cell_type": "code", "id": cell_id, "source": source, "metadata": {}, "outputs": []}


def validated(cell_id: str, index: Any, source: str) -> dict[str, Any]:
    return {
        "type": "cell_validated",
        "data": {"cell_id": cell_id, "index": index, "cell": cell(cell_id, source)},
    }


def invalidated(cell_id: str) -> dict[str, Any]:
    return {"type": "cell_invalidated", "data": {"cell_id": cell_id}}


def sources(cells: list[dict[str, Any]]) -> list[str]:
    return [c["source"] for c in cells]


def test_it_mirrors_the_server_order_from_validation_indexes() -> None:
    events = [
        validated("c1", 0, "a"),
        validated("c2", 1, "b"),
        validated("c3", 2, "c"),
        invalidated("c2"),
        validated("c2", 1, "b2"),
    ]
    assert sources(replay_cells(events)) == ["a", "b2", "c"]


def test_an_invalidated_cell_is_left_out() -> None:
    events = [
        validated("c1", 0, "# Cookbook"),
        validated("c2", 1, "## Step"),
        validated("c3", 2, "print(3)"),
        invalidated("c2"),
    ]
    assert sources(replay_cells(events)) == ["# Cookbook", "print(3)"]


def test_a_cell_validated_again_replaces_its_earlier_version() -> None:
    events = [validated("c1", 0, "a"), validated("c2", 1, "b"), validated("c1", 1, "a2")]
    assert sources(replay_cells(events)) == ["b", "a2"]


def test_a_cell_inserted_before_others_goes_at_its_index() -> None:
    events = [validated("c1", 0, "code"), validated("h1", 0, "## Heading")]
    assert sources(replay_cells(events)) == ["## Heading", "code"]


def test_an_index_past_the_end_or_missing_appends() -> None:
    events = [validated("c1", 5, "a"), validated("c2", None, "b"), validated("c3", "x", "c")]
    assert sources(replay_cells(events)) == ["a", "b", "c"]


def test_a_negative_index_goes_first() -> None:
    events = [validated("c1", 0, "a"), validated("c2", -3, "b")]
    assert sources(replay_cells(events)) == ["b", "a"]


def test_invalidating_an_unknown_cell_changes_nothing() -> None:
    events = [validated("c1", 0, "a"), invalidated("nope")]
    assert sources(replay_cells(events)) == ["a"]


def test_other_events_and_events_without_a_cell_are_ignored() -> None:
    events = [
        {"type": "status", "data": {"message": "hi"}},
        validated("c1", 0, "a"),
        {"type": "cell_validated", "data": {"index": 0, "cell": cell("x", "no id")}},
        {"type": "cell_validated", "data": {"cell_id": "c2", "index": 0}},
        {"type": "finished", "data": {"cells": []}},
    ]
    assert sources(replay_cells(events)) == ["a"]


def test_no_events_is_an_empty_notebook() -> None:
    assert replay_cells([]) == []
