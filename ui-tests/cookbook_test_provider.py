"""A provider for the end-to-end tests and the benchmark (never shipped).

It is the offline provider, unless the prompt starts with `[scripted ...]`:
then it writes and runs a known number of cells at a known pace, so tests
can cancel midway, reload during a run, and time insertions over 30 cells.

    [scripted cells=30 delay=0.1 sleep=0 fail=3 read=1]

cells: code cells to write; delay: seconds before each model turn; sleep:
seconds each cell sleeps in the kernel; fail: the cell (1-based) whose first
attempt raises, then is fixed; read: read a repository file first (1/0).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from cookbook_ext.agent.providers.base import (
    Message,
    ModelTurn,
    SystemPrompt,
    ToolCall,
    ToolSpec,
    Usage,
)
from cookbook_ext.agent.providers.offline import OfflineProvider

_SCRIPT = re.compile(r"^\s*\[scripted(?P<opts>[^\]]*)\]")


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
        }
        self.model = "scripted"

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
        await asyncio.sleep(script["delay"])
        usage = Usage(input_tokens=1200, output_tokens=150, cost_usd=0.0021)
        calls: list[ToolCall] = []
        if self._step == 0:
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
        if i == script["fail"]:
            cell_id = self._create(calls, "raise ValueError('scripted failure')")
            calls.append(ToolCall(id=self._id(), name="execute_cell", arguments={"cell_id": cell_id}))
            calls.append(ToolCall(id=self._id(), name="edit_cell", arguments={"cell_id": cell_id, "code": body}))
        else:
            cell_id = self._create(calls, body)
        calls.append(ToolCall(id=self._id(), name="execute_cell", arguments={"cell_id": cell_id}))
        return ModelTurn(text=f"Writing cell {i}.", tool_calls=calls, stop_reason="tool_use", usage=usage)
