"""Provider-neutral scripts for the fake model servers.

A script is a list of replies, served one per request in order. Build them with the helpers here
(`tool_use`, `text_reply`, `http_error`, `malformed`, ...) and hand the same list to either
`FakeAnthropic` or `FakeOpenAI`: each renders a reply in its own wire format. An entry may also be
a callable `(RecordedRequest) -> Reply`, for replies that depend on what the client sent (e.g. the
id of the cell a `create_cell` result reported).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass
class ScriptedCall:
    """One tool call. `raw` replaces the JSON arguments with literal text (malformed calls)."""

    name: str
    input: dict[str, Any] | None = None
    raw: str | None = None
    id: str | None = None


@dataclass
class Reply:
    """One scripted response.

    A model turn (`text`, `calls`, `stop_reason`, optional `thinking`), or an HTTP error
    (`status` >= 400 with `message`/`error_type`), or a literal `body`. `delay` seconds pass before
    the answer is sent (the server notices when the client hangs up meanwhile). `usage` overrides
    the simulated token counts with wire-format fields.
    """

    text: str = ""
    calls: list[ScriptedCall] = field(default_factory=list)
    stop_reason: str | None = None
    thinking: str | None = None
    status: int = 200
    message: str | None = None
    error_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    usage: dict[str, Any] | None = None
    hang_up: bool = False  # close the connection without answering

    def after(self, delay: float) -> Reply:
        """The same reply, sent `delay` seconds after the request arrives."""
        return replace(self, delay=delay)

    @property
    def is_error(self) -> bool:
        return self.status >= 400


@dataclass
class RecordedRequest:
    """A request the fake received: `body` is the parsed JSON (None when it did not parse)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any] | None
    aborted: bool = False  # the client hung up before the answer was sent

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


ScriptEntry = Reply | Callable[[RecordedRequest], Reply]


def call(name: str, input: dict[str, Any] | None = None, *, raw: str | None = None, id: str | None = None):
    """A tool call for `tool_uses`."""
    return ScriptedCall(
        name=name, input=input if input is not None or raw is not None else {}, raw=raw, id=id
    )


def tool_use(
    name: str,
    input: dict[str, Any] | None = None,
    *,
    raw: str | None = None,
    id: str | None = None,
    text: str = "",
    thinking: str | None = None,
    delay: float = 0.0,
) -> Reply:
    """A turn that calls one tool. `raw="{not json"` sends unparsable arguments."""
    return tool_uses(call(name, input, raw=raw, id=id), text=text, thinking=thinking, delay=delay)


def tool_uses(*calls: ScriptedCall, text: str = "", thinking: str | None = None, delay: float = 0.0) -> Reply:
    """A turn that calls several tools at once."""
    return Reply(text=text, calls=list(calls), stop_reason="tool_use", thinking=thinking, delay=delay)


def text_reply(text: str, *, stop_reason: str = "end_turn", delay: float = 0.0) -> Reply:
    """A turn with text and no tool call."""
    return Reply(text=text, stop_reason=stop_reason, delay=delay)


def http_error(
    status: int,
    message: str | None = None,
    *,
    error_type: str | None = None,
    headers: dict[str, str] | None = None,
    delay: float = 0.0,
) -> Reply:
    """An HTTP error in the provider's error format, e.g. `http_error(429, headers={"retry-after": "0"})`."""
    return Reply(
        status=status, message=message, error_type=error_type, headers=dict(headers or {}), delay=delay
    )


def malformed(
    body: bytes | str = b'{"id": "broken", "content": [',
    *,
    status: int = 200,
    content_type: str = "application/json",
    delay: float = 0.0,
) -> Reply:
    """A response whose body is sent literally, e.g. truncated JSON."""
    raw = body.encode() if isinstance(body, str) else body
    return Reply(status=status, body=raw, content_type=content_type, delay=delay)


def hang_up(*, delay: float = 0.0) -> Reply:
    """Close the connection without answering: the client sees a dropped connection."""
    return Reply(hang_up=True, delay=delay)


def json_body(value: Any, *, status: int = 200) -> Reply:
    """A response with an arbitrary JSON body."""
    return Reply(status=status, body=json.dumps(value).encode())
