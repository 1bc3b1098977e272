"""A provider plug-in for Cookbook's tests: scripts one cell, runs it, finishes.

It uses only the public provider contract (`cookbook_ext.agent.providers`), as a separately
installed package would: create_cell `print('plugin')`, execute_cell on the id it got back, finish.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cookbook_ext.agent.providers import Message, ModelTurn, Provider, SystemPrompt, ToolCall, ToolSpec


class EchoProvider(Provider):
    name = "echo"
    display_name = "Echo (test plug-in)"
    key_name = None
    default_model = "echo-1"

    def __init__(self, model: str | None = None, greeting: str = "plugin") -> None:
        self.model = model or self.default_model or ""
        self.code = f"print({greeting!r})"
        self._turns = 0

    @classmethod
    def create(
        cls, *, api_key: str | None, model: str | None, options: dict[str, Any], client: Any | None
    ) -> Provider:
        return cls(model=model, **options)

    async def next_turn(
        self,
        *,
        system: SystemPrompt,
        messages: list[Message],
        tools: list[ToolSpec],
        cancel: asyncio.Event,
    ) -> ModelTurn:
        self._turns += 1
        if self._turns == 1:
            return _call("create_cell", code=self.code, type="code")
        if self._turns == 2:
            cell_id = _result(messages, "echo-1").get("cell_id")
            return _call("execute_cell", cell_id=cell_id)
        return _call("finish", summary="Printed a greeting from the echo plug-in.")


def _call(name: str, **arguments: Any) -> ModelTurn:
    call_id = {"create_cell": "echo-1", "execute_cell": "echo-2"}.get(name, "echo-3")
    return ModelTurn(
        text="", tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)], stop_reason="tool_use"
    )


def _result(messages: list[Message], call_id: str) -> dict[str, Any]:
    """The JSON result of the tool call `call_id` in the latest user message."""
    for block in (messages[-1].get("content") or []) if messages else []:
        if block.get("type") == "tool_result" and block.get("tool_use_id") == call_id:
            try:
                value = json.loads(block.get("content") or "")
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}
