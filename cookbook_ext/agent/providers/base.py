"""The provider contract: a neutral, Anthropic-shaped conversation every model backend speaks.

The agent loop only sees these types; each provider translates them to and from its own API. A
provider is also a plug-in: its class declares what the registry needs to list and make it.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

# A message is {"role": "user" | "assistant", "content": list[Block]}, where a block is one of
#   {"type": "text", "text": str}
#   {"type": "tool_use", "id": str, "name": str, "input": dict}
#   {"type": "tool_result", "tool_use_id": str, "content": str, "is_error": bool}
# A text block may carry "cache_point": True: the conversation's stable prefix ends there (the
# opening message's material blocks); providers with explicit prompt caching put a breakpoint on it.
# Plain dicts (not classes) so conversations serialise to JSON and the store without adapters.
Block = dict[str, Any]
Message = dict[str, Any]


@dataclass
class ToolSpec:
    """A tool the model may call; `input_schema` is a JSON schema for its arguments."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class ToolCall:
    """One tool call the model made.

    `arguments` is None and `raw_arguments` holds the text when the model sent JSON that does not
    parse, so the loop can tell the model what was wrong instead of crashing.
    """

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str | None = None
    # Where a create_cell's code came from when the provider knows (the offline provider copies
    # "repository" or "model_card" snippets); None: written by the model. Never sent to a model.
    origin: str | None = None
    # An edit_cell that is a deterministic repair ({"kind", "detail"}, the offline provider's):
    # the tools announce it as a `repair` event. Never sent to a model either.
    repair: dict[str, str] | None = None
    # What a create_cell's cell is, when the provider knows (the offline provider does): its
    # title, where its code comes from, what it installs. For the badge and the metadata; never
    # sent to a model. None: the tools work it out (the heading above it, its first comment).
    cell: CellSource | None = None


@dataclass
class CellSource:
    """Where a cell comes from, as its badge and `metadata.cookbook` say it.

    `kind` is "readme", "example", "model_card" or "cookbook" (Cookbook's own scaffolding);
    `detail` names it ("README.md § Usage", "examples/summarise.py", "acme/tiny model card").
    `installs`: the requirements the cell installs when missing, named on its approval card.
    """

    kind: str = "cookbook"
    detail: str = ""
    title: str = ""
    installs: list[str] = field(default_factory=list)


@dataclass
class Usage:
    """Tokens and cost of one or more model turns; `+` adds them up."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelTurn:
    """What the model answered in one turn.

    `stop_reason` uses Anthropic's vocabulary: "end_turn", "tool_use", "max_tokens",
    "stop_sequence" (providers map their own values onto these).
    """

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop_reason: str = "end_turn"
    usage: Usage = field(default_factory=Usage)


@dataclass
class SystemPrompt:
    """Cookbook's own instructions, sent as the system prompt.

    Only trusted text belongs here. Repository material, model cards and tool results travel in
    the conversation as labelled untrusted_data blocks (agent/untrusted.py), never in the system
    prompt. `context` is for trusted per-generation additions; the loop leaves it empty.
    """

    instructions: str
    context: str = ""

    def as_text(self) -> str:
        """Both parts joined: the system text providers send."""
        if not self.context:
            return self.instructions
        return f"{self.instructions}\n\n{self.context}"


class ProviderError(Exception):
    """A model call failed. The loop turns it into a `failed` event carrying `message`.

    `retryable` says whether trying again later could help (rate limit, overload, network);
    `status` is the upstream HTTP status when there was one; `code` is the failure code the
    `failed` event carries.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        code: str = "provider_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.code = code


class Provider(ABC):
    """A model backend. One instance serves one generation; whoever created it calls `aclose`.

    A package adds one by naming its class in the `cookbook_ext.providers` entry-point group
    (see registry.py). The class attributes below are read before any instance exists: for the
    status the panel shows, the keys to look up and the defaults to fill in.
    """

    # The registry lists a class under its entry point's name (what users pick); this one is what
    # the loop's events call it. The built-ins use the same name for both.
    name: str = "provider"
    display_name: str = ""  # as the panel shows it; empty: `name`
    key_name: str | None = None  # the secret it needs, e.g. "ANTHROPIC_API_KEY"; None: none
    default_model: str | None = None  # when neither the request nor the configuration names one
    model: str = ""
    # Whether a model writes its turns: False for one that plays the repository's own examples
    # (offline). The progress then speaks of examples, not a model, and the panel hides tokens
    # and cost (`uses_model` in cookbook/status and in the `started` event). A model gets a notebook
    # that fails the fresh-kernel check back to fix; for the others the loop drops failing cells.
    uses_model: bool = True

    @classmethod
    def create(
        cls, *, api_key: str | None, model: str | None, options: dict[str, Any], client: Any | None
    ) -> Provider:
        """Make one for a generation: the registry's factory.

        `api_key` is the stored secret named by `key_name` (None when there is none), `model` the
        model asked for or configured (None: the provider's own default), `options` what the
        deployment configured for this provider (`ProviderRegistry.provider_options`), `client`
        the shared client from `make_client` (None when there is none). Default: the class
        called without arguments, enough for a provider that needs nothing.
        """
        return cls()

    @classmethod
    def available(cls, api_key: str | None, options: dict[str, Any]) -> bool:
        """Whether a generation could use it now: by default, when it needs no key or has one."""
        return cls.key_name is None or bool(api_key)

    @classmethod
    def missing_key_message(cls) -> str:
        """What the user is told when they pick it while `available` is false."""
        return (
            f"No {cls.display_name or cls.name} API key is configured: add {cls.key_name} in "
            "Cookbook's secrets, or choose the offline provider."
        )

    @classmethod
    def make_client(cls, api_key: str | None, base_url: str | None = None) -> Any | None:
        """A network client every generation with the same key and endpoint can share (one
        connection pool per server), handed to `create`; its owner, the registry, closes it.
        Default: None, nothing to share."""
        return None

    @classmethod
    def warm_up(cls) -> None:
        """Pay one-off costs (importing an SDK, building its parsers) ahead of the first
        generation. Blocking: called from a worker thread at start for providers in use.
        Default: nothing to pay."""
        return None

    @abstractmethod
    async def next_turn(
        self,
        *,
        system: SystemPrompt,
        messages: list[Message],
        tools: list[ToolSpec],
        cancel: asyncio.Event,
    ) -> ModelTurn:
        """Send the conversation and return the model's next turn.

        Raise `ProviderError` for failures. The loop also cancels this coroutine's task when
        `cancel` is set, so implementations need not poll it, but may (e.g. between retries).
        """

    def prepare(  # noqa: B027 - an optional hook; most providers need nothing here
        self, *, request: Any, repo: dict[str, Any] | None, model: dict[str, Any] | None
    ) -> None:
        """Called by the loop once, before the first turn, with the generation's inputs, in a
        worker thread (off the event loop: it may block, but must not touch the loop).

        Model-backed providers get everything they need from the prompt and ignore this; the
        offline provider plans its cells from these structured inputs. `request` is the loop's
        `GenerationRequest`.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional, like prepare
        """Release network clients. Default: nothing to release."""
