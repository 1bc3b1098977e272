"""The Anthropic provider: the Messages API with tool use and prompt caching.

Four cache breakpoints per request (the API's maximum): the last tool, the instructions, the end
of the opening message's repository and model material (the text block marked `cache_point`), and
the last block of the conversation, so each turn re-reads everything before it from the cache and
pays full price only for what the previous turn added. The material is untrusted, so it is part of
the conversation, never of the system prompt (see agent/untrusted.py).
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from .base import Message, ModelTurn, ProviderError, SystemPrompt, ToolCall, ToolSpec, Usage
from .pricing import Price, price_for
from .sdk import SDKProvider, cap, host, tool_call

if TYPE_CHECKING:
    import anthropic

DEFAULT_MODEL = "claude-sonnet-5-5"

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4
# Blocks that may not carry a cache_control marker.
_UNCACHEABLE = frozenset({"thinking", "redacted_thinking"})


class AnthropicProvider(SDKProvider):
    """Claude through `anthropic.AsyncAnthropic`.

    The SDK's own retries are off (`max_retries=0`); `RetryPolicy` retries 408/409/429/5xx/529
    and connection errors with backoff that honours `retry-after`.
    """

    name = "anthropic"
    display_name = "Anthropic"
    key_name = "ANTHROPIC_API_KEY"
    default_model = DEFAULT_MODEL
    sdk_module = "anthropic"
    client_class = "AsyncAnthropic"
    request_label = "Anthropic request"

    def __init__(
        self,
        api_key: str,
        model: str = DEFAULT_MODEL,
        *,
        price: Price | None = None,
        prompt_caching: bool = True,
        client: anthropic.AsyncAnthropic | None = None,
        **options: Any,
    ) -> None:
        """`options` are SDKProvider's (base_url, max_tokens, retries, timeout)."""
        if not api_key and client is None:
            raise ProviderError(
                "No Anthropic API key is configured. Add one in Cookbook's settings "
                "(or set ANTHROPIC_API_KEY), or choose the offline provider.",
                code="auth_required",
                status=401,
            )
        super().__init__(
            api_key, model, price=price if price is not None else price_for(model), client=client, **options
        )
        base_url = self.base_url
        self.endpoint = "the Anthropic API" if base_url is None else f"the Anthropic API at {host(base_url)}"
        # Off only for gateways that reject cache_control, and to measure what caching saves.
        self.prompt_caching = prompt_caching
        # Assistant turns exactly as the API sent them. Thinking blocks (on by default on current
        # models) must come back verbatim with their signatures, but the neutral conversation
        # only keeps text and tool calls; see `_assistant_content`.
        self._raw_turns: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def warm_up(cls) -> None:
        """Parse one canned response, as the SDK parses every reply. It builds the validators of
        its response models on first use, which otherwise costs the first generation a few
        hundred milliseconds on the event loop. Blocking: for a worker thread at start."""
        import anthropic

        anthropic.types.Message.construct(
            **{  # type: ignore[arg-type]
                "id": "msg_warm_up",
                "type": "message",
                "role": "assistant",
                "model": "warm-up",
                "content": [
                    {"type": "text", "text": "warm-up"},
                    {"type": "tool_use", "id": "toolu_warm_up", "name": "finish", "input": {}},
                ],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )

    async def _send(self, request: dict[str, Any]) -> anthropic.types.Message:
        # `request` is built as a plain dict, so the overloads cannot narrow the return type.
        response: anthropic.types.Message = await self._client.messages.create(**request)
        return response

    # -- request ---------------------------------------------------------------------------

    def build_request(
        self, *, system: SystemPrompt, messages: list[Message], tools: list[ToolSpec]
    ) -> dict[str, Any]:
        """The keyword arguments for `messages.create`, with cache breakpoints placed."""
        system_text = system.as_text()
        system_blocks: list[dict[str, Any]] = [{"type": "text", "text": system_text}] if system_text else []
        tool_params: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools
        ]
        wire = self.convert_messages(messages)
        if self.prompt_caching:
            for block in system_blocks:
                block["cache_control"] = dict(_EPHEMERAL)
            if tool_params:
                tool_params[-1]["cache_control"] = dict(_EPHEMERAL)
            # What is left after the tools, the system prompt and the conversation's last block.
            _limit_markers(wire, MAX_BREAKPOINTS - len(system_blocks) - (1 if tool_params else 0) - 1)
            _mark_last_block(wire)
        else:
            _limit_markers(wire, 0)
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": wire,
        }
        if system_blocks:
            request["system"] = system_blocks
        if tool_params:
            request["tools"] = tool_params
        return request

    def convert_messages(self, messages: list[Message]) -> list[dict[str, Any]]:
        """Neutral messages to Messages API params (the caller's list is left untouched). Text
        blocks with a `cache_point` hint get a cache marker; no other block does. Empty text
        blocks and empty messages are dropped: the API rejects them."""
        wire: list[dict[str, Any]] = []
        for message in messages:
            role = message.get("role")
            if role not in ("user", "assistant"):
                continue
            blocks = list(message.get("content") or [])
            if role == "assistant":
                content = self._assistant_content(blocks)
            else:
                content = [b for b in (_to_param(block) for block in blocks) if b is not None]
            if content:
                wire.append({"role": role, "content": content})
        return wire

    def _assistant_content(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raw = self._raw_turns.get(_turn_key(blocks))
        if raw is not None:
            return copy.deepcopy(raw)
        return [b for b in (_to_param(block) for block in blocks) if b is not None]

    # -- response --------------------------------------------------------------------------

    def _parse(self, response: anthropic.types.Message) -> ModelTurn:
        texts: list[str] = []
        calls: list[ToolCall] = []
        raw_blocks: list[dict[str, Any]] = []
        for block in response.content:
            raw = block.model_dump(mode="json", exclude_unset=True, warnings=False)
            if raw.get("type") == "tool_use" and not isinstance(raw.get("input"), dict):
                raw["input"] = {}  # the API only accepts an object here
            raw_blocks.append(raw)
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append(tool_call(block.id, block.name, block.input))
        text = "\n".join(t for t in texts if t)
        neutral: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        neutral += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}} for c in calls
        ]
        self._raw_turns[_turn_key(neutral)] = raw_blocks
        stop_reason = response.stop_reason or ("tool_use" if calls else "end_turn")
        return ModelTurn(text=text, tool_calls=calls, stop_reason=stop_reason, usage=self._usage(response))

    def _usage(self, response: anthropic.types.Message) -> Usage:
        u = response.usage
        return self._priced(
            Usage(
                input_tokens=u.input_tokens or 0,
                output_tokens=u.output_tokens or 0,
                cache_read_tokens=u.cache_read_input_tokens or 0,
                cache_write_tokens=u.cache_creation_input_tokens or 0,
            )
        )

    # -- errors ----------------------------------------------------------------------------

    def status_message(self, exc: Any, status: int, detail: str) -> tuple[str, str]:
        if status == 401:
            return "auth_failed", (
                "The Anthropic API key was rejected (401). Check the key in Cookbook's settings, "
                "or create a new one in the Anthropic console."
            )
        if status == 403:
            return "permission_denied", f"The Anthropic API key is not allowed to do this (403): {detail}"
        if status == 529 or getattr(exc, "type", None) == "overloaded_error":
            return "overloaded", f"{cap(self.endpoint)} is overloaded ({status}): {detail}"
        return super().status_message(exc, status, detail)


def _to_param(block: dict[str, Any]) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text") or ""
        if not text.strip():
            return None
        param: dict[str, Any] = {"type": "text", "text": text}
        if block.get("cache_point"):
            param["cache_control"] = dict(_EPHEMERAL)
        return param
    if kind == "tool_use":
        arguments = block.get("input")
        return {
            "type": "tool_use",
            "id": block["id"],
            "name": block["name"],
            "input": arguments if isinstance(arguments, dict) else {},
        }
    if kind == "tool_result":
        param = {"type": "tool_result", "tool_use_id": block["tool_use_id"]}
        content = block.get("content")
        if isinstance(content, str):
            if content:
                param["content"] = content
        elif content:
            param["content"] = content
        if block.get("is_error"):
            param["is_error"] = True
        return param
    # Anything else (images, documents) passes through as the caller wrote it.
    return {k: v for k, v in block.items() if k not in ("cache_control", "cache_point")}


def _limit_markers(wire: list[dict[str, Any]], allowed: int) -> None:
    """Keep the first `allowed` cache markers of the conversation (the stable prefix comes
    first) and drop the rest, so a request never asks for more breakpoints than the API takes."""
    for message in wire:
        for block in message["content"]:
            if "cache_control" in block:
                if allowed > 0:
                    allowed -= 1
                else:
                    del block["cache_control"]


def _mark_last_block(wire: list[dict[str, Any]]) -> None:
    """Put a cache breakpoint on the conversation's last cacheable block."""
    if not wire:
        return
    for block in reversed(wire[-1]["content"]):
        if block.get("type") not in _UNCACHEABLE:
            block["cache_control"] = dict(_EPHEMERAL)
            return


_SPACE = re.compile(r"\s+")


def _turn_key(blocks: list[dict[str, Any]]) -> str:
    """Identifies an assistant turn in the neutral conversation: its tool call ids when it made
    calls (unique), otherwise its text with whitespace ignored."""
    ids = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
    if ids:
        return "tools:" + ",".join(ids)
    text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
    return "text:" + _SPACE.sub("", text)
