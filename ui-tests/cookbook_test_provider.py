"""A provider for the end-to-end tests and the benchmark (never shipped).

It is the offline provider, unless the prompt starts with `[scripted ...]`:
then it writes and runs a known number of cells, so tests can cancel midway,
reload during a run, and time insertions over 30 cells.

    [scripted cells=30 delay=0.1 sleep=0 fail=3 read=1 gate=tmp/g hold=2,5]

cells: code cells to write (after one markdown cell); delay: seconds before
each model turn (pacing for the benchmark; no test's order depends on it);
sleep: seconds each cell sleeps in the kernel; fail: the cell (1-based) whose
first attempt raises, then is fixed; read: read a repository file first (1/0).
md: write the markdown cell first (1, the default) or not (0); broken: every
code cell raises and is never fixed (1/0), so nothing is kept; titled: each
code cell opens with a comment saying what it does (1/0); replace: in a
follow-up, first rewrite the notebook cell the user edited (else the last
code cell) with edit_cell, as a model continuing a notebook would (1/0).

gate, hold: where the test decides the pace. With `hold=2,5`, once code cell 2
is written and run (validated), the provider waits until the file `<gate>-2`
exists, and after cell 5 until `<gate>-5` exists (`hold=0`: after the
markdown cell, before code cell 1; `hold=<cells>`: before finishing). `gate`
is a path relative to $COOKBOOK_TEST_GATE_ROOT (the server's root in the
Galata configuration; the test creates the file through the contents API),
else to the current directory. A cancelled generation stops waiting at once;
a gate not opened within GATE_TIMEOUT seconds fails the generation rather
than hanging the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from cookbook_ext.agent.providers.base import (
    Message,
    ModelTurn,
    ProviderError,
    SystemPrompt,
    ToolCall,
    ToolSpec,
    Usage,
)
from cookbook_ext.agent.providers.offline import OfflineProvider

_SCRIPT = re.compile(r"^\s*\[scripted(?P<opts>[^\]]*)\]")
GATE_TIMEOUT = float(os.environ.get("COOKBOOK_TEST_GATE_TIMEOUT", "300"))
_GATE_POLL = 0.02


def gate_root() -> Path:
    return Path(os.environ.get("COOKBOOK_TEST_GATE_ROOT") or os.getcwd()).resolve()


class ScriptedProvider(OfflineProvider):
    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)
        self._script: dict[str, float] | None = None
        self._step = 0
        self._created = 0
        self._calls = 0

    def prepare(self, *, request: Any, repo: dict[str, Any] | None, model: dict[str, Any] | None) -> None:
        match = _SCRIPT.match(getattr(request, "prompt", "") or "")
        if not match:
            self._script = None
            super().prepare(request=request, repo=repo, model=model)
            return
        opts = dict(part.split("=", 1) for part in match.group("opts").split() if "=" in part)
        self._script = {
            "cells": int(opts.get("cells", 5)),
            "delay": float(opts.get("delay", 0.1)),
            "sleep": float(opts.get("sleep", 0)),
            "fail": int(opts.get("fail", 0)),
            "read": int(opts.get("read", 0)),
            "md": int(opts.get("md", 1)),
            "broken": int(opts.get("broken", 0)),
            "titled": int(opts.get("titled", 0)),
            "replace": int(opts.get("replace", 0)),
        }
        follow_up = getattr(request, "follow_up", None)
        self._replace_target = None
        self._replace_phase = 0
        if self._script["replace"] and follow_up is not None:
            code = [c for c in follow_up.cells if c.cell_type == "code"]
            edited = [c for c in code if c.edited]
            target = edited[0] if edited else (code[-1] if code else None)
            self._replace_target = target
        self._holds = sorted({int(k) for k in opts.get("hold", "").split(",") if k.strip()})
        self._gate: Path | None = None
        if opts.get("gate"):
            root = gate_root()
            gate = (root / opts["gate"]).resolve()
            if root not in gate.parents:
                raise ProviderError(f"The scripted gate {opts['gate']!r} is outside {root}.")
            self._gate = gate
        elif self._holds:
            raise ProviderError("The scripted provider's hold= needs a gate=.")
        self.model = "scripted"

    async def _wait_at_gate(self) -> None:
        """At a hold (as many code cells written as it says): wait until its gate file exists.

        A cancelled generation's loop cancels this wait (the model call) at once."""
        written = self._step - 1  # code cells written and run; -1 before the markdown cell
        if self._gate is None or written not in self._holds:
            return
        opened = self._gate.with_name(f"{self._gate.name}-{written}")
        deadline = time.monotonic() + GATE_TIMEOUT
        while not opened.exists():
            if time.monotonic() > deadline:
                raise ProviderError(f"The test never opened the gate {opened} ({GATE_TIMEOUT:.0f} s).")
            await asyncio.sleep(_GATE_POLL)

    def _replacing_turn(self, messages: list[Message], usage: Usage) -> ModelTurn | None:
        """A follow-up's rewrite of a notebook cell: edit_cell with its id, then run the new cell."""
        target = self._replace_target
        if target is None or self._replace_phase >= 2:
            return None
        if self._replace_phase == 0:
            self._replace_phase = 1
            self._created += 1  # the server makes a new cell for the rewrite
            self._edit_call = self._id()
            code = f"# Rewritten by the follow-up\nprint('replaced', {len(target.source)})"
            call = ToolCall(id=self._edit_call, name="edit_cell", arguments={"cell_id": target.id, "code": code})
            return ModelTurn(text="Rewriting a cell.", tool_calls=[call], stop_reason="tool_use", usage=usage)
        self._replace_phase = 2
        new_id = None
        for message in reversed(messages):
            for block in message.get("content", []) if isinstance(message.get("content"), list) else []:
                if block.get("type") == "tool_result" and block.get("tool_use_id") == self._edit_call:
                    try:
                        new_id = json.loads(block.get("content") or "{}").get("cell_id")
                    except (TypeError, ValueError):
                        new_id = None
            if new_id:
                break
        if not new_id:
            return None
        call = ToolCall(id=self._id(), name="execute_cell", arguments={"cell_id": new_id})
        return ModelTurn(text="Running the rewritten cell.", tool_calls=[call], stop_reason="tool_use", usage=usage)

    def _id(self) -> str:
        self._calls += 1
        return f"scripted_{self._calls}"

    def _create(self, calls: list[ToolCall], code: str, cell_type: str = "code") -> str:
        self._created += 1
        calls.append(ToolCall(id=self._id(), name="create_cell", arguments={"code": code, "type": cell_type}))
        return f"c{self._created}"

    async def next_turn(
        self,
        *,
        system: SystemPrompt,
        messages: list[Message],
        tools: list[ToolSpec],
        cancel: asyncio.Event,
    ) -> ModelTurn:
        script = self._script
        if script is None:
            return await super().next_turn(system=system, messages=messages, tools=tools, cancel=cancel)
        await self._wait_at_gate()
        await asyncio.sleep(script["delay"])
        usage = Usage(input_tokens=1200, output_tokens=150, cost_usd=0.0021)
        replacing = self._replacing_turn(messages, usage)
        if replacing is not None:
            return replacing
        calls: list[ToolCall] = []
        if self._step == 0 and not script["md"]:
            self._step = 1
            if script["read"]:
                calls.append(ToolCall(id=self._id(), name="read_file_from_repo", arguments={"path": "README.md"}))
        elif self._step == 0:
            self._step = 1
            if script["read"]:
                calls.append(ToolCall(id=self._id(), name="list_files_in_repo", arguments={}))
                calls.append(ToolCall(id=self._id(), name="read_file_from_repo", arguments={"path": "README.md"}))
            self._create(calls, "# Scripted cookbook\n\nCells written by the test provider.", "markdown")
            return ModelTurn(text="Planning the notebook.", tool_calls=calls, stop_reason="tool_use", usage=usage)
        i = self._step
        if i > script["cells"]:
            calls.append(ToolCall(id=self._id(), name="finish", arguments={"summary": f"Wrote {i - 1} cells."}))
            return ModelTurn(text="Done.", tool_calls=calls, stop_reason="tool_use", usage=usage)
        self._step += 1
        body = f"print('cell {i}', {i} * {i})"
        if script["sleep"]:
            body = f"import time\ntime.sleep({script['sleep']})\n{body}"
        if script["titled"]:
            body = f"# Square number {i}\n{body}"
        if script["broken"]:
            cell_id = self._create(calls, f"raise ImportError('No module named torch (cell {i})')")
        elif i == script["fail"]:
            cell_id = self._create(calls, "raise ValueError('scripted failure')")
            calls.append(ToolCall(id=self._id(), name="execute_cell", arguments={"cell_id": cell_id}))
            calls.append(ToolCall(id=self._id(), name="edit_cell", arguments={"cell_id": cell_id, "code": body}))
        else:
            cell_id = self._create(calls, body)
        calls.append(ToolCall(id=self._id(), name="execute_cell", arguments={"cell_id": cell_id}))
        return ModelTurn(text=f"Writing cell {i}.", tool_calls=calls, stop_reason="tool_use", usage=usage)
