"""An in-process Provider that replays a script of turns: for loop tests and the engine benchmark.

A script entry is a `ModelTurn`, an exception to raise, `HANG` (wait until cancelled), or a callable
`(messages) -> ModelTurn` for turns that depend on earlier tool results.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from cookbook_ext.agent.providers.base import (
    Message,
    ModelTurn,
    Provider,
    SystemPrompt,
    ToolCall,
    ToolSpec,
    Usage,
)

HANG = object()
_ids = itertools.count(1)

Step = ModelTurn | BaseException | object | Callable[[list[Message]], ModelTurn]


def call(name: str, **arguments: Any) -> ToolCall:
    """A well-formed tool call with a fresh id."""
    return ToolCall(id=f"toolu_{next(_ids)}", name=name, arguments=arguments)


def raw_call(name: str, raw: str) -> ToolCall:
    """A tool call whose arguments did not parse as JSON."""
    return ToolCall(id=f"toolu_{next(_ids)}", name=name, arguments=None, raw_arguments=raw)


def turn(
    *calls: ToolCall, text: str = "", usage: Usage | None = None, stop_reason: str | None = None
) -> ModelTurn:
    return ModelTurn(
        text=text,
        tool_calls=list(calls),
        stop_reason=stop_reason or ("tool_use" if calls else "end_turn"),
        usage=usage or Usage(),
    )


def tool_results(message: Message) -> dict[str, dict[str, Any]]:
    """The tool_result blocks of a user message, by tool_use_id."""
    return {
        block["tool_use_id"]: block
        for block in message.get("content", [])
        if block.get("type") == "tool_result"
    }


class ScriptedProvider(Provider):
    """Replays `script`, one entry per `next_turn`; records what it was sent."""

    name = "scripted"
    model = "scripted-model"

    def __init__(self, script: Sequence[Step], *, copy_messages: bool = True) -> None:
        self.script = list(script)
        self.copy_messages = copy_messages
        self.calls: list[list[Message]] = []
        self.systems: list[SystemPrompt] = []
        self.tools: list[ToolSpec] = []
        self.prepared: dict[str, Any] | None = None
        self.closed = False
        self.hangs = 0  # how many HANG steps were entered (the loop should have cancelled each)

    def prepare(self, *, request: Any, repo: dict[str, Any] | None, model: dict[str, Any] | None) -> None:
        self.prepared = {"request": request, "repo": repo, "model": model}

    async def next_turn(
        self,
        *,
        system: SystemPrompt,
        messages: list[Message],
        tools: list[ToolSpec],
        cancel: asyncio.Event,
    ) -> ModelTurn:
        self.calls.append(copy.deepcopy(messages) if self.copy_messages else messages)
        self.systems.append(system)
        self.tools = tools
        if not self.script:
            return turn(text="(script exhausted)")
        step = self.script.pop(0)
        if step is HANG:
            self.hangs += 1
            await asyncio.Event().wait()  # until the loop cancels this task
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, ModelTurn):
            return step
        assert callable(step)
        return step(messages)

    async def aclose(self) -> None:
        self.closed = True


class RecordingSink:
    """An EventSink that keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        self.events.append((type, data))

    @property
    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    def of(self, type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == type]
