"""A fake OpenAI-compatible chat completions API (`POST /v1/chat/completions`) for the real
`openai` SDK, also standing in for vLLM and Ollama.

    with FakeOpenAI([tool_use("create_cell", {...}), text_reply("Done.")]) as fake:
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake.base_url)

Strict mode answers 400 to conversations the real API rejects (a `tool` message that answers no
pending tool call, an assistant tool call left unanswered). Usage simulates automatic prefix
caching: `cached_tokens` is the longest prefix of whole messages (tools first) seen before.
`ollama_style=True` reports finish_reason "stop" even for tool calls, as Ollama does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .http_server import FakeModelServer, estimate_tokens
from .script import RecordedRequest, Reply

_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length", "refusal": "content_filter"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
_DEFAULT_MESSAGES = {
    401: "Incorrect API key provided.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests",
}


class FakeOpenAI(FakeModelServer):
    url_prefix = "/v1"

    def __init__(
        self, script=(), *, strict: bool = True, min_cache_tokens: int = 0, ollama_style: bool = False
    ) -> None:
        super().__init__(script, strict=strict)
        self.min_cache_tokens = min_cache_tokens
        self.ollama_style = ollama_style
        self._seen: set[str] = set()  # hashes of every message prefix sent so far

    def handles(self, method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/").endswith("/chat/completions")

    @staticmethod
    def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
        """The trailing `tool` messages of the request (the results of the last turn's calls)."""
        messages = (request.body or {}).get("messages") or []
        out: list[dict[str, Any]] = []
        for message in reversed(messages):
            if message.get("role") == "tool":
                out.append(message)
            elif out or message.get("role") != "user":
                break
        return list(reversed(out))

    def validate(self, request: RecordedRequest) -> Reply | None:
        body = request.body
        if body is None:
            return _invalid("We could not parse the JSON body of your request.")
        if not body.get("model") or not isinstance(body.get("messages"), list) or not body["messages"]:
            return _invalid("'model' and a non-empty 'messages' are required.")
        pending: list[str] = []
        for i, message in enumerate(body["messages"]):
            role = message.get("role")
            if role == "tool":
                if message.get("tool_call_id") not in pending:
                    return _invalid(
                        f"Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                        f"message with 'tool_calls'. (messages[{i}])"
                    )
                pending.remove(message["tool_call_id"])
                continue
            if pending:
                return _invalid(
                    "An assistant message with 'tool_calls' must be followed by tool messages responding "
                    f"to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                    f"{', '.join(pending)}"
                )
            if role == "assistant":
                pending = [c.get("id") for c in message.get("tool_calls") or []]
                for c in message.get("tool_calls") or []:
                    if not isinstance((c.get("function") or {}).get("arguments"), str):
                        return _invalid(f"messages[{i}].tool_calls: function.arguments must be a string")
        return None

    def render(self, reply: Reply, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        headers = {"content-type": reply.content_type, "x-request-id": self.next_id("req_fake_")}
        headers.update(reply.headers)
        if reply.body is not None:
            return reply.status, headers, reply.body
        if reply.is_error:
            message = reply.message or _DEFAULT_MESSAGES.get(reply.status, f"fake error {reply.status}")
            error = {
                "message": message,
                "type": reply.error_type or _ERROR_TYPES.get(reply.status, "server_error"),
                "param": None,
                "code": _ERROR_CODES.get(reply.status),
            }
            return reply.status, headers, json.dumps({"error": error}).encode()
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.calls:
            message["tool_calls"] = [
                {
                    "id": scripted.id or self.next_id("call_fake_"),
                    "type": "function",
                    "function": {
                        "name": scripted.name,
                        "arguments": scripted.raw
                        if scripted.raw is not None
                        else json.dumps(scripted.input or {}),
                    },
                }
                for scripted in reply.calls
            ]
        stop = reply.stop_reason or ("tool_use" if reply.calls else "end_turn")
        finish = _FINISH.get(stop, "stop")
        if self.ollama_style and finish == "tool_calls":
            finish = "stop"
        usage = self.simulate_usage(request.body or {}, message)
        if reply.usage:
            usage.update(reply.usage)
        body = {
            "id": self.next_id("chatcmpl-fake"),
            "object": "chat.completion",
            "created": 1_800_000_000,
            "model": (request.body or {}).get("model", "fake-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        }
        return 200, headers, json.dumps(body).encode()

    def simulate_usage(self, body: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
        parts: list[Any] = [{"tools": body.get("tools") or []}] + list(body.get("messages") or [])
        digest = hashlib.sha256()
        total = 0
        cached = 0
        prefixes: list[str] = []
        with self._lock:
            for part in parts:
                digest.update(json.dumps(part, sort_keys=True, separators=(",", ":")).encode())
                key = digest.copy().hexdigest()
                total += estimate_tokens(part)
                prefixes.append(key)
                if key in self._seen and total >= self.min_cache_tokens:
                    cached = total
            self._seen.update(prefixes)
        completion = estimate_tokens(output)
        return {
            "prompt_tokens": total,
            "completion_tokens": completion,
            "total_tokens": total + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }


def _invalid(message: str) -> Reply:
    return Reply(status=400, message=message, error_type="invalid_request_error")
