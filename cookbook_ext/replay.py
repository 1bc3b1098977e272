"""The notebook's cells rebuilt from a generation's events, the same replay the front end does
(`ValidatedCells` in src/notebook.ts), so the download and the live notebook agree."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["replay_cells"]


def replay_cells(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The validated cells, in notebook order, after `events` (oldest first).

    Each `cell_validated` puts its cell at `index` among the validated ones (clamped to the ends;
    at the end when there is none), replacing an earlier version of the same cell;
    `cell_invalidated` drops it. Other events, and events without a cell id, change nothing.
    """
    order: list[str] = []
    cells: dict[str, dict[str, Any]] = {}
    for event in events:
        data = event.get("data") or {}
        cell_id = data.get("cell_id")
        kind = event.get("type")
        if not cell_id or kind not in ("cell_validated", "cell_invalidated"):
            continue
        cell = data.get("cell") if kind == "cell_validated" else None
        if kind == "cell_validated" and not cell:
            continue
        if cell_id in cells:
            order.remove(cell_id)
            del cells[cell_id]
        if cell:
            order.insert(_position(data.get("index"), len(order)), cell_id)
            cells[cell_id] = cell
    return [cells[cell_id] for cell_id in order]


def _position(index: Any, size: int) -> int:
    if isinstance(index, bool):
        return size
    if isinstance(index, int):
        return max(0, min(index, size))
    if isinstance(index, float) and math.isfinite(index):
        return max(0, min(int(index), size))
    return size
