"""The Anthropic provider: the Messages API with tool use and prompt caching.

Four cache breakpoints per request (the API's maximum): the last tool, the instructions, the
repository context, and the last block of the conversation, so each turn re-reads everything
before it from the cache and pays full price only for what the previous turn added.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from typing import Any

import anthropic

from .base import Message, ModelTurn, Provider, ProviderError, SystemPrompt, ToolCall, ToolSpec, Usage
from .pricing import Price, price_for
from .retry import Failure, RetryPolicy, call_with_retries, parse_retry_after, should_retry

log = logging.getLogger(__name__)

DEFAULT_MODEL = "claude-sonnet-5-5"

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
# Blocks that may not carry a cache_control marker.
_UNCACHEABLE = frozenset({"thinking", "redacted_thinking"})


class AnthropicProvider(Provider):
    """Claude through `anthropic.AsyncAnthropic`.

    The SDK's own retries are off (`max_retries=0`); `RetryPolicy` retries 408/409/429/5xx/529
    and connection errors with backoff that honours `retry-after`.
    """

    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        model: str = DEFAULT_MODEL,
        *,
        base_url: str | None = None,
        max_tokens: int = 4096,
        max_retries: int = 4,
        timeout: float = 120.0,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 30.0,
        max_retry_after: float = 120.0,
        price: Price | None = None,
        prompt_caching: bool = True,
        client: anthropic.AsyncAnthropic | None = None,
    ) -> None:
        if not api_key and client is None:
            raise ProviderError(
                "No Anthropic API key is configured. Add one in Cookbook's settings "
                "(or set ANTHROPIC_API_KEY), or choose the offline provider.",
                code="auth_required",
                status=401,
            )
        self.model = model
        self.max_tokens = max_tokens
        self.timeout = timeout
        # Off only for gateways that reject cache_control, and to measure what caching saves.
        self.prompt_caching = prompt_caching
        self.retry = RetryPolicy(
            max_retries=max_retries,
            base_delay=retry_base_delay,
            max_delay=retry_max_delay,
            max_retry_after=max_retry_after,
        )
        self.price = price if price is not None else price_for(model)
        self._secret = api_key or ""
        # A client handed in is shared (one connection pool per server): its owner closes it.
        self._owns_client = client is None
        self._client = client or self.make_client(api_key, base_url, timeout)
        # Assistant turns exactly as the API sent them. Thinking blocks (on by default on current
        # models) must come back verbatim with their signatures, but the neutral conversation
        # only keeps text and tool calls; see `_assistant_content`.
        self._raw_turns: dict[str, list[dict[str, Any]]] = {}

    @staticmethod
    def make_client(
        api_key: str, base_url: str | None = None, timeout: float = 120.0
    ) -> anthropic.AsyncAnthropic:
        """The SDK client; the server shares one per key and endpoint across generations."""
        return anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=anthropic.Timeout(timeout, connect=min(10.0, timeout)),
        )

    @staticmethod
    def warm_up() -> None:
        """Parse one canned response, as the SDK parses every reply. It builds the validators of
        its response models on first use, which otherwise costs the first generation a few
        hundred milliseconds on the event loop. Blocking: for a worker thread at start."""
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

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.close()

    async def next_turn(
        self,
        *,
        system: SystemPrompt,
        messages: list[Message],
        tools: list[ToolSpec],
        cancel: asyncio.Event,
    ) -> ModelTurn:
        request = self.build_request(system=system, messages=messages, tools=tools)

        async def attempt() -> anthropic.types.Message:
            # `request` is built as a plain dict, so the overloads cannot narrow the return type.
            response: anthropic.types.Message = await self._client.messages.create(**request)
            return response

        response = await call_with_retries(
            attempt, translate=self._translate, policy=self.retry, cancel=cancel, what="Anthropic request"
        )
        return self._parse(response)

    # -- request ---------------------------------------------------------------------------

    def build_request(
        self, *, system: SystemPrompt, messages: list[Message], tools: list[ToolSpec]
    ) -> dict[str, Any]:
        """The keyword arguments for `messages.create`, with cache breakpoints placed."""
        system_blocks: list[dict[str, Any]] = [
            {"type": "text", "text": part} for part in (system.instructions, system.context) if part
        ]
        tool_params: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools
        ]
        wire = self.convert_messages(messages)
        if self.prompt_caching:
            for block in system_blocks:
                block["cache_control"] = dict(_EPHEMERAL)
            if tool_params:
                tool_params[-1]["cache_control"] = dict(_EPHEMERAL)
            _mark_last_block(wire)
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
        """Neutral messages to Messages API params (no cache markers; the caller's list is left
        untouched). Empty text blocks and empty messages are dropped: the API rejects them."""
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
                calls.append(_tool_call(block.id, block.name, block.input))
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
        usage = Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_read_tokens=u.cache_read_input_tokens or 0,
            cache_write_tokens=u.cache_creation_input_tokens or 0,
        )
        if self.price is not None:
            usage.cost_usd = self.price.cost(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
            )
        return usage

    # -- errors ----------------------------------------------------------------------------

    def _translate(self, exc: Exception) -> Failure:
        failure = translate_error(exc, model=self.model, timeout=self.timeout)
        if self._secret:
            failure.error.message = failure.error.message.replace(self._secret, "[redacted]")
            failure.error.args = (failure.error.message,)
        return failure


def translate_error(exc: Exception, *, model: str, timeout: float) -> Failure:
    """An SDK exception as a ProviderError with a message written for the user."""
    if isinstance(exc, anthropic.APITimeoutError):
        return Failure(
            ProviderError(
                f"The Anthropic API did not answer within {timeout:.0f} s.", retryable=True, code="timeout"
            )
        )
    if isinstance(exc, anthropic.APIConnectionError):
        host = exc.request.url.host if exc.request is not None else "the Anthropic API"
        return Failure(
            ProviderError(
                f"Could not reach the Anthropic API at {host}: {_cause(exc)}.",
                retryable=True,
                code="connection_error",
            )
        )
    if isinstance(exc, anthropic.APIStatusError):
        return _status_failure(exc, model=model)
    if isinstance(exc, (anthropic.APIResponseValidationError, ValueError, json.JSONDecodeError)):
        return Failure(
            ProviderError(
                "The Anthropic API sent a response Cookbook could not read.",
                retryable=False,
                code="invalid_response",
            )
        )
    return Failure(
        ProviderError(f"The Anthropic request failed: {type(exc).__name__}: {exc}", code="provider_error")
    )


def _status_failure(exc: anthropic.APIStatusError, *, model: str) -> Failure:
    status = exc.status_code
    headers = exc.response.headers
    detail = _api_message(exc)
    error_type = exc.type if isinstance(exc.type, str) else None
    retryable = should_retry(status, headers)
    retry_after = parse_retry_after(headers) if retryable else None
    if status == 401:
        message = (
            "The Anthropic API key was rejected (401). Check the key in Cookbook's settings, "
            "or create a new one in the Anthropic console."
        )
        code = "auth_failed"
    elif status == 403:
        message = f"The Anthropic API key is not allowed to do this (403): {detail}"
        code = "permission_denied"
    elif status == 404:
        message = f"The Anthropic API does not know the model {model!r} (404): {detail}"
        code = "model_not_found"
    elif status == 413:
        message = f"The request is too large for the Anthropic API (413): {detail}"
        code = "request_too_large"
    elif status == 429:
        message = f"The Anthropic API is rate limiting requests (429): {detail}"
        code = "rate_limited"
    elif status == 529 or error_type == "overloaded_error":
        message = f"The Anthropic API is overloaded ({status}): {detail}"
        code = "overloaded"
        retryable = True
    elif status >= 500:
        message = f"The Anthropic API failed ({status}): {detail}"
        code = "upstream_error"
    else:
        message = f"The Anthropic API rejected the request ({status}): {detail}"
        code = "bad_request"
    return Failure(ProviderError(message, retryable=retryable, status=status, code=code), retry_after)


def _api_message(exc: anthropic.APIStatusError) -> str:
    message = exc.api_message if isinstance(exc.api_message, str) else None
    if not message:
        body = exc.body
        if isinstance(body, str) and body.strip():
            message = body.strip()[:300]
    return (message or "no details given").strip()


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause) if cause is not None else ""
    return text or str(exc) or type(exc).__name__


def _tool_call(call_id: str, name: str, arguments: object) -> ToolCall:
    if isinstance(arguments, dict):
        return ToolCall(id=call_id, name=name, arguments=arguments)
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return ToolCall(id=call_id, name=name, arguments=None, raw_arguments=arguments)
        if isinstance(parsed, dict):
            return ToolCall(id=call_id, name=name, arguments=parsed)
    return ToolCall(id=call_id, name=name, arguments=None, raw_arguments=json.dumps(arguments))


def _to_param(block: dict[str, Any]) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text") or ""
        return {"type": "text", "text": text} if text.strip() else None
    if kind == "tool_use":
        arguments = block.get("input")
        return {
            "type": "tool_use",
            "id": block["id"],
            "name": block["name"],
            "input": arguments if isinstance(arguments, dict) else {},
        }
    if kind == "tool_result":
        param: dict[str, Any] = {"type": "tool_result", "tool_use_id": block["tool_use_id"]}
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
    return {k: v for k, v in block.items() if k != "cache_control"}


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
