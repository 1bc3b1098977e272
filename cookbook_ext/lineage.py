"""A generation's thread: follow-ups and the generations they continue, as the store keeps them.

What a follow-up inherits from its parent (`inherit`), the chain of generations before it
(`chain`), the unit's cells as the thread built them (`thread_cells`: each follow-up's cells
replacing the ones they replace, the rest appended), and what the agent is told of all that
(`follow_up_context`, an agent.follow_up.FollowUp). No tornado here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .agent.follow_up import FollowUp, KernelState, NotebookCellView, failed_attempts
from .replay import replay_cells

if TYPE_CHECKING:
    from .api_models import GenerationCreate, NotebookCell
    from .store import AsyncStore
    from .verify import Verification, Verify

__all__ = ["MAX_CHAIN", "ThreadCheck", "chain", "follow_up_context", "inherit", "thread_cells"]

# How far back a thread is read: a follow-up of a follow-up of ... (older ones are not shown).
MAX_CHAIN = 10
# The events a follow-up reads of its parent: its cells, tries, errors and approvals.
_ATTEMPT_EVENTS = (
    "cell_created",
    "tool_call",
    "cell_executed",
    "cell_validated",
    "approval_required",
    "approval_resolved",
)
_CELL_EVENTS = ("cell_validated", "cell_invalidated")


def inherit(body: GenerationCreate, parent: dict[str, Any]) -> GenerationCreate:
    """The follow-up's request with what it did not give taken from its parent's stored record:
    the repository, the template (with the template's inputs, topic, data path and second
    model), hf_model_id, complexity, the provider and its model (the model only while the
    provider is the parent's)."""
    given = body.model_fields_set
    request = parent.get("request") or {}
    update: dict[str, Any] = {}
    if not body.repo_id and not body.source:
        if parent.get("repo_id"):
            update["repo_id"] = parent["repo_id"]
        elif request.get("repo_id"):
            update["repo_id"] = request["repo_id"]
        elif request.get("source"):
            update["source"] = request["source"]
            if request.get("ref") and "ref" not in given:
                update["ref"] = request["ref"]
    if "template" not in given and request.get("template"):
        update["template"] = request["template"]
        for name in ("inputs", "topic", "data_path", "compare_with"):
            if name not in given and request.get(name) not in (None, {}, ""):
                update[name] = request[name]
    for name in ("hf_model_id", "complexity"):
        if name not in given and request.get(name) is not None:
            update[name] = request[name]
    provider = parent.get("provider")
    if "provider" not in given and provider:
        update["provider"] = provider
    if "model" not in given and parent.get("model") and (update.get("provider") or body.provider) == provider:
        update["model"] = parent["model"]
    return body.model_copy(update=update) if update else body


async def chain(store: AsyncStore, parent_id: str) -> list[dict[str, Any]]:
    """The generations a follow-up of `parent_id` continues, oldest first, the parent last (at
    most MAX_CHAIN; a parent that is gone ends the chain)."""
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    current: str | None = parent_id
    while current and current not in seen and len(records) < MAX_CHAIN:
        seen.add(current)
        try:
            record = await store.get_generation(current)
        except Exception:  # NotFound: a parent of another owner, or removed
            break
        records.append(record)
        current = record.get("parent_id")
    return list(reversed(records))


async def thread_cells(store: AsyncStore, generations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The unit's cells as the thread made them (nbformat cell dicts): each generation's validated
    cells in order, a cell that replaces an earlier one (`metadata.cookbook.replaces`) in its
    place, the others after the cells before them."""
    cells: list[dict[str, Any]] = []
    for record in generations:
        for cell in replay_cells(await store.events_of_types(record["id"], _CELL_EVENTS)):
            replaces = ((cell.get("metadata") or {}).get("cookbook") or {}).get("replaces")
            at = next((i for i, c in enumerate(cells) if replaces and c.get("id") == replaces), None)
            if at is None:
                cells.append(cell)
            else:
                cells[at] = cell
    return cells


async def follow_up_context(
    store: AsyncStore,
    generations: Sequence[dict[str, Any]],
    notebook_cells: Sequence[NotebookCell] | None,
    kernel_state: dict[str, Any] | None,
) -> FollowUp:
    """What the follow-up's agent is told (agent/follow_up.py): the parent's summary and failed
    attempts, the unit's cells (the user's notebook as sent, else the thread's own), the kernel's
    state, the thread's earlier requests, and every source the thread kept (for the offline
    provider, which must not repeat one)."""
    parent = generations[-1]
    events = await store.events_of_types(parent["id"], _ATTEMPT_EVENTS)
    kept = await thread_cells(store, generations)
    if notebook_cells is not None:
        cells = [
            NotebookCellView(
                id=c.id, cell_type=c.cell_type, source=c.source, outputs_text=c.outputs_text, edited=c.edited
            )
            for c in notebook_cells
        ]
    else:
        cells = [_view(c) for c in kept]
    sources = [str(c.get("source") or "") for c in kept if c.get("cell_type") == "code"]
    sources += [c.source for c in cells if c.cell_type == "code"]
    summary = parent.get("message") or ""
    if parent.get("cause") and parent["cause"] not in summary:
        summary = f"{summary} {parent['cause']}".strip()
    return FollowUp(
        parent_id=parent["id"],
        parent_prompt=str((parent.get("request") or {}).get("prompt") or ""),
        parent_status=str(parent.get("status") or ""),
        parent_summary=summary or None,
        failed_attempts=failed_attempts(events),
        cells=cells,
        from_notebook=notebook_cells is not None,
        kernel_state=KernelState.from_dict(kernel_state) if kernel_state is not None else None,
        chain_sources=list(dict.fromkeys(sources)),
        earlier=[
            (
                str((g.get("request") or {}).get("prompt") or ""),
                str(g.get("message") or g.get("status") or ""),
            )
            for g in generations[:-1]
        ],
    )


@dataclass
class ThreadCheck:
    """A follow-up's fresh-kernel check (verify.Verify): the unit's cells as the notebook has
    them, the follow-up's new versions in place of the ones they replace, then its other cells,
    re-run top to bottom as the notebook will be. The result names the follow-up's own cells
    (`failed_cell` among them; None with `reason` when a cell above the follow-up failed)."""

    check: Verify
    follow_up: FollowUp

    async def __call__(
        self, cells: list[dict[str, Any]], *, cancel: asyncio.Event, timeout: float
    ) -> Verification:
        combined, ours = self.notebook(cells)
        result = await self.check(combined, cancel=cancel, timeout=timeout)
        if result.failed_cell is not None:
            mine = ours.get(result.failed_cell)
            result.failed_cell = mine
            if mine is None:
                result.cell_id = None
                result.reason = "a cell of the notebook above this follow-up failed in the fresh kernel"
        return result

    def notebook(self, cells: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[int, int]]:
        """The cells to re-run, and for each of the follow-up's own its position there -> its
        position among `cells`."""
        replacing: dict[str, int] = {}
        for index, cell in enumerate(cells):
            replaces = ((cell.get("metadata") or {}).get("cookbook") or {}).get("replaces")
            if replaces:
                replacing[str(replaces)] = index
        combined: list[dict[str, Any]] = []
        ours: dict[int, int] = {}
        for view in self.follow_up.cells:
            if view.id in replacing:
                ours[len(combined)] = replacing[view.id]
                combined.append(cells[replacing.pop(view.id)])
            elif view.cell_type in ("code", "markdown"):
                unit: dict[str, Any] = {
                    "id": re.sub(r"[^A-Za-z0-9_-]", "-", view.id)[:64] or "cell",
                    "cell_type": view.cell_type,
                    "metadata": {},
                    "source": view.source,
                }
                if view.cell_type == "code":
                    unit.update(outputs=[], execution_count=None)
                combined.append(unit)
        placed = set(ours.values())
        for index, own in enumerate(cells):
            if index not in placed:
                ours[len(combined)] = index
                combined.append(own)
        return combined, ours


def _view(cell: dict[str, Any]) -> NotebookCellView:
    source = cell.get("source") or ""
    if isinstance(source, list):
        source = "".join(source)
    texts = []
    for output in cell.get("outputs") or []:
        if output.get("output_type") == "stream":
            texts.append(str(output.get("text") or ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            plain = (output.get("data") or {}).get("text/plain")
            texts.append("".join(plain) if isinstance(plain, list) else str(plain or ""))
        elif output.get("output_type") == "error":
            texts.append(f"{output.get('ename')}: {output.get('evalue')}")
    return NotebookCellView(
        id=str(cell.get("id") or ""),
        cell_type=str(cell.get("cell_type") or "code"),
        source=str(source),
        outputs_text="\n".join(t for t in texts if t)[:2000],
    )
