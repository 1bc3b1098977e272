"""The Anthropic provider against a fake Messages API, through the real `anthropic` SDK."""

from __future__ import annotations

import asyncio
import copy
import time

import pytest

from cookbook_ext.agent.prompt import material_blocks
from cookbook_ext.agent.providers.anthropic import AnthropicProvider
from cookbook_ext.agent.providers.base import ModelTurn, ProviderError, SystemPrompt, ToolSpec
from cookbook_ext.agent.providers.pricing import Price, price_for
from tests.fakes import (
    FakeAnthropic,
    call,
    hang_up,
    http_error,
    malformed,
    text_reply,
    tool_use,
    tool_uses,
)

KEY = "sk-ant-test-4f9c2e81d7"
SYSTEM = SystemPrompt(instructions="You write notebooks. " * 40)
README = "README: a model repo. " * 400
REPO = {"name": "o/r", "url": "https://github.com/o/r", "commit": "c0ffee", "context": {"markdown": README}}
TOOLS = [
    ToolSpec("create_cell", "Add a cell.", {"type": "object", "properties": {"code": {"type": "string"}}}),
    ToolSpec(
        "execute_cell", "Run a cell.", {"type": "object", "properties": {"cell_id": {"type": "string"}}}
    ),
]
REQUEST = {"type": "text", "text": "Summarise German news."}
# The opening message as the loop builds it: the repository block, the warning (a cache point),
# then the request.
ASK = [{"role": "user", "content": [*material_blocks(REPO, None), REQUEST]}]


def make(fake: FakeAnthropic, **kwargs) -> AnthropicProvider:
    kwargs.setdefault("retry_base_delay", 0.01)
    return AnthropicProvider(KEY, base_url=fake.base_url, **kwargs)


async def ask(provider: AnthropicProvider, messages=ASK, *, cancel: asyncio.Event | None = None) -> ModelTurn:
    return await provider.next_turn(
        system=SYSTEM, messages=messages, tools=TOOLS, cancel=cancel or asyncio.Event()
    )


async def one_turn(fake: FakeAnthropic, messages=ASK, **kwargs) -> ModelTurn:
    provider = make(fake, **kwargs)
    try:
        return await ask(provider, messages)
    finally:
        await provider.aclose()


def failure(fake: FakeAnthropic, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        asyncio.run(one_turn(fake, **kwargs))
    return info.value


def answer(turn: ModelTurn, results: list[str], *, errors: tuple[int, ...] = ()) -> list[dict]:
    """The two messages the loop appends after a tool-use turn."""
    assistant = [{"type": "text", "text": turn.text}] if turn.text else []
    assistant += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in turn.tool_calls
    ]
    user = [
        {"type": "tool_result", "tool_use_id": c.id, "content": r, "is_error": i in errors}
        for i, (c, r) in enumerate(zip(turn.tool_calls, results))
    ]
    return [{"role": "assistant", "content": assistant}, {"role": "user", "content": user}]


def test_tool_use_turn_is_parsed_into_text_and_tool_calls():
    script = [
        tool_uses(
            call("create_cell", {"code": "import torch", "type": "code"}),
            call("execute_cell", {"cell_id": "c1"}),
            text="Let me start.",
        )
    ]
    with FakeAnthropic(script) as fake:
        turn = asyncio.run(one_turn(fake))
    assert turn.text == "Let me start."
    assert turn.stop_reason == "tool_use"
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [
        ("create_cell", {"code": "import torch", "type": "code"}),
        ("execute_cell", {"cell_id": "c1"}),
    ]
    assert all(c.id.startswith("toolu_") and c.raw_arguments is None for c in turn.tool_calls)


def test_text_turn_ends_the_turn():
    with FakeAnthropic([text_reply("All done.")]) as fake:
        turn = asyncio.run(one_turn(fake))
    assert (turn.text, turn.tool_calls, turn.stop_reason) == ("All done.", [], "end_turn")


def test_tool_results_go_back_as_tool_result_blocks_in_the_next_request():
    script = [
        tool_uses(
            call("create_cell", {"code": "1/0", "type": "code"}), call("execute_cell", {"cell_id": "c1"})
        ),
        text_reply("Fixed."),
    ]

    async def run(fake):
        provider = make(fake)
        first = await ask(provider)
        messages = ASK + answer(first, ["c1", "ZeroDivisionError"], errors=(1,))
        await ask(provider, messages)
        await provider.aclose()
        return first

    with FakeAnthropic(script) as fake:
        first = asyncio.run(run(fake))
        sent = fake.requests[1].body["messages"]
        assert fake.errors == []
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [b["id"] for b in sent[1]["content"]] == [c.id for c in first.tool_calls]
    results = sent[2]["content"]
    assert [(r["tool_use_id"], r["content"]) for r in results] == [
        (first.tool_calls[0].id, "c1"),
        (first.tool_calls[1].id, "ZeroDivisionError"),
    ]
    assert "is_error" not in results[0] and results[1]["is_error"] is True


def test_cache_breakpoints_sit_on_last_tool_instructions_context_and_last_block():
    # The context (the repository's material) is the opening message's untrusted_data block;
    # the breakpoint on the warning after it covers it.
    with FakeAnthropic([tool_use("create_cell", {"code": "x"}), text_reply("ok")]) as fake:

        async def run():
            provider = make(fake)
            first = await ask(provider)
            await ask(provider, ASK + answer(first, ["c1"]))
            await provider.aclose()

        asyncio.run(run())
        first, second = (FakeAnthropic.cache_markers(r) for r in fake.requests)
        system = fake.requests[1].body["system"]
        opening = fake.requests[1].body["messages"][0]["content"]
    assert first == ["tools[1]", "system[0]", "messages[0].content[1]", "messages[0].content[2]"]
    assert second == ["tools[1]", "system[0]", "messages[0].content[1]", "messages[2].content[0]"]
    assert [b["text"] for b in system] == [SYSTEM.instructions]
    assert all(b["cache_control"] == {"type": "ephemeral"} for b in system)
    assert opening[0]["text"].startswith('<untrusted_data source="repository"')
    assert README in opening[0]["text"]
    assert README not in system[0]["text"]


def test_the_api_never_gets_more_than_four_breakpoints():
    # Extra cache points (beyond tools, system and last block) are dropped, the earliest kept.
    points = [{"type": "text", "text": f"part {i} " * 300, "cache_point": True} for i in range(5)]
    with FakeAnthropic([text_reply("ok")]) as fake:
        asyncio.run(one_turn(fake, [{"role": "user", "content": [*points, REQUEST]}]))
        assert fake.errors == []
        markers = FakeAnthropic.cache_markers(fake.requests[0])
    assert markers == ["tools[1]", "system[0]", "messages[0].content[0]", "messages[0].content[5]"]


def test_empty_context_sends_only_the_instructions_block():
    with FakeAnthropic([text_reply("ok")]) as fake:

        async def run():
            provider = make(fake)
            await provider.next_turn(
                system=SystemPrompt("Be brief.", ""),
                messages=[{"role": "user", "content": [REQUEST]}],
                tools=[],
                cancel=asyncio.Event(),
            )
            await provider.aclose()

        asyncio.run(run())
        body = fake.requests[0].body
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert "tools" not in body
    assert FakeAnthropic.cache_markers(fake.requests[0]) == ["system[0]", "messages[0].content[0]"]


def test_caching_can_be_turned_off_for_gateways_that_reject_it():
    with FakeAnthropic([text_reply("ok")]) as fake:
        turn = asyncio.run(one_turn(fake, prompt_caching=False))
        assert FakeAnthropic.cache_markers(fake.requests[0]) == []
    assert turn.usage.cache_read_tokens == turn.usage.cache_write_tokens == 0


def test_the_growing_history_is_read_from_the_cache():
    script = [tool_use("create_cell", {"code": f"x = {i}"}) for i in range(3)] + [text_reply("done")]

    async def run(fake):
        provider = make(fake)
        messages, turns = list(ASK), []
        for _ in range(4):
            turn = await ask(provider, messages)
            turns.append(turn)
            if turn.tool_calls:
                messages += answer(turn, ["ok"])
        await provider.aclose()
        return turns

    with FakeAnthropic(script) as fake:
        turns = asyncio.run(run(fake))
    first, *rest = [t.usage for t in turns]
    assert first.cache_read_tokens == 0 and first.cache_write_tokens > 1000
    for before, usage in zip([first, *rest], rest):
        # Everything the previous request sent is read back; only the new turn is written.
        assert usage.cache_read_tokens == before.cache_read_tokens + before.cache_write_tokens
        assert 0 < usage.cache_write_tokens < 100
        assert usage.input_tokens == 0


def test_the_callers_messages_are_not_modified():
    messages = ASK + [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "create_cell", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "c1"}]},
    ]
    before = copy.deepcopy(messages)
    with FakeAnthropic([text_reply("ok")]) as fake:
        asyncio.run(one_turn(fake, messages))
    assert messages == before


def test_empty_text_blocks_are_dropped_because_the_api_rejects_them():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "go"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "  "},
                {"type": "tool_use", "id": "toolu_1", "name": "create_cell", "input": {"code": "1"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": ""}]},
    ]
    with FakeAnthropic([text_reply("ok")]) as fake:
        turn = asyncio.run(one_turn(fake, messages))
        assert fake.errors == []
        sent = fake.requests[0].body["messages"]
    assert turn.text == "ok"
    assert [b["type"] for b in sent[1]["content"]] == ["tool_use"]


def test_thinking_blocks_are_sent_back_verbatim_with_their_signature():
    script = [
        tool_use("create_cell", {"code": "import pandas"}, thinking="The user wants pandas first."),
        text_reply("done"),
    ]

    async def run(fake):
        provider = make(fake)
        first = await ask(provider)
        await ask(provider, ASK + answer(first, ["c1"]))
        await provider.aclose()
        return first

    with FakeAnthropic(script) as fake:
        first = asyncio.run(run(fake))
        assistant = fake.requests[1].body["messages"][1]["content"]
        assert fake.errors == []  # the strict fake rejects altered or missing signatures
    assert first.text == ""
    assert assistant[0]["type"] == "thinking"
    assert assistant[0]["thinking"] == "The user wants pandas first."
    assert assistant[0]["signature"].startswith("sig_")
    assert assistant[1]["id"] == first.tool_calls[0].id


def test_rate_limit_is_retried_after_the_retry_after_delay():
    script = [http_error(429, headers={"retry-after": "0.3"}), text_reply("ok")]
    with FakeAnthropic(script) as fake:
        started = time.monotonic()
        # A large backoff base proves the wait came from retry-after, not from the backoff.
        turn = asyncio.run(one_turn(fake, retry_base_delay=20))
        elapsed = time.monotonic() - started
        assert len(fake.requests) == 2
    assert turn.text == "ok"
    assert 0.3 <= elapsed < 10  # the backoff would have waited 20 s


def test_overloaded_529_is_retried():
    with FakeAnthropic([http_error(529), http_error(529), text_reply("ok")]) as fake:
        turn = asyncio.run(one_turn(fake))
        assert len(fake.requests) == 3
    assert turn.text == "ok"


def test_connection_error_is_retried():
    with FakeAnthropic([hang_up(), text_reply("ok")]) as fake:
        turn = asyncio.run(one_turn(fake))
        assert len(fake.requests) == 2
    assert turn.text == "ok"


def test_retries_stop_after_max_retries():
    with FakeAnthropic([http_error(500, "boom")] * 3) as fake:
        error = failure(fake, max_retries=2)
        assert len(fake.requests) == 3
    assert (error.status, error.retryable, error.code) == (500, True, "upstream_error")
    assert "boom" in error.message and "Gave up after 2 retries" in error.message


def test_a_long_retry_after_fails_at_once_instead_of_waiting():
    with FakeAnthropic([http_error(429, headers={"retry-after": "3600"})]) as fake:
        started = time.monotonic()
        error = failure(fake)
        assert time.monotonic() - started < 2
        assert len(fake.requests) == 1
    assert error.code == "rate_limited" and error.retryable
    assert "3600 s" in error.message


def test_rejected_key_gives_a_clear_error_that_never_contains_the_key():
    with FakeAnthropic([http_error(401, f"invalid x-api-key {KEY}")]) as fake:
        error = failure(fake)
        request = fake.requests[0]
        assert len(fake.requests) == 1
    assert error.status == 401 and error.code == "auth_failed" and not error.retryable
    assert error.message.startswith("The Anthropic API key was rejected")
    assert KEY not in error.message and KEY not in str(error) and KEY not in repr(error)
    # The key travels in the auth header only (this SDK sends it as a bearer token).
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in request.text


def test_bad_request_carries_the_apis_message():
    with FakeAnthropic([http_error(400, "messages.0.content: Input should be a valid list")]) as fake:
        error = failure(fake)
        assert len(fake.requests) == 1
    assert (error.status, error.code, error.retryable) == (400, "bad_request", False)
    assert "messages.0.content: Input should be a valid list" in error.message


def test_unknown_model_names_the_model():
    with FakeAnthropic([http_error(404, "model: claude-nope")]) as fake:
        error = failure(fake, model="claude-nope")
    assert error.code == "model_not_found" and "'claude-nope'" in error.message


def test_unparsable_tool_input_comes_back_as_raw_arguments():
    with FakeAnthropic([tool_use("create_cell", raw='{"code": "x = 1",'), text_reply("ok")]) as fake:

        async def run():
            provider = make(fake)
            first = await ask(provider)
            await ask(provider, ASK + answer(first, ["Error: not valid JSON"], errors=(0,)))
            await provider.aclose()
            return first

        turn = asyncio.run(run())
        echoed = fake.requests[1].body["messages"][1]["content"][0]
        assert fake.errors == []
    (tool_call,) = turn.tool_calls
    assert tool_call.arguments is None
    assert tool_call.raw_arguments == '{"code": "x = 1",'
    assert echoed["input"] == {}  # the API accepts only an object when the turn is sent back


def test_malformed_response_body_is_a_provider_error():
    with FakeAnthropic([malformed(b'{"id": "msg_1", "content": [')]) as fake:
        error = failure(fake)
    assert error.code == "invalid_response" and "could not read" in error.message


def test_cancelling_the_task_aborts_the_request_in_flight():
    async def run(fake):
        provider = make(fake)
        task = asyncio.create_task(ask(provider))
        await asyncio.to_thread(fake.wait_for_requests, 1)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancelled_after = time.monotonic() - started
        await provider.aclose()
        return cancelled_after

    with FakeAnthropic([text_reply("too late").after(30)]) as fake:
        cancelled_after = asyncio.run(run(fake))
        deadline = time.monotonic() + 5
        while not fake.aborted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.aborted, "the server never saw the client hang up"
    assert cancelled_after < 10  # the reply comes after 30 s


def test_cancel_event_interrupts_the_wait_between_retries():
    async def run(fake):
        provider = make(fake, max_retry_after=120)
        cancel = asyncio.Event()
        task = asyncio.create_task(ask(provider, cancel=cancel))
        await asyncio.to_thread(fake.wait_for_requests, 1)
        await asyncio.sleep(0.1)
        started = time.monotonic()
        cancel.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await provider.aclose()
        return time.monotonic() - started

    with FakeAnthropic([http_error(429, headers={"retry-after": "60"}), text_reply("never")]) as fake:
        assert asyncio.run(run(fake)) < 10  # retry-after says 60 s
        assert len(fake.requests) == 1


def test_usage_and_cost_come_from_the_response():
    usage = {
        "input_tokens": 1000,
        "output_tokens": 500,
        "cache_read_input_tokens": 20_000,
        "cache_creation_input_tokens": 4000,
    }
    reply = text_reply("ok")
    reply.usage = usage
    with FakeAnthropic([reply]) as fake:
        turn = asyncio.run(one_turn(fake, model="claude-sonnet-4-6"))
    u = turn.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (
        1000,
        500,
        20_000,
        4000,
    )
    # Sonnet 4.6: $3 in, $15 out, reads at 0.1x and writes at 1.25x of input.
    assert u.cost_usd == pytest.approx((1000 * 3 + 500 * 15 + 20_000 * 0.3 + 4000 * 3.75) / 1e6)


def test_an_unpriced_model_costs_nothing_but_still_reports_tokens():
    with FakeAnthropic([text_reply("ok")]) as fake:
        turn = asyncio.run(one_turn(fake, model="claude-experimental"))
    assert turn.usage.cost_usd == 0.0 and turn.usage.output_tokens > 0


def test_a_missing_key_is_refused_before_any_request():
    with pytest.raises(ProviderError) as info:
        AnthropicProvider("", base_url="http://127.0.0.1:9")
    assert info.value.code == "auth_required"


def test_prices_match_dated_snapshots_and_newer_versions_of_a_known_model():
    assert price_for("claude-sonnet-4-5-20250929") == price_for("claude-sonnet-4-5") == Price(3.0, 15.0)
    assert price_for("claude-sonnet-5-5").cache_read_rate == pytest.approx(0.10)
    assert price_for("claude-opus-4-8").input == 5.0
    assert price_for("gpt-4o") is None


def test_haiku_5_5_is_dearer_for_long_prompts():
    haiku = price_for("claude-haiku-5-5")
    short = haiku.cost(input_tokens=50_000, output_tokens=1000)
    long = haiku.cost(input_tokens=50_000, output_tokens=1000, cache_read_tokens=60_000)
    assert short == pytest.approx((50_000 * 0.10 + 1000 * 0.50) / 1e6)
    assert long == pytest.approx((50_000 * 0.50 + 1000 * 2.50 + 60_000 * 0.05) / 1e6)
