"""The event log: group commit, stored before readable, order, memory for readers."""

from __future__ import annotations

import asyncio

import pytest

from cookbook_ext import event_log as event_log_module
from cookbook_ext.event_log import EventLog, GenerationLog, MaskedSink
from cookbook_ext.store import AsyncStore, Store


class Events:
    """The store and the server's event log, as the tests drive them."""

    def __init__(self, url: str) -> None:
        self.store = AsyncStore(Store(url))
        self.log = EventLog(self.store)

    def wait_events(self, gen: str, after: int, timeout: float):
        return self.log.wait(gen, after, timeout)


@pytest.fixture
def services(store_url):
    # store_url: each test runs on SQLite and on PostgreSQL (tests/conftest.py).
    events = Events(store_url)
    yield events
    events.store.close()


def _generation(services: Events) -> str:
    return services.store.sync.create_generation(
        request={"prompt": "p"}, provider="offline", model=None, repo_id=None, kernel_id=None
    )["id"]


def _count_writes(services: Events, monkeypatch, check=None) -> list[list[tuple]]:
    """Record every add_event_rows call (its rows); `check(rows)` runs before the real write."""
    calls: list[list[tuple]] = []
    real = services.store.sync.add_event_rows

    def add_event_rows(rows):
        rows = list(rows)
        calls.append(rows)
        if check is not None:
            check(rows)
        real(rows)

    monkeypatch.setattr(services.store.sync, "add_event_rows", add_event_rows)
    return calls


def test_events_emitted_together_share_a_transaction_in_order(services, monkeypatch):
    gens = [_generation(services) for _ in range(3)]
    logs = [services.log.open(g) for g in gens]
    calls = _count_writes(services, monkeypatch)

    async def emitter(log: GenerationLog) -> None:
        for i in range(20):
            await log.emit("status", {"i": i})

    async def scenario() -> None:
        await asyncio.gather(*(emitter(log) for log in logs))

    asyncio.run(scenario())
    assert sum(len(c) for c in calls) == 60
    assert len(calls) < 60  # batched: far fewer transactions than events
    for gen in gens:
        stored = services.store.sync.events_after(gen, 0)
        assert [e["seq"] for e in stored] == list(range(1, 21))
        assert [e["data"]["i"] for e in stored] == list(range(20))


def test_an_event_is_stored_before_anyone_can_read_it(services, monkeypatch):
    gen = _generation(services)
    log = services.log.open(gen)
    seen_while_writing: list[list[dict]] = []

    def check(rows):
        # While the transaction runs, neither memory nor a waiting reader has these events yet.
        seen_while_writing.append(log.events_after(0, 1000) or [])
        assert all(e["seq"] < rows[0][1] for e in seen_while_writing[-1])

    _count_writes(services, monkeypatch, check)

    async def scenario() -> list[dict]:
        woken: list[dict] = []

        async def reader() -> None:
            page = await services.wait_events(gen, 0, timeout=5)
            for event in page["events"]:
                # Whatever a reader is given is already in the database.
                assert (
                    services.store.sync.events_after(gen, event["seq"] - 1, limit=1)[0]["seq"] == event["seq"]
                )
            woken.extend(page["events"])

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0)
        await log.emit("status", {"n": 1})
        assert services.store.sync.last_seq(gen) == 1  # emit returned: it is stored
        await asyncio.wait_for(task, 5)
        log.close()
        return woken

    woken = asyncio.run(scenario())
    assert [e["seq"] for e in woken] == [1]


def test_a_running_generation_is_read_from_memory_and_a_finished_one_from_the_store(services, monkeypatch):
    gen = _generation(services)
    log = services.log.open(gen)
    reads: list[int] = []
    real = services.store.sync.events_after
    monkeypatch.setattr(
        services.store.sync,
        "events_after",
        lambda g, after, limit=1000: reads.append(after) or real(g, after, limit),
    )

    async def scenario() -> tuple[dict, dict, dict]:
        for i in range(5):
            await log.emit("status", {"i": i})
        live = await services.wait_events(gen, 2, timeout=0)
        log.close()
        done = await services.wait_events(gen, 2, timeout=0)
        everything = await services.wait_events(gen, 0, timeout=0)
        return live, done, everything

    live, done, everything = asyncio.run(scenario())
    assert live["events"] == done["events"]  # the same events, from memory and from the store
    assert [e["seq"] for e in live["events"]] == [3, 4, 5] and live["done"] is False
    assert done["done"] is True and len(everything["events"]) == 5
    assert reads == [2, 0]  # the running generation needed no query


def test_memory_keeps_only_the_latest_events_and_older_ones_come_from_the_store(services, monkeypatch):
    monkeypatch.setattr(event_log_module, "EVENTS_IN_MEMORY", 30)
    monkeypatch.setattr(event_log_module, "EVENTS_PAGE", 10)
    gen = _generation(services)
    log = services.log.open(gen)

    async def scenario() -> None:
        for i in range(45):
            await log.emit("status", {"i": i})

    asyncio.run(scenario())
    assert log.events_after(0, 10) is None  # trimmed: the store answers
    assert [e["seq"] for e in log.events_after(40, 10)] == [41, 42, 43, 44, 45]
    assert log.events_after(45, 10) == []


def test_a_failed_write_of_one_generation_does_not_lose_the_others(services, monkeypatch):
    good, bad = _generation(services), _generation(services)
    real = services.store.sync.add_event_rows

    def add_event_rows(rows):
        rows = list(rows)
        if any(r[0] == bad for r in rows):
            raise RuntimeError("disk full")
        real(rows)

    monkeypatch.setattr(services.store.sync, "add_event_rows", add_event_rows)
    good_log, bad_log = services.log.open(good), services.log.open(bad)

    async def scenario() -> list:
        return await asyncio.gather(
            good_log.emit("status", {"x": 1}), bad_log.emit("status", {"x": 2}), return_exceptions=True
        )

    results = asyncio.run(scenario())
    assert results[0] is None and isinstance(results[1], RuntimeError)
    assert [e["data"] for e in services.store.sync.events_after(good, 0)] == [{"x": 1}]
    assert services.store.sync.events_after(bad, 0) == []
    assert bad_log.events_after(0, 10) is None  # its memory is no longer trusted


def test_emit_masks_secrets_unless_the_engine_already_did(services):
    gen = _generation(services)
    secret = "s3cret-value-1234"
    from cookbook_ext.redact import redact_obj

    log = services.log.open(
        gen, redact=lambda data: redact_obj(data, lambda t: t.replace(secret, "[REDACTED:secret]"))
    )

    async def scenario() -> None:
        await log.emit("warning", {"message": f"key {secret}", "nested": [{"text": secret}]})
        await MaskedSink(log).emit("status", {"message": "already masked"})

    asyncio.run(scenario())
    stored = services.store.sync.events_after(gen, 0)
    assert secret not in str(stored[0]["data"])
    assert stored[0]["data"]["nested"] == [{"text": "[REDACTED:secret]"}]
    assert stored[1]["data"] == {"message": "already masked"}


def test_the_engine_masks_every_string_except_binary_media():
    """The event log stores the engine's events without walking them again (MaskedSink), so the
    engine's own pass must skip no more than the services' would have: only binary media."""
    from cookbook_ext.agent.loop import redact_obj

    secret = "s3cret-value-1234"
    data = {
        "arguments": {"a/b": secret, "path/to/file.py": [secret]},  # model-chosen keys
        "data": {
            "image/png": "iVBOR" + secret,
            "audio/wav": secret,
            "image/svg+xml": f"<svg>{secret}</svg>",
            "application/json": {"k": secret},
            "text/html": secret,
            "application/pdf": secret,
        },
        "items": (secret,),
    }
    masked = redact_obj(data, lambda text: text.replace(secret, "***"))
    binary = {"image/png", "audio/wav"}
    for key, value in masked["data"].items():
        assert (secret in str(value)) == (key in binary), key
    assert secret not in str(masked["arguments"]) and secret not in str(masked["items"])
