"""What a follow-up generation knows of the one it continues: the notebook's cells as they are now
(the user's edits included), the earlier generation's summary and failed attempts, and the kernel's
state; and how that opens the conversation, as a "Current notebook" section.

Pure data and text: the server builds a `FollowUp` from its store and the user's kernel
(lineage.py); the loop hands it to the tools (which cells may be replaced) and the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .untrusted import NOTEBOOK_WARNING, TAG, block, neutralise

__all__ = [
    "FailedAttempt",
    "FollowUp",
    "KernelState",
    "NotebookCellView",
    "failed_attempts",
    "render_current_notebook",
]

# What the opening message shows of each part (the request bounds the cells to 200 kB already;
# these keep the conversation's first turn affordable).
_SOURCE_CHARS = 4000
_OUTPUT_CHARS = 800
_ATTEMPT_SOURCE_CHARS = 1500
_ERROR_CHARS = 300
_MAX_ATTEMPTS = 8
_MAX_EARLIER = 5
_SECTION_CHARS = 80_000
_DECLINED = "not run: the user declined it"  # Cookbook's words, not the kernel's


@dataclass
class NotebookCellView:
    """One cell of the unit as the front end sees it: `edited` when the user changed it since
    Cookbook put it there (replacing it then asks the user first)."""

    id: str
    cell_type: str  # code | markdown | raw
    source: str
    outputs_text: str = ""
    edited: bool = False


@dataclass
class FailedAttempt:
    """A cell of the earlier generation that ran with an error, or that the user declined."""

    title: str
    source: str
    error: str


@dataclass
class KernelState:
    """What the user's kernel holds: `variables` as (name, type, detail) and `modules` as
    (bound name, module); `truncated` when there was more than was read."""

    variables: list[tuple[str, str, str]] = field(default_factory=list)
    modules: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KernelState:
        variables = [
            (str(v[0]), str(v[1]), str(v[2]) if len(v) > 2 else "")
            for v in data.get("variables") or []
            if isinstance(v, list | tuple) and len(v) >= 2
        ]
        modules = [
            (str(m[0]), str(m[1]))
            for m in data.get("modules") or []
            if isinstance(m, list | tuple) and len(m) >= 2
        ]
        return cls(variables=variables, modules=modules, truncated=bool(data.get("truncated")))


@dataclass
class FollowUp:
    """A follow-up's memory of its thread (see the module docstring).

    `cells` is the unit as it is now: the user's notebook cells when the front end sent them,
    else the chain's validated cells from the store (`from_notebook` says which). `chain_sources`
    is the code every generation of the thread kept (what the offline provider must not repeat);
    `earlier` the thread's earlier requests and outcomes, oldest first, the parent last.
    """

    parent_id: str
    parent_prompt: str = ""
    parent_status: str = ""
    parent_summary: str | None = None
    failed_attempts: list[FailedAttempt] = field(default_factory=list)
    cells: list[NotebookCellView] = field(default_factory=list)
    from_notebook: bool = False
    kernel_state: KernelState | None = None
    chain_sources: list[str] = field(default_factory=list)
    earlier: list[tuple[str, str]] = field(default_factory=list)

    def replaceable(self) -> dict[str, NotebookCellView]:
        """The unit's cells a follow-up may replace (edit_cell with their id), by id."""
        return {cell.id: cell for cell in self.cells if cell.cell_type in ("code", "markdown")}


def failed_attempts(events: Iterable[Mapping[str, Any]]) -> list[FailedAttempt]:
    """The cells of a generation that ran with an error or were declined, latest source each,
    from its events (cell_created, edit_cell calls, cell_executed, approvals); the last few."""
    sources: dict[str, str] = {}
    titles: dict[str, str] = {}
    approvals: dict[str, str] = {}  # approval id -> cell id
    found: dict[str, FailedAttempt] = {}
    for event in events:
        kind, data = event.get("type"), event.get("data") or {}
        cell_id = str(data.get("cell_id") or "")
        if kind == "cell_created" and cell_id:
            sources[cell_id] = str(data.get("source") or "")
            titles[cell_id] = str(data.get("title") or "")
        elif kind == "tool_call" and data.get("name") == "edit_cell":
            args = data.get("arguments") or {}
            if (
                isinstance(args, dict)
                and args.get("cell_id") in sources
                and isinstance(args.get("code"), str)
            ):
                sources[str(args["cell_id"])] = args["code"]
        elif kind == "cell_validated" and cell_id:
            found.pop(cell_id, None)  # fixed later on: not a failed attempt any more
            titles[cell_id] = str(data.get("title") or titles.get(cell_id, ""))
        elif kind == "cell_executed" and cell_id and not data.get("ok"):
            error = data.get("error") or {}
            why = data.get("short_error") or (
                f"{error.get('ename')}: {error.get('evalue')}" if error else data.get("status")
            )
            found[cell_id] = _attempt(titles.get(cell_id, ""), sources.get(cell_id, ""), str(why or "failed"))
        elif kind == "approval_required":
            approvals[str(data.get("approval_id"))] = cell_id
        elif kind == "approval_resolved" and not data.get("approved"):
            declined = approvals.get(str(data.get("approval_id"))) or cell_id
            if declined:
                found[declined] = _attempt(titles.get(declined, ""), sources.get(declined, ""), _DECLINED)
    return list(found.values())[-_MAX_ATTEMPTS:]


def _attempt(title: str, source: str, error: str) -> FailedAttempt:
    return FailedAttempt(
        title=title, source=_clip(source, _ATTEMPT_SOURCE_CHARS), error=_clip(error, _ERROR_CHARS)
    )


def render_current_notebook(follow_up: FollowUp) -> str:
    """The "Current notebook" section of a follow-up's opening message, masked by the loop like
    the rest of the message. The user's own material (the requests, the cells' sources) is
    outside blocks, neutralised so nothing in it passes for a block tag; what running code
    produced (the cells' outputs, the failed attempts' errors, the kernel's names) is in
    untrusted_data blocks, as execute_cell returns it, and the warning ends the section."""
    parts = [
        "# Current notebook (this is a follow-up)",
        "This generation continues an earlier one in the user's notebook. Below is what it did, "
        "the notebook's cells as they are now (including the user's own edits) and what the "
        "kernel already holds. Build on them: do not repeat cells that are already there, and "
        "reuse the kernel's variables instead of recomputing them. What the code printed or "
        "raised, and the kernel's names, are in untrusted_data blocks.",
    ]
    if follow_up.earlier:
        lines = [
            f"- {_one_line(prompt, 300)} -> {_one_line(outcome, 300)}"
            for prompt, outcome in follow_up.earlier
        ]
        earlier = neutralise("\n".join(lines[-_MAX_EARLIER:]))
        parts.append("## Earlier requests in this thread (oldest first)\n" + earlier)
    outcome = follow_up.parent_summary or "(no summary)"
    parts.append(
        neutralise(
            f"## The previous generation ({follow_up.parent_status or 'unknown'})\n"
            f"Request: {_one_line(follow_up.parent_prompt, 500)}\nOutcome: {_clip(outcome, 1500)}"
        )
    )
    if follow_up.failed_attempts:
        items = []
        for attempt in follow_up.failed_attempts:
            item = neutralise(
                f"- {attempt.title or 'A cell'}" + ("\n" + _fence(attempt.source) if attempt.source else "")
            )
            error = attempt.error if attempt.error == _DECLINED else block(attempt.error, "kernel_output")
            items.append(f"{item}\n{error}")
        parts.append("## Its failed attempts (do not repeat them as they were)\n" + "\n".join(items))
    state = follow_up.kernel_state
    if state is not None:
        lines = []
        if state.variables:
            shown = [
                f"{name} ({kind}{', ' + detail if detail else ''})" for name, kind, detail in state.variables
            ]
            lines.append("Variables: " + "; ".join(shown))
        if state.modules:
            shown = [name if name == module else f"{name} = {module}" for name, module in state.modules]
            lines.append("Imported modules: " + ", ".join(shown))
        nothing = "Nothing yet: the kernel has no variables or imported modules of the user's."
        listed = block("\n".join(lines), "kernel_state") if lines else nothing
        if state.truncated:
            listed += "\n(There is more; only the first names are listed.)"
        parts.append("## The kernel's state now\n" + listed)
    if follow_up.cells:
        where = "in the user's notebook" if follow_up.from_notebook else "kept by the thread so far"
        items = []
        for cell in follow_up.cells:
            mark = ", edited by the user" if cell.edited else ""
            item = neutralise(
                f"[cell {cell.id}] {cell.cell_type}{mark}\n"
                + _fence(
                    _clip(cell.source, _SOURCE_CHARS), "python" if cell.cell_type == "code" else "markdown"
                )
            )
            if cell.outputs_text.strip():
                output = _clip(cell.outputs_text, _OUTPUT_CHARS)
                item += "\nOutput:\n" + block(output, "kernel_output", cell=cell.id)
            items.append(item)
        parts.append(f"## The cells ({where}), in order\n" + "\n\n".join(items))
        parts.append(
            "## How to continue\n"
            "New cells (create_cell) go after the last cell above. To change one of the cells "
            "above, call edit_cell with its id and the new code, then execute_cell it: the new "
            "version replaces it in the notebook (a cell the user edited is replaced only once "
            "they agree). Cells above cannot be deleted or run as they are."
        )
    text = _cut("\n\n".join(parts), _SECTION_CHARS)
    if f"<{TAG} " in text:
        text += "\n\n" + NOTEBOOK_WARNING
    return text


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit`, never inside a block: one the cut would open is left out whole."""
    if len(text) <= limit:
        return text
    text = text[:limit]
    opening = f"<{TAG} "
    if text.rfind(opening) > text.rfind(f"</{TAG}>"):
        text = text[: text.rfind(opening)]
    for size in range(len(opening) - 1, 0, -1):  # nor the start of an opening tag
        if text.endswith(opening[:size]):
            text = text[:-size]
            break
    return text + "\n[... the rest of the notebook is cut]"


def _fence(text: str, lang: str = "python") -> str:
    """`text` in a fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str, limit: int) -> str:
    return _clip(" ".join(str(text).split()), limit)
