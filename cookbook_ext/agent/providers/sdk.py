"""What the SDK-backed providers share: the client, retries with backoff, the turn, the errors.

The `anthropic` and `openai` SDKs are generated alike (the same client options, the same exception
classes), so one base holds the client, the retry loop, `next_turn` and the status ladder; each
subclass keeps its request building, response translation and wording. The SDK is imported on first
use (a client, a warm-up, an error), not with the provider's module: the registry reads every
provider's class at start, and importing an SDK nobody uses costs the server a second or more.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from abc import abstractmethod
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

from .base import Message, ModelTurn, Provider, ProviderError, SystemPrompt, ToolCall, ToolSpec, Usage
from .pricing import Price
from .retry import Failure, RetryPolicy, call_with_retries, parse_retry_after, should_retry

# A placeholder key for servers that take none (vLLM, Ollama); the SDKs refuse an empty one.
LOCAL_API_KEY = "not-needed"


class SDKProvider(Provider):
    """A model behind an SDK client, retried with `RetryPolicy` (the SDK's own retries are off).

    Subclasses set `sdk_module`, `client_class` and `endpoint` (how messages name the server) and
    implement `build_request`, `_send` and `_parse`; `status_message` rewords HTTP errors.
    """

    sdk_module: str = ""  # e.g. "anthropic": imported by `sdk()` on first use
    client_class: str = ""  # its asyncio client, e.g. "AsyncAnthropic"
    request_label: str = "model request"  # what the retry log calls one attempt

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
        price: Price | None = None,
        client: Any | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.retry = RetryPolicy(
            max_retries=max_retries,
            base_delay=retry_base_delay,
            max_delay=retry_max_delay,
            max_retry_after=max_retry_after,
        )
        self.price = price
        self.endpoint = "the model API"
        # Masked out of every error message: servers echo a rejected key back.
        self._secret = api_key if api_key and api_key != LOCAL_API_KEY else ""
        # A client handed in is shared (one connection pool per server): its owner closes it.
        self._owns_client = client is None
        self._client = client or self.make_client(api_key, base_url, timeout)

    # -- the plug-in side -------------------------------------------------------------------

    @classmethod
    def sdk(cls) -> ModuleType:
        return importlib.import_module(cls.sdk_module)

    @classmethod
    def make_client(cls, api_key: str | None, base_url: str | None = None, timeout: float = 120.0) -> Any:
        """The SDK client; the registry shares one per key and endpoint across generations."""
        sdk = cls.sdk()
        client_class = getattr(sdk, cls.client_class)
        return client_class(
            api_key=api_key or LOCAL_API_KEY,
            base_url=base_url,
            max_retries=0,
            timeout=_sdk_timeout(sdk, timeout),
        )

    @classmethod
    def create(
        cls, *, api_key: str | None, model: str | None, options: dict[str, Any], client: Any | None
    ) -> Provider:
        """`options` are constructor keywords (base_url, max_tokens, timeout, max_retries...)."""
        options = dict(options)
        if client is not None and "timeout" in options:
            # The shared connection pool, with this deployment's timeout.
            client = client.with_options(timeout=_sdk_timeout(cls.sdk(), float(options["timeout"])))
        return cls(api_key, model or cls.default_model or "", client=client, **options)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.close()

    # -- one turn ---------------------------------------------------------------------------

    async def next_turn(
        self,
        *,
        system: SystemPrompt,
        messages: list[Message],
        tools: list[ToolSpec],
        cancel: asyncio.Event,
    ) -> ModelTurn:
        request = self.build_request(system=system, messages=messages, tools=tools)
        response = await call_with_retries(
            lambda: self._send(request),
            translate=self._translate,
            policy=self.retry,
            cancel=cancel,
            what=self.request_label,
        )
        return self._parse(response)

    @abstractmethod
    def build_request(
        self, *, system: SystemPrompt, messages: list[Message], tools: list[ToolSpec]
    ) -> dict[str, Any]:
        """The keyword arguments of the SDK call for this conversation."""

    @abstractmethod
    async def _send(self, request: dict[str, Any]) -> Any:
        """One attempt: the SDK call with `request`."""

    @abstractmethod
    def _parse(self, response: Any) -> ModelTurn:
        """The SDK's response as a neutral turn."""

    def _priced(self, usage: Usage) -> Usage:
        if self.price is not None:
            usage.cost_usd = self.price.cost(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
            )
        return usage

    # -- errors -----------------------------------------------------------------------------

    def _translate(self, exc: Exception) -> Failure:
        failure = self.translate_error(exc)
        if self._secret:
            failure.error.message = failure.error.message.replace(self._secret, "[redacted]")
            failure.error.args = (failure.error.message,)
        return failure

    def translate_error(self, exc: Exception) -> Failure:
        """An SDK exception as a ProviderError with a message written for the user."""
        sdk = self.sdk()
        where = cap(self.endpoint)
        if isinstance(exc, ProviderError):
            return Failure(exc)
        if isinstance(exc, sdk.APITimeoutError):  # before APIConnectionError: it is one
            return Failure(
                ProviderError(
                    f"{where} did not answer within {self.timeout:.0f} s.", retryable=True, code="timeout"
                )
            )
        if isinstance(exc, sdk.APIConnectionError):
            return Failure(
                ProviderError(
                    f"Could not reach {self.endpoint}: {_cause(exc)}.",
                    retryable=True,
                    code="connection_error",
                )
            )
        if isinstance(exc, sdk.APIStatusError):
            return self._status_failure(exc)
        if isinstance(exc, (sdk.APIResponseValidationError, ValueError)):
            return Failure(
                ProviderError(f"{where} sent a response Cookbook could not read.", code="invalid_response")
            )
        return Failure(ProviderError(f"The request to {self.endpoint} failed: {type(exc).__name__}: {exc}"))

    def _status_failure(self, exc: Any) -> Failure:
        status: int = exc.status_code
        headers = exc.response.headers
        code, message = self.status_message(exc, status, api_message(exc.body) or "no details given")
        # An overloaded server asks for patience whatever its headers say.
        retryable = should_retry(status, headers) or code == "overloaded"
        retry_after = parse_retry_after(headers) if retryable else None
        return Failure(ProviderError(message, retryable=retryable, status=status, code=code), retry_after)

    def status_message(self, exc: Any, status: int, detail: str) -> tuple[str, str]:
        """The failure code and the user's message for an HTTP error status; subclasses reword."""
        where = cap(self.endpoint)
        if status == 401:
            return "auth_failed", f"{where} rejected the API key (401). Check the key in Cookbook's settings."
        if status == 403:
            return "permission_denied", f"{where} refused the request (403): {detail}"
        if status == 404:
            return "model_not_found", f"{where} does not know the model {self.model!r} (404): {detail}"
        if status == 413:
            return "request_too_large", f"The request is too large for {self.endpoint} (413): {detail}"
        if status == 429:
            return "rate_limited", f"{where} is rate limiting requests (429): {detail}"
        if status >= 500:
            return "upstream_error", f"{where} failed ({status}): {detail}"
        return "bad_request", f"{where} rejected the request ({status}): {detail}"


def tool_call(call_id: str, name: str, arguments: object) -> ToolCall:
    """A tool call from the arguments the API sent: an object, or JSON text that should hold
    one. Anything else keeps its text in `raw_arguments` so the loop can tell the model."""
    if isinstance(arguments, dict):
        return ToolCall(id=call_id, name=name, arguments=arguments)
    if not isinstance(arguments, str):
        return ToolCall(id=call_id, name=name, arguments=None, raw_arguments=json.dumps(arguments))
    if not arguments.strip():
        return ToolCall(id=call_id, name=name, arguments={})
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return ToolCall(id=call_id, name=name, arguments=None, raw_arguments=arguments)
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, arguments=None, raw_arguments=arguments)
    return ToolCall(id=call_id, name=name, arguments=parsed)


def api_message(body: object) -> str | None:
    """The error text of an error body: Anthropic's and OpenAI's ({"error": {"message"}}),
    vLLM's ({"message"}), Ollama's ({"error": "..."}), or plain text."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, str) and error.strip():
            return error.strip()
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                value = error.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
        for key in ("message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return None


def host(url: str | None) -> str:
    """host[:port] of a URL, never its user:password part."""
    parsed = urlparse(url or "")
    if not parsed.hostname:
        return "the configured base URL"
    return f"{parsed.hostname}:{parsed.port}" if parsed.port else parsed.hostname


def _sdk_timeout(sdk: ModuleType, timeout: float) -> Any:
    return sdk.Timeout(timeout, connect=min(10.0, timeout))


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause) if cause is not None else ""
    return text or str(exc) or type(exc).__name__


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]
