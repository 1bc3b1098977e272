"""Every generation's events: numbered, stored before anyone can read them, kept in memory while the
generation runs, and served to readers as a resumable long poll.

`EventLog` is one per server. `EventLog.open(generation_id)` gives the `GenerationLog` a running
generation emits into (the engine's EventSink); `wait` answers `GET .../events?after=N&timeout=S`.
Events arriving together from several generations are written in one transaction (group commit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .store import AsyncStore

EVENTS_PAGE = 500
# How many of a running generation's latest stored events are kept in memory for readers.
EVENTS_IN_MEMORY = 2 * EVENTS_PAGE

_Queued = tuple["GenerationLog", dict[str, Any], "asyncio.Future[None]"]


class GenerationLog:
    """Numbers, stores and announces one generation's events.

    `emit` returns once the event is stored; only then is it readable. The latest stored events
    are also kept here, so a reader following a running generation is answered without a query.
    """

    def __init__(
        self,
        events: EventLog,
        generation_id: str,
        *,
        start_seq: int = 0,
        redact: Callable[[Any], Any] | None = None,
    ) -> None:
        self._events = events
        self.generation_id = generation_id
        self.seq = start_seq
        self._redact = redact  # masks every string of an event's data (None: nothing to mask)
        self._stored: list[dict[str, Any]] = []  # the latest stored events, consecutive seqs
        self._stored_after = start_seq  # the seq just before _stored[0]
        self._memory_ok = True
        self.running = True

    async def emit(self, type: str, data: dict[str, Any], *, masked: bool = False) -> None:
        """Store and announce one event. `masked`: the caller already applied this generation's
        redactor to every string in `data` (the engine's events are), so it is not walked twice."""
        self.seq += 1
        if not masked and self._redact is not None:
            data = self._redact(data)
        event = {"seq": self.seq, "type": type, "data": data, "ts": time.time()}
        await self._events._store(self, event)

    def masked_sink(self) -> MaskedSink:
        return MaskedSink(self)

    def close(self) -> None:
        """The generation ended: readers that reach the end of its events are told it is done."""
        self.running = False
        self._events._close(self)

    def _on_stored(self, event: dict[str, Any]) -> None:
        if not self._memory_ok or event["seq"] != self._stored_after + len(self._stored) + 1:
            self._memory_ok = False  # a lost write left a gap: readers go to the store
            return
        self._stored.append(event)
        if len(self._stored) > EVENTS_IN_MEMORY:
            drop = len(self._stored) - EVENTS_PAGE
            self._stored_after += drop
            del self._stored[:drop]

    def _on_lost(self) -> None:
        self._memory_ok = False

    def events_after(self, after: int, limit: int) -> list[dict[str, Any]] | None:
        """Stored events after `after` from memory, or None when memory does not reach back."""
        if not self._memory_ok or after < self._stored_after:
            return None
        start = after - self._stored_after
        return self._stored[start : start + limit]


class MaskedSink:
    """A GenerationLog as the engine's sink: the engine masks every event with the generation's
    redactor (and the kernel's secrets) before emitting it."""

    def __init__(self, log: GenerationLog) -> None:
        self._log = log

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        await self._log.emit(type, data, masked=True)


class EventLog:
    """The server's event writer and reader (see the module docstring)."""

    def __init__(self, store: AsyncStore, *, log: logging.Logger | logging.LoggerAdapter[Any] | None = None):
        self.store = store
        self.log = log or logging.getLogger("cookbook_ext")
        self._open: dict[str, GenerationLog] = {}  # running generations' logs
        self._signals: dict[str, asyncio.Event] = {}
        # Events waiting for the store, written together by one task (see _store).
        self._queue: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None

    def open(
        self, generation_id: str, *, start_seq: int = 0, redact: Callable[[Any], Any] | None = None
    ) -> GenerationLog:
        log = GenerationLog(self, generation_id, start_seq=start_seq, redact=redact)
        self._open[generation_id] = log
        return log

    def is_open(self, generation_id: str) -> bool:
        return generation_id in self._open

    def _close(self, log: GenerationLog) -> None:
        if self._open.get(log.generation_id) is log:
            del self._open[log.generation_id]
        self.notify(log.generation_id)

    async def _store(self, log: GenerationLog, event: dict[str, Any]) -> None:
        """Store `event` and return once it is committed (group commit).

        Events queue here in the order they were emitted; one writer task stores everything
        queued in one transaction on the store's thread, then makes the events readable
        (memory, then notify) and only then wakes their emitters. While a transaction runs, the
        next events queue up for the next one: ten generations writing at once cost a few
        transactions, not one each, with no added delay for a lone event.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((log, event, future))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not future.get_loop():
            self._writer = asyncio.ensure_future(self._write())
        # A cancelled emitter leaves its event queued: it is stored all the same, in order.
        await future

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self.store.add_event_rows([_row(log, ev) for log, ev, _ in batch])
                groups = [batch]
            except Exception:
                # One generation's bad write must not cost the others theirs: each on its own.
                by_gen: dict[str, list[_Queued]] = {}
                for item in batch:
                    by_gen.setdefault(item[0].generation_id, []).append(item)
                groups = []
                for items in by_gen.values():
                    try:
                        await self.store.add_event_rows([_row(log, ev) for log, ev, _ in items])
                        groups.append(items)
                    except Exception as exc:
                        self.log.exception("Cookbook could not store events of %s", items[0][0].generation_id)
                        _fail(items, exc)
            except BaseException:  # cancelled (the loop is closing): nothing more gets written
                _fail(batch + self._queue, RuntimeError("The event store was stopped."))
                self._queue = []
                raise
            for items in groups:
                for log, ev, _ in items:
                    log._on_stored(ev)
            for gen_id in dict.fromkeys(log.generation_id for items in groups for log, _, _ in items):
                self.notify(gen_id)
            for items in groups:
                for _, _, future in items:
                    if not future.done():
                        future.set_result(None)

    async def flush(self) -> None:
        """Wait until everything emitted so far is stored (or failed)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    def notify(self, generation_id: str) -> None:
        signal = self._signals.pop(generation_id, None)
        if signal is not None:
            signal.set()

    async def wait(self, generation_id: str, after: int, timeout: float) -> dict[str, Any]:
        """Events after `after`, waiting up to `timeout` seconds for the next one:
        `{events, done}`, where done means the generation ended and nothing more will come."""
        if generation_id not in self._open:
            await self.store.get_generation(generation_id)  # 404 for an unknown id
        deadline = time.monotonic() + timeout
        while True:
            # Take the signal before reading so an event stored in between still wakes us.
            signal = self._signals.setdefault(generation_id, asyncio.Event())
            log = self._open.get(generation_id)
            running = log is not None
            # A running generation's latest events are in memory (stored first, then kept there).
            events = log.events_after(after, EVENTS_PAGE) if log is not None else None
            if events is None:
                events = await self.store.events_after(generation_id, after, limit=EVENTS_PAGE)
            if events or not running:
                # Events are stored before the log closes, so a closed log with nothing more to
                # read means the stream is complete.
                return {"events": events, "done": not running and len(events) < EVENTS_PAGE}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"events": [], "done": False}
            try:
                await asyncio.wait_for(signal.wait(), timeout=remaining)
            except asyncio.TimeoutError:
                pass


def _row(log: GenerationLog, event: dict[str, Any]) -> tuple[str, int, str, Any, float]:
    return (log.generation_id, event["seq"], event["type"], event["data"], event["ts"])


def _fail(items: list[_Queued], exc: BaseException) -> None:
    for log, _, future in items:
        log._on_lost()
        if not future.done():
            future.set_exception(exc)
