"""Retries for model calls: exponential backoff with jitter that honours `retry-after`.

Both SDKs can retry on their own, but with a fixed base delay and no way to give up on a long
`retry-after`; the providers turn SDK retries off and use this instead, so the policy is the same
for every backend and tests can shrink the delays.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .base import ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Statuses worth another try: timeouts, lock conflicts, rate limits, server errors, overload (529).
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed model call.

    The n-th retry waits `retry-after` when the server sent one, otherwise
    `min(max_delay, base_delay * 2**n)` scaled by a random factor in [0.5, 1] so that many
    clients do not retry in lockstep. A `retry-after` above `max_retry_after` is not slept
    through: the error goes to the user at once (a quota that resets in an hour is not a blip).
    """

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def backoff(self, retry: int) -> float:
        delay = min(self.max_delay, self.base_delay * 2.0**retry)
        return delay * random.uniform(0.5, 1.0)


@dataclass
class Failure:
    """A failed attempt, translated: the error to raise and, if any, how long the server asked
    us to wait before trying again."""

    error: ProviderError
    retry_after: float | None = None


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or an HTTP date), or None."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))


def should_retry(status: int, headers: Mapping[str, str] | None) -> bool:
    """Whether an HTTP error status is worth retrying; the server's `x-should-retry` wins."""
    hint = (headers or {}).get("x-should-retry")
    if hint == "true":
        return True
    if hint == "false":
        return False
    return status in RETRYABLE_STATUSES or status >= 500


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    translate: Callable[[Exception], Failure],
    policy: RetryPolicy,
    cancel: asyncio.Event | None = None,
    what: str = "model call",
) -> T:
    """Run `attempt` until it succeeds, fails for good, or retries run out.

    `translate` maps an exception from the SDK to a `Failure`; a ProviderError that is not
    `retryable` is raised at once. Cancellation (task cancel, or `cancel` set while waiting
    between attempts) propagates as `asyncio.CancelledError`.
    """
    retry = 0
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = translate(exc)
            if not failure.error.retryable:
                raise failure.error from exc
            if retry >= policy.max_retries:
                if retry:
                    _append(failure.error, f"Gave up after {retry} retries.")
                raise failure.error from exc
            if failure.retry_after is not None and failure.retry_after > policy.max_retry_after:
                _append(
                    failure.error, f"The server asked to wait {failure.retry_after:.0f} s before retrying."
                )
                raise failure.error from exc
            delay = failure.retry_after if failure.retry_after is not None else policy.backoff(retry)
            retry += 1
            log.info(
                "%s failed (%s); retry %d of %d in %.2f s",
                what,
                failure.error.message,
                retry,
                policy.max_retries,
                delay,
            )
            await _sleep(delay, cancel)


def _append(error: ProviderError, sentence: str) -> None:
    error.message = f"{error.message.rstrip()} {sentence}"
    error.args = (error.message,)


async def _sleep(delay: float, cancel: asyncio.Event | None) -> None:
    if cancel is None:
        await asyncio.sleep(delay)
        return
    if cancel.is_set():
        raise asyncio.CancelledError
    try:
        await asyncio.wait_for(cancel.wait(), timeout=delay)
    except asyncio.TimeoutError:
        return
    raise asyncio.CancelledError
