"""A follow-up's fresh-kernel check re-runs the notebook above it first, with the follow-up's new
versions in place of the cells they replace, and names the follow-up's own cells in its result."""

from __future__ import annotations

import asyncio

from cookbook_ext.agent.follow_up import FollowUp, NotebookCellView
from cookbook_ext.lineage import ThreadCheck
from cookbook_ext.verify import Verification


def _own(cell_id: str, source: str, replaces: str | None = None) -> dict:
    meta = {"cell_id": cell_id, **({"replaces": replaces} if replaces else {})}
    return {
        "id": f"x-{cell_id}",
        "cell_type": "code",
        "metadata": {"cookbook": meta},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


class FailsAt:
    """A check that records what it was given and fails at one position."""

    def __init__(self, index: int | None) -> None:
        self.index = index
        self.seen: list[dict] = []

    async def __call__(self, cells, *, cancel, timeout):
        self.seen = cells
        if self.index is None:
            return Verification(status="passed")
        cell_id = (cells[self.index].get("metadata") or {}).get("cookbook", {}).get("cell_id")
        return Verification(status="failed", failed_cell=self.index, cell_id=cell_id)


FOLLOW_UP = FollowUp(
    parent_id="p" * 32,
    cells=[
        NotebookCellView(id="head", cell_type="markdown", source="# Title"),
        NotebookCellView(id="load", cell_type="code", source="values = [1, 2]", edited=True),
        NotebookCellView(id="raw", cell_type="raw", source="raw text"),
        NotebookCellView(id="users own", cell_type="code", source="extra = 1"),
    ],
)
OWN = [_own("c1", "values = [5]", replaces="load"), _own("c2", "print(values)")]


def _run(check, cells):
    return asyncio.run(check(cells, cancel=asyncio.Event(), timeout=10))


def test_the_notebook_above_runs_first_with_the_new_versions_in_place():
    inner = FailsAt(None)
    assert _run(ThreadCheck(inner, FOLLOW_UP), OWN).status == "passed"
    assert [c["source"] for c in inner.seen] == ["# Title", "values = [5]", "extra = 1", "print(values)"]
    assert inner.seen[2]["id"] == "users-own" and inner.seen[2]["outputs"] == []


def test_a_failure_of_the_follow_ups_own_cell_is_named_among_its_cells():
    result = _run(ThreadCheck(FailsAt(3), FOLLOW_UP), OWN)
    assert (result.failed_cell, result.cell_id) == (1, "c2")
    result = _run(ThreadCheck(FailsAt(1), FOLLOW_UP), OWN)
    assert (result.failed_cell, result.cell_id) == (0, "c1")


def test_a_failure_above_the_follow_up_names_none_of_its_cells():
    result = _run(ThreadCheck(FailsAt(2), FOLLOW_UP), OWN)
    assert result.status == "failed" and result.failed_cell is None and result.cell_id is None
    assert "above this follow-up" in (result.reason or "")
