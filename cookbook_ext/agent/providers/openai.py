"""The OpenAI-compatible provider: chat completions with function calling.

Talks to OpenAI itself or to any server with the same API (vLLM, Ollama, LiteLLM...) through
`base_url`; local servers take any non-empty API key. Prefix caching there is automatic, so the
conversation is sent back exactly as the model produced it (arguments strings included) to keep
the prefix byte-identical from turn to turn.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from .base import Message, ModelTurn, ProviderError, SystemPrompt, ToolCall, ToolSpec, Usage
from .sdk import LOCAL_API_KEY, SDKProvider, cap, host, tool_call

if TYPE_CHECKING:
    import openai

__all__ = ["DEFAULT_MODEL", "LOCAL_API_KEY", "OpenAIProvider"]

DEFAULT_MODEL = "gpt-4o-mini"

_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAIProvider(SDKProvider):
    """A chat completions model through `openai.AsyncOpenAI`.

    `max_tokens_field` picks the request field for the output limit: OpenAI's own API wants
    `max_completion_tokens` (reasoning models reject `max_tokens`), while older compatible servers
    only know `max_tokens`; "auto" chooses by whether `base_url` points at api.openai.com.
    """

    name = "openai"
    display_name = "OpenAI-compatible"
    key_name = "OPENAI_API_KEY"
    default_model = DEFAULT_MODEL
    sdk_module = "openai"
    client_class = "AsyncOpenAI"
    request_label = "chat completion"

    def __init__(
        self,
        api_key: str | None,
        model: str,
        *,
        base_url: str | None = None,
        max_tokens_field: Literal["auto", "max_tokens", "max_completion_tokens"] = "auto",
        client: openai.AsyncOpenAI | None = None,
        **options: Any,
    ) -> None:
        """`options` are SDKProvider's (max_tokens, retries, timeout, price)."""
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
        super().__init__(api_key, model, base_url=base_url, client=client, **options)
        self.endpoint = "the OpenAI API" if official else f"the model server at {host(base_url)}"
        if max_tokens_field == "auto":
            max_tokens_field = "max_completion_tokens" if official else "max_tokens"
        self.max_tokens_field = max_tokens_field
        # Tool call id -> the arguments string exactly as the model sent it. Re-serialising the
        # parsed arguments could change whitespace or key order and break the cached prefix.
        self._raw_arguments: dict[str, str] = {}

    @classmethod
    def available(cls, api_key: str | None, options: dict[str, Any]) -> bool:
        """With a key, or without one when a base URL points at a local server."""
        return bool(api_key) or bool(options.get("base_url"))

    @classmethod
    def missing_key_message(cls) -> str:
        return (
            "No OpenAI API key is configured: add OPENAI_API_KEY in Cookbook's secrets, "
            "or configure a local OpenAI-compatible endpoint."
        )

    @classmethod
    def warm_up(cls) -> None:
        """Parse one canned response, as the SDK parses every reply. It builds the validators of
        its response models on first use, which otherwise costs the first generation a few
        hundred milliseconds on the event loop. Blocking: for a worker thread at start."""
        import openai

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

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self._client.chat.completions.create(**request)

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
            raise ProviderError(f"{cap(self.endpoint)} answered without a choice.", code="invalid_response")
        choice = choices[0]
        message = choice.message
        calls: list[ToolCall] = []
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is None:  # a custom (non-function) tool call; not something we offer
                custom = getattr(call, "custom", None)
                name = getattr(custom, "name", "unknown")
                calls.append(
                    ToolCall(
                        id=call.id,
                        name=name,
                        arguments=None,
                        raw_arguments=str(getattr(custom, "input", "")),
                    )
                )
                continue
            raw = (
                function.arguments if isinstance(function.arguments, str) else json.dumps(function.arguments)
            )
            parsed = tool_call(call.id, function.name, raw)
            if parsed.arguments is not None:
                # Unparsable arguments are not echoed: vLLM parses them when it renders the chat
                # template and would reject the whole conversation.
                self._raw_arguments[call.id] = raw
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
        return self._priced(
            Usage(
                input_tokens=max(0, prompt - cached - written),
                output_tokens=u.completion_tokens or 0,
                cache_read_tokens=cached,
                cache_write_tokens=written,
            )
        )


def _result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Anthropic-style content blocks
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)
