"""Model prices (USD per million tokens) and the cost of one turn's usage.

An estimate for the panel's running total, not a bill: prices change, so unknown models cost 0
and deployments can pass their own `Price` to a provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """USD per million tokens. Cache rates default to Anthropic's usual 0.1x (read) and 1.25x
    (5-minute write) of the input rate; models priced differently set them explicitly."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    # Some models charge more for every token of a request whose prompt (input + cache reads +
    # cache writes) exceeds a threshold.
    long_prompt_threshold: int | None = None
    long_prompt: Price | None = None

    @property
    def cache_read_rate(self) -> float:
        return self.input * 0.1 if self.cache_read is None else self.cache_read

    @property
    def cache_write_rate(self) -> float:
        return self.input * 1.25 if self.cache_write is None else self.cache_write

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """The cost of one request; `input_tokens` excludes the cached and cache-written ones."""
        prompt = input_tokens + cache_read_tokens + cache_write_tokens
        rates = self
        if self.long_prompt is not None and self.long_prompt_threshold is not None:
            if prompt > self.long_prompt_threshold:
                rates = self.long_prompt
        return (
            input_tokens * rates.input
            + output_tokens * rates.output
            + cache_read_tokens * rates.cache_read_rate
            + cache_write_tokens * rates.cache_write_rate
        ) / 1_000_000


# From Anthropic's pricing pages as of November 2026; keys are model ids without date suffixes.
_OPUS_45_TO_5 = Price(5.0, 25.0)
_SONNET_4 = Price(3.0, 15.0)
ANTHROPIC_PRICES: dict[str, Price] = {
    "claude-fable-5-2": Price(8.0, 40.0, cache_read=0.20),
    "claude-mythos-5-2": Price(8.0, 40.0, cache_read=0.20),
    "claude-fable-5-1": Price(10.0, 50.0, cache_read=0.25),
    "claude-mythos-5-1": Price(10.0, 50.0, cache_read=0.25),
    "claude-fable-5": Price(10.0, 50.0),
    "claude-mythos-5": Price(10.0, 50.0),
    "claude-opus-5-5": Price(4.0, 20.0, cache_read=0.20),
    "claude-opus-5": _OPUS_45_TO_5,
    "claude-opus-4-8": _OPUS_45_TO_5,
    "claude-opus-4-7": _OPUS_45_TO_5,
    "claude-opus-4-6": _OPUS_45_TO_5,
    "claude-opus-4-5": _OPUS_45_TO_5,
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-5-5": Price(2.0, 10.0, cache_read=0.10),
    "claude-sonnet-5": Price(2.0, 10.0),
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-haiku-5-5": Price(
        0.10,
        0.50,
        cache_read=0.01,
        long_prompt_threshold=100_000,
        long_prompt=Price(0.50, 2.50, cache_read=0.05),
    ),
    "claude-haiku-4-5": Price(1.0, 5.0),
}

_DATE_SUFFIX = re.compile(r"-\d{8}$")


def price_for(model: str, table: dict[str, Price] | None = None) -> Price | None:
    """The price of `model` (exact id, dated snapshot, or the longest known prefix), or None."""
    table = ANTHROPIC_PRICES if table is None else table
    name = model.strip().lower().removeprefix("anthropic.").split("[", 1)[0]
    name = _DATE_SUFFIX.sub("", name)
    if name in table:
        return table[name]
    best = ""
    for key in table:
        if name.startswith(key + "-") and len(key) > len(best):
            best = key
    return table[best] if best else None
