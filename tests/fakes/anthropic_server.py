"""A fake Anthropic Messages API (`POST /v1/messages`) for the real `anthropic` SDK.

    with FakeAnthropic([tool_use("create_cell", {"code": "1 + 1", "type": "code"}),
                        text_reply("Done.")]) as fake:
        client = anthropic.AsyncAnthropic(api_key="sk-test", base_url=fake.base_url)
        ...
        fake.requests[0].body["system"]

Strict mode answers 400, like the real API, to requests it would reject: more than four
cache_control blocks, empty text blocks, a tool_use without its tool_result in the next message,
and thinking blocks that come back altered. Usage simulates prompt caching: a request reads from
the cache the longest prefix that an earlier request marked with cache_control (looking back at
most 20 blocks from each breakpoint, as the API does) and writes the rest up to its last marker.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .http_server import FakeModelServer, estimate_tokens
from .script import RecordedRequest, Reply

LOOKBACK_BLOCKS = 20
MAX_BREAKPOINTS = 4

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_DEFAULT_MESSAGES = {
    401: "invalid x-api-key",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    529: "Overloaded",
}


class FakeAnthropic(FakeModelServer):
    def __init__(self, script=(), *, strict: bool = True, min_cache_tokens: int = 0) -> None:
        super().__init__(script, strict=strict)
        self.min_cache_tokens = min_cache_tokens
        self._cache: dict[str, int] = {}  # prefix hash -> prefix tokens, for written prefixes
        self._signatures: dict[str, str] = {}  # thinking signature -> thinking text issued

    def handles(self, method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/").endswith("/v1/messages")

    # -- helpers for tests ---------------------------------------------------------------------

    @staticmethod
    def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
        """The tool_result blocks of the request's last message, as sent."""
        messages = (request.body or {}).get("messages") or []
        if not messages:
            return []
        content = messages[-1].get("content")
        if not isinstance(content, list):
            return []
        return [b for b in content if b.get("type") == "tool_result"]

    @staticmethod
    def cache_markers(request: RecordedRequest) -> list[str]:
        """Where the request put cache_control: "tools[i]", "system[i]", "messages[i].content[j]"."""
        body = request.body or {}
        found = [f"tools[{i}]" for i, t in enumerate(body.get("tools") or []) if t.get("cache_control")]
        system = body.get("system")
        if isinstance(system, list):
            found += [f"system[{i}]" for i, b in enumerate(system) if b.get("cache_control")]
        for i, message in enumerate(body.get("messages") or []):
            content = message.get("content")
            if isinstance(content, list):
                found += [
                    f"messages[{i}].content[{j}]" for j, b in enumerate(content) if b.get("cache_control")
                ]
        return found

    # -- validation ------------------------------------------------------------------------

    def validate(self, request: RecordedRequest) -> Reply | None:
        body = request.body
        if body is None:
            return _invalid("request body is not valid JSON")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return _invalid(f"{key}: Field required")
        if len(self.cache_markers(request)) > MAX_BREAKPOINTS:
            return _invalid(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided.")
        messages = body["messages"]
        if not messages:
            return _invalid("messages: at least one message is required")
        for i, message in enumerate(messages):
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            if not blocks:
                return _invalid(f"messages.{i}: content must be non-empty")
            for j, block in enumerate(blocks):
                if block.get("type") == "text" and not str(block.get("text") or "").strip():
                    return _invalid(f"messages.{i}.content.{j}: text content blocks must be non-empty")
                if block.get("type") == "tool_use" and not isinstance(block.get("input"), dict):
                    return _invalid(f"messages.{i}.content.{j}.input: Input should be a valid dictionary")
                if block.get("type") == "thinking":
                    issued = self._signatures.get(str(block.get("signature")))
                    if issued is None or issued != block.get("thinking"):
                        return _invalid(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
            uses = [b["id"] for b in blocks if b.get("type") == "tool_use"]
            if uses and message.get("role") == "assistant":
                following = messages[i + 1] if i + 1 < len(messages) else None
                answered = set()
                if following is not None and isinstance(following.get("content"), list):
                    answered = {
                        b.get("tool_use_id") for b in following["content"] if b.get("type") == "tool_result"
                    }
                missing = [u for u in uses if u not in answered]
                if missing:
                    return _invalid(
                        "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately "
                        "after: {}. Each `tool_use` block must have a corresponding `tool_result` block "
                        "in the next message.".format(i, ", ".join(missing))
                    )
        return None

    # -- rendering ---------------------------------------------------------------------------

    def render(self, reply: Reply, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        headers = {"content-type": reply.content_type, "request-id": self.next_id("req_fake_")}
        headers.update(reply.headers)
        if reply.body is not None:
            return reply.status, headers, reply.body
        if reply.is_error:
            error_type = reply.error_type or _ERROR_TYPES.get(reply.status, "api_error")
            message = reply.message or _DEFAULT_MESSAGES.get(reply.status, f"fake error {reply.status}")
            body = {"type": "error", "error": {"type": error_type, "message": message}}
            return reply.status, headers, json.dumps(body).encode()
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            signature = "sig_" + hashlib.sha256(reply.thinking.encode()).hexdigest()[:32]
            self._signatures[signature] = reply.thinking
            content.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for scripted in reply.calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": scripted.id or self.next_id("toolu_fake_"),
                    "name": scripted.name,
                    "input": scripted.raw if scripted.raw is not None else (scripted.input or {}),
                }
            )
        stop_reason = reply.stop_reason or ("tool_use" if reply.calls else "end_turn")
        usage = self.simulate_usage(request.body or {}, content)
        if reply.usage:
            usage.update(reply.usage)
        body = {
            "id": self.next_id("msg_fake_"),
            "type": "message",
            "role": "assistant",
            "model": (request.body or {}).get("model", "claude-fake"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        return 200, headers, json.dumps(body).encode()

    # -- prompt caching simulation ---------------------------------------------------------------

    def simulate_usage(self, body: dict[str, Any], output: list[dict[str, Any]]) -> dict[str, int]:
        blocks = _flatten(body)
        hashes: list[str] = []
        totals: list[int] = []
        digest = hashlib.sha256()
        running = 0
        for key, tokens, _ in blocks:
            digest.update(key.encode())
            hashes.append(digest.copy().hexdigest())
            running += tokens
            totals.append(running)
        breakpoints = [i for i, (_, _, marked) in enumerate(blocks) if marked]
        read = 0
        with self._lock:
            for bp in breakpoints:
                for p in range(bp, max(-1, bp - LOOKBACK_BLOCKS), -1):
                    if hashes[p] in self._cache:
                        read = max(read, totals[p])
                        break
            write_upto = 0
            for bp in breakpoints:
                if totals[bp] >= self.min_cache_tokens:
                    self._cache[hashes[bp]] = totals[bp]
                    write_upto = max(write_upto, totals[bp])
        write = max(0, write_upto - read)
        total = running
        return {
            "input_tokens": max(0, total - read - write),
            "output_tokens": estimate_tokens(output) if output else 1,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
        }


def _flatten(body: dict[str, Any]) -> list[tuple[str, int, bool]]:
    """The request as cacheable blocks in prefix order: (identity, tokens, has cache_control)."""
    out: list[tuple[str, int, bool]] = []

    def add(section: str, block: Any) -> None:
        if isinstance(block, dict):
            marked = bool(block.get("cache_control"))
            plain = {k: v for k, v in block.items() if k != "cache_control"}
        else:
            marked, plain = False, block
        key = section + json.dumps(plain, sort_keys=True, separators=(",", ":"))
        out.append((key, estimate_tokens(plain), marked))

    for tool in body.get("tools") or []:
        add("tool:", tool)
    system = body.get("system")
    if isinstance(system, str):
        add("system:", {"type": "text", "text": system})
    elif isinstance(system, list):
        for block in system:
            add("system:", block)
    for message in body.get("messages") or []:
        content = message.get("content")
        role = str(message.get("role"))
        if isinstance(content, str):
            add(role + ":", {"type": "text", "text": content})
        else:
            for block in content or []:
                add(role + ":", block)
    return out


def _invalid(message: str) -> Reply:
    return Reply(status=400, message=message, error_type="invalid_request_error")
