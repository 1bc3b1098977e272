"""The OpenAI-compatible provider: chat completions with function calling.

Talks to OpenAI itself or to any server with the same API (vLLM, Ollama, LiteLLM...) through
`base_url`; local servers take any non-empty API key. Prefix caching there is automatic, so the
conversation is sent back exactly as the model produced it (arguments strings included) to keep
the prefix byte-identical from turn to turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal
from urllib.parse import urlparse

import openai

from .base import Message, ModelTurn, Provider, ProviderError, SystemPrompt, ToolCall, ToolSpec, Usage
from .pricing import Price
from .retry import Failure, RetryPolicy, call_with_retries, parse_retry_after, should_retry

log = logging.getLogger(__name__)

# A placeholder for local servers that ignore the key; the SDK refuses an empty one.
LOCAL_API_KEY = "not-needed"

_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAIProvider(Provider):
    """A chat completions model through `openai.AsyncOpenAI`.

    `max_tokens_field` picks the request field for the output limit: OpenAI's own API wants
    `max_completion_tokens` (reasoning models reject `max_tokens`), while older compatible servers
    only know `max_tokens`; "auto" chooses by whether `base_url` points at api.openai.com.
    """

    name = "openai"

    def __init__(
        self,
        api_key: str | None,
        model: str,
        *,
        base_url: str | None = None,
        max_tokens: int = 4096,
        max_retries: int = 4,
        timeout: float = 120.0,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 30.0,
        max_retry_after: float = 120.0,
        max_tokens_field: Literal["auto", "max_tokens", "max_completion_tokens"] = "auto",
        price: Price | None = None,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        if not model:
            raise ProviderError("Choose a model for the OpenAI-compatible provider.", code="bad_request")
        official = base_url is None or (urlparse(base_url).hostname or "").endswith("api.openai.com")
        if not api_key and client is None:
            if official:
                raise ProviderError(
                    "No OpenAI API key is configured. Add one in Cookbook's settings, or point the "
                    "provider at a local server with a base URL.",
                    code="auth_required",
                    status=401,
                )
            api_key = LOCAL_API_KEY
        self.model = model
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.base_url = base_url
        self.endpoint = "the OpenAI API" if official else f"the model server at {_host(base_url)}"
        if max_tokens_field == "auto":
            max_tokens_field = "max_completion_tokens" if official else "max_tokens"
        self.max_tokens_field = max_tokens_field
        self.retry = RetryPolicy(
            max_retries=max_retries,
            base_delay=retry_base_delay,
            max_delay=retry_max_delay,
            max_retry_after=max_retry_after,
        )
        self.price = price
        self._secret = api_key if api_key and api_key != LOCAL_API_KEY else ""
        # A client handed in is shared (one connection pool per server): its owner closes it.
        self._owns_client = client is None
        self._client = client or self.make_client(api_key, base_url, timeout)
        # Tool call id -> the arguments string exactly as the model sent it. Re-serialising the
        # parsed arguments could change whitespace or key order and break the cached prefix.
        self._raw_arguments: dict[str, str] = {}

    @staticmethod
    def make_client(
        api_key: str | None, base_url: str | None = None, timeout: float = 120.0
    ) -> openai.AsyncOpenAI:
        """The SDK client; the server shares one per key and endpoint across generations."""
        return openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=openai.Timeout(timeout, connect=min(10.0, timeout)),
        )

    @staticmethod
    def warm_up() -> None:
        """Parse one canned response, as the SDK parses every reply. It builds the validators of
        its response models on first use, which otherwise costs the first generation a few
        hundred milliseconds on the event loop. Blocking: for a worker thread at start."""
        openai.types.chat.ChatCompletion.construct(
            **{  # type: ignore[arg-type]
                "id": "chatcmpl-warm-up",
                "object": "chat.completion",
                "created": 0,
                "model": "warm-up",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": "warm-up",
                            "tool_calls": [
                                {
                                    "id": "call_warm_up",
                                    "type": "function",
                                    "function": {"name": "finish", "arguments": "{}"},
                                }
                            ],
                        },
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
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

        async def attempt() -> Any:
            return await self._client.chat.completions.create(**request)

        response = await call_with_retries(
            attempt, translate=self._translate, policy=self.retry, cancel=cancel, what="chat completion"
        )
        return self._parse(response)

    # -- request ---------------------------------------------------------------------------

    def build_request(
        self, *, system: SystemPrompt, messages: list[Message], tools: list[ToolSpec]
    ) -> dict[str, Any]:
        chat: list[dict[str, Any]] = []
        system_text = system.as_text()
        if system_text:
            chat.append({"role": "system", "content": system_text})
        chat += self.convert_messages(messages)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": chat,
            self.max_tokens_field: self.max_tokens,
        }
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
                }
                for t in tools
            ]
        return request

    def convert_messages(self, messages: list[Message]) -> list[dict[str, Any]]:
        """Neutral messages to chat messages: tool_use blocks become the assistant's `tool_calls`,
        tool_result blocks become `tool` messages (which must directly follow the call), and any
        text a user message carries comes after its tool results."""
        chat: list[dict[str, Any]] = []
        for message in messages:
            blocks = list(message.get("content") or [])
            texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
            text = "\n".join(t for t in texts if t.strip())
            if message.get("role") == "assistant":
                calls = [b for b in blocks if b.get("type") == "tool_use"]
                out: dict[str, Any] = {"role": "assistant", "content": text or None}
                if calls:
                    out["tool_calls"] = [self._call_param(b) for b in calls]
                elif not text:
                    continue
                chat.append(out)
                continue
            for block in blocks:
                if block.get("type") == "tool_result":
                    content = _result_text(block.get("content"))
                    if block.get("is_error"):
                        content = f"ERROR: {content}"
                    chat.append({"role": "tool", "tool_call_id": block["tool_use_id"], "content": content})
            if text:
                chat.append({"role": "user", "content": text})
        return chat

    def _call_param(self, block: dict[str, Any]) -> dict[str, Any]:
        call_id = str(block["id"])
        arguments = self._raw_arguments.get(call_id)
        if arguments is None:
            value = block.get("input")
            arguments = json.dumps(value if isinstance(value, dict) else {})
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": block["name"], "arguments": arguments},
        }

    # -- response --------------------------------------------------------------------------

    def _parse(self, response: Any) -> ModelTurn:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise ProviderError(f"{_cap(self.endpoint)} answered without a choice.", code="invalid_response")
        choice = choices[0]
        message = choice.message
        calls: list[ToolCall] = []
        for tool_call in message.tool_calls or []:
            function = getattr(tool_call, "function", None)
            if function is None:  # a custom (non-function) tool call; not something we offer
                custom = getattr(tool_call, "custom", None)
                name = getattr(custom, "name", "unknown")
                calls.append(
                    ToolCall(
                        id=tool_call.id,
                        name=name,
                        arguments=None,
                        raw_arguments=str(getattr(custom, "input", "")),
                    )
                )
                continue
            raw = (
                function.arguments if isinstance(function.arguments, str) else json.dumps(function.arguments)
            )
            parsed = _tool_call(tool_call.id, function.name, raw)
            if parsed.arguments is not None:
                # Unparsable arguments are not echoed: vLLM parses them when it renders the chat
                # template and would reject the whole conversation.
                self._raw_arguments[tool_call.id] = raw
            calls.append(parsed)
        text = message.content or ""
        if not text and getattr(message, "refusal", None):
            text = str(message.refusal)
        finish = choice.finish_reason or "stop"
        stop_reason = _STOP_REASONS.get(finish, finish)
        if calls and stop_reason == "end_turn":
            # Ollama and some vLLM versions say "stop" even when the turn is tool calls.
            stop_reason = "tool_use"
        return ModelTurn(text=text, tool_calls=calls, stop_reason=stop_reason, usage=self._usage(response))

    def _usage(self, response: Any) -> Usage:
        u = getattr(response, "usage", None)
        if u is None:
            return Usage()
        details = getattr(u, "prompt_tokens_details", None)
        cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
        written = (getattr(details, "cache_write_tokens", None) or 0) if details is not None else 0
        prompt = u.prompt_tokens or 0
        usage = Usage(
            input_tokens=max(0, prompt - cached - written),
            output_tokens=u.completion_tokens or 0,
            cache_read_tokens=cached,
            cache_write_tokens=written,
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
        failure = translate_error(exc, model=self.model, endpoint=self.endpoint, timeout=self.timeout)
        if self._secret:
            failure.error.message = failure.error.message.replace(self._secret, "[redacted]")
            failure.error.args = (failure.error.message,)
        return failure


def translate_error(exc: Exception, *, model: str, endpoint: str, timeout: float) -> Failure:
    """An SDK exception as a ProviderError with a message written for the user."""
    where = _cap(endpoint)
    if isinstance(exc, openai.APITimeoutError):
        return Failure(
            ProviderError(f"{where} did not answer within {timeout:.0f} s.", retryable=True, code="timeout")
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = str(cause) if cause is not None and str(cause) else "connection failed"
        return Failure(
            ProviderError(f"Could not reach {endpoint}: {detail}.", retryable=True, code="connection_error")
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, model=model, endpoint=endpoint)
    if isinstance(exc, (openai.APIResponseValidationError, ValueError)):
        return Failure(
            ProviderError(f"{where} sent a response Cookbook could not read.", code="invalid_response")
        )
    if isinstance(exc, ProviderError):
        return Failure(exc)
    return Failure(ProviderError(f"The request to {endpoint} failed: {type(exc).__name__}: {exc}"))


def _status_failure(exc: openai.APIStatusError, *, model: str, endpoint: str) -> Failure:
    status = exc.status_code
    headers = exc.response.headers
    detail = _api_message(exc.body) or "no details given"
    retryable = should_retry(status, headers)
    retry_after = parse_retry_after(headers) if retryable else None
    where = _cap(endpoint)
    if status == 401:
        message = f"{where} rejected the API key (401). Check the key in Cookbook's settings."
        code = "auth_failed"
    elif status == 403:
        message = f"{where} refused the request (403): {detail}"
        code = "permission_denied"
    elif status == 404:
        message = f"{where} does not know the model {model!r} (404): {detail}"
        code = "model_not_found"
    elif status == 413:
        message = f"The request is too large for {endpoint} (413): {detail}"
        code = "request_too_large"
    elif status == 429:
        message = f"{where} is rate limiting requests (429): {detail}"
        code = "rate_limited"
    elif status >= 500:
        message = f"{where} failed ({status}): {detail}"
        code = "upstream_error"
    else:
        message = f"{where} rejected the request ({status}): {detail}"
        code = "bad_request"
    return Failure(ProviderError(message, retryable=retryable, status=status, code=code), retry_after)


def _api_message(body: object) -> str | None:
    """The error text from OpenAI ({"error": {"message"}}), vLLM ({"message"}) or Ollama
    ({"error": "..."}) bodies."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                value = error.get(key)
                if isinstance(value, str) and value:
                    return value
        for key in ("message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return None


def _tool_call(call_id: str, name: str, raw: str) -> ToolCall:
    if not raw.strip():
        return ToolCall(id=call_id, name=name, arguments={})
    try:
        parsed = json.loads(raw)
    except ValueError:
        return ToolCall(id=call_id, name=name, arguments=None, raw_arguments=raw)
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, arguments=None, raw_arguments=raw)
    return ToolCall(id=call_id, name=name, arguments=parsed)


def _result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Anthropic-style content blocks
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def _host(url: str | None) -> str:
    """host[:port] of a URL, never its user:password part."""
    parsed = urlparse(url or "")
    if not parsed.hostname:
        return "the configured base URL"
    return f"{parsed.hostname}:{parsed.port}" if parsed.port else parsed.hostname


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
