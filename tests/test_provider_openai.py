"""The OpenAI-compatible provider against a fake chat completions API, through the real `openai` SDK."""

from __future__ import annotations

import asyncio
import copy
import time

import pytest

from cookbook_ext.agent.prompt import material_blocks
from cookbook_ext.agent.providers.base import ModelTurn, ProviderError, SystemPrompt, ToolSpec
from cookbook_ext.agent.providers.openai import LOCAL_API_KEY, OpenAIProvider
from cookbook_ext.agent.providers.pricing import Price
from tests.fakes import (
    FakeOpenAI,
    call,
    hang_up,
    http_error,
    json_body,
    malformed,
    text_reply,
    tool_use,
    tool_uses,
)

KEY = "sk-proj-test-93be0c7a41"
MODEL = "qwen2.5-coder:7b"
SYSTEM = SystemPrompt(instructions="You write notebooks. " * 40)
README = "README: a model repo. " * 400
REPO = {"name": "o/r", "url": "https://github.com/o/r", "commit": "c0ffee", "context": {"markdown": README}}
TOOLS = [
    ToolSpec("create_cell", "Add a cell.", {"type": "object", "properties": {"code": {"type": "string"}}}),
    ToolSpec(
        "execute_cell", "Run a cell.", {"type": "object", "properties": {"cell_id": {"type": "string"}}}
    ),
]
# The opening message as the loop builds it: the repository block, the warning, the request.
ASK = [
    {
        "role": "user",
        "content": [*material_blocks(REPO, None), {"type": "text", "text": "Summarise German news."}],
    }
]


def make(fake: FakeOpenAI, key: str | None = KEY, **kwargs) -> OpenAIProvider:
    kwargs.setdefault("retry_base_delay", 0.01)
    return OpenAIProvider(key, MODEL, base_url=fake.base_url, **kwargs)


async def ask(provider: OpenAIProvider, messages=ASK, *, cancel: asyncio.Event | None = None) -> ModelTurn:
    return await provider.next_turn(
        system=SYSTEM, messages=messages, tools=TOOLS, cancel=cancel or asyncio.Event()
    )


async def one_turn(fake: FakeOpenAI, messages=ASK, **kwargs) -> ModelTurn:
    provider = make(fake, **kwargs)
    try:
        return await ask(provider, messages)
    finally:
        await provider.aclose()


def failure(fake: FakeOpenAI, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        asyncio.run(one_turn(fake, **kwargs))
    return info.value


def answer(turn: ModelTurn, results: list[str], *, errors: tuple[int, ...] = ()) -> list[dict]:
    """The two messages the loop appends after a tool-use turn."""
    assistant = [{"type": "text", "text": turn.text}] if turn.text else []
    assistant += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}} for c in turn.tool_calls
    ]
    user = [
        {"type": "tool_result", "tool_use_id": c.id, "content": r, "is_error": i in errors}
        for i, (c, r) in enumerate(zip(turn.tool_calls, results))
    ]
    return [{"role": "assistant", "content": assistant}, {"role": "user", "content": user}]


async def conversation(fake: FakeOpenAI, turns: int, **kwargs) -> list[ModelTurn]:
    """Play `turns` turns the way the loop does, answering every call with "ok"."""
    provider = make(fake, **kwargs)
    messages, out = list(ASK), []
    for _ in range(turns):
        turn = await ask(provider, messages)
        out.append(turn)
        if turn.tool_calls:
            messages += answer(turn, ["ok"] * len(turn.tool_calls))
    await provider.aclose()
    return out


def test_function_calls_are_parsed_into_tool_calls():
    script = [
        tool_uses(
            call("create_cell", {"code": "import torch", "type": "code"}),
            call("execute_cell", {"cell_id": "c1"}),
            text="Let me start.",
        )
    ]
    with FakeOpenAI(script) as fake:
        turn = asyncio.run(one_turn(fake))
    assert turn.text == "Let me start."
    assert turn.stop_reason == "tool_use"
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [
        ("create_cell", {"code": "import torch", "type": "code"}),
        ("execute_cell", {"cell_id": "c1"}),
    ]


def test_a_plain_answer_ends_the_turn():
    with FakeOpenAI([text_reply("All done.")]) as fake:
        turn = asyncio.run(one_turn(fake))
    assert (turn.text, turn.tool_calls, turn.stop_reason) == ("All done.", [], "end_turn")


def test_the_request_carries_system_prompt_tools_and_max_tokens():
    with FakeOpenAI([text_reply("ok")]) as fake:
        asyncio.run(one_turn(fake))
        body = fake.requests[0].body
    assert body["model"] == MODEL
    assert body["messages"][0] == {"role": "system", "content": SYSTEM.as_text()}
    # The repository's material is the user message's untrusted_data block, not the system prompt.
    repo_block, warning = (b["text"] for b in ASK[0]["content"][:2])
    assert body["messages"][1] == {
        "role": "user",
        "content": f"{repo_block}\n{warning}\nSummarise German news.",
    }
    assert repo_block.startswith('<untrusted_data source="repository"') and README in repo_block
    assert README not in body["messages"][0]["content"]
    assert [t["function"]["name"] for t in body["tools"]] == ["create_cell", "execute_cell"]
    assert body["tools"][0]["function"]["parameters"] == TOOLS[0].input_schema
    assert body["max_tokens"] == 4096 and "max_completion_tokens" not in body


def test_openai_itself_gets_max_completion_tokens():
    provider = OpenAIProvider(KEY, "gpt-5.5", base_url="https://api.openai.com/v1")
    request = provider.build_request(system=SYSTEM, messages=ASK, tools=TOOLS)
    assert request["max_completion_tokens"] == 4096 and "max_tokens" not in request
    asyncio.run(provider.aclose())


def test_tool_results_become_tool_messages_after_the_assistant_calls():
    script = [
        tool_uses(call("create_cell", {"code": "1/0"}), call("execute_cell", {"cell_id": "c1"})),
        text_reply("Fixed."),
    ]

    async def run(fake):
        provider = make(fake)
        first = await ask(provider)
        messages = ASK + answer(first, ["c1", "ZeroDivisionError"], errors=(1,))
        messages[-1]["content"].append({"type": "text", "text": "Keep going."})
        await ask(provider, messages)
        await provider.aclose()
        return first

    with FakeOpenAI(script) as fake:
        first = asyncio.run(run(fake))
        sent = fake.requests[1].body["messages"]
        assert fake.errors == []  # the strict fake checks every tool message answers a call
    ids = [c.id for c in first.tool_calls]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "tool", "user"]
    assert sent[2]["content"] is None
    assert [c["id"] for c in sent[2]["tool_calls"]] == ids
    assert sent[3] == {"role": "tool", "tool_call_id": ids[0], "content": "c1"}
    assert sent[4] == {"role": "tool", "tool_call_id": ids[1], "content": "ERROR: ZeroDivisionError"}
    assert sent[5] == {"role": "user", "content": "Keep going."}


def test_arguments_are_echoed_exactly_as_the_model_wrote_them():
    raw = '{ "code":   "print(1)" }'
    with FakeOpenAI([tool_use("create_cell", raw=raw), text_reply("ok")]) as fake:
        asyncio.run(conversation(fake, 2))
        echoed = fake.requests[1].body["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert echoed == raw


def test_the_callers_messages_are_not_modified():
    with FakeOpenAI([tool_use("create_cell", {"code": "x"}), text_reply("ok")]) as fake:

        async def run():
            provider = make(fake)
            first = await ask(provider)
            messages = ASK + answer(first, ["c1"])
            before = copy.deepcopy(messages)
            await ask(provider, messages)
            await provider.aclose()
            return messages, before

        messages, before = asyncio.run(run())
    assert messages == before


def test_unparsable_arguments_come_back_raw_and_are_not_echoed():
    script = [tool_use("execute_cell", raw='{"cell_id": "c1"'), text_reply("ok")]
    with FakeOpenAI(script) as fake:
        first, _ = asyncio.run(conversation(fake, 2))
        echoed = fake.requests[1].body["messages"][2]["tool_calls"][0]["function"]["arguments"]
    (tool_call,) = first.tool_calls
    assert tool_call.arguments is None and tool_call.raw_arguments == '{"cell_id": "c1"'
    assert echoed == "{}"  # vLLM parses echoed arguments and would reject the conversation


def test_arguments_that_are_not_an_object_come_back_raw():
    with FakeOpenAI([tool_use("execute_cell", raw='["c1"]')]) as fake:
        turn = asyncio.run(one_turn(fake))
    assert turn.tool_calls[0].arguments is None and turn.tool_calls[0].raw_arguments == '["c1"]'


def test_empty_arguments_mean_no_arguments():
    with FakeOpenAI([tool_use("list_files_in_repo", raw="")]) as fake:
        turn = asyncio.run(one_turn(fake))
    assert turn.tool_calls[0].arguments == {}


def test_ollama_style_stop_with_tool_calls_is_a_tool_use_turn():
    with FakeOpenAI([tool_use("create_cell", {"code": "x"})], ollama_style=True) as fake:
        turn = asyncio.run(one_turn(fake))
    assert turn.stop_reason == "tool_use" and turn.tool_calls


def test_length_finish_maps_to_max_tokens():
    with FakeOpenAI([text_reply("cut", stop_reason="max_tokens")]) as fake:
        turn = asyncio.run(one_turn(fake))
    assert turn.stop_reason == "max_tokens"


def test_cached_prompt_tokens_are_reported_apart_from_fresh_input():
    script = [tool_use("create_cell", {"code": f"x = {i}"}) for i in range(2)] + [text_reply("done")]
    with FakeOpenAI(script) as fake:
        turns = asyncio.run(conversation(fake, 3))
        prompts = [r.body for r in fake.requests]
    first, second, third = (t.usage for t in turns)
    assert first.cache_read_tokens == 0 and first.input_tokens > 1000
    # The automatic prefix cache covers everything up to the previous request's last message.
    assert second.cache_read_tokens == first.input_tokens
    assert second.input_tokens < 100 and third.input_tokens < 100
    assert len(prompts[2]["messages"]) == len(prompts[0]["messages"]) + 4


def test_usage_and_cost_with_a_configured_price():
    reply = text_reply("ok")
    reply.usage = {
        "prompt_tokens": 10_000,
        "completion_tokens": 500,
        "total_tokens": 10_500,
        "prompt_tokens_details": {"cached_tokens": 8000},
    }
    with FakeOpenAI([reply]) as fake:
        turn = asyncio.run(one_turn(fake, price=Price(2.0, 10.0, cache_read=0.2)))
    u = turn.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (
        2000,
        500,
        8000,
        0,
    )
    assert u.cost_usd == pytest.approx((2000 * 2.0 + 500 * 10.0 + 8000 * 0.2) / 1e6)


def test_a_server_without_usage_reports_zero_tokens():
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    }
    with FakeOpenAI([json_body(body)]) as fake:
        turn = asyncio.run(one_turn(fake))
    assert turn.text == "hi" and turn.usage.total_tokens == 0 and turn.usage.cost_usd == 0.0


def test_rate_limit_is_retried_after_the_retry_after_delay():
    script = [http_error(429, headers={"retry-after-ms": "300"}), text_reply("ok")]
    with FakeOpenAI(script) as fake:
        started = time.monotonic()
        turn = asyncio.run(one_turn(fake, retry_base_delay=20))
        elapsed = time.monotonic() - started
        assert len(fake.requests) == 2
    assert turn.text == "ok" and 0.3 <= elapsed < 10  # the backoff would have waited 20 s


def test_server_errors_and_dropped_connections_are_retried():
    with FakeOpenAI([http_error(503), hang_up(), text_reply("ok")]) as fake:
        turn = asyncio.run(one_turn(fake))
        assert len(fake.requests) == 3
    assert turn.text == "ok"


def test_retries_stop_after_max_retries():
    with FakeOpenAI([http_error(500, "boom")] * 2) as fake:
        error = failure(fake, max_retries=1)
        assert len(fake.requests) == 2
    assert error.code == "upstream_error" and error.retryable and "boom" in error.message


def test_rejected_key_gives_a_clear_error_that_never_contains_the_key():
    with FakeOpenAI([http_error(401, f"Incorrect API key provided: {KEY}")]) as fake:
        error = failure(fake)
        request = fake.requests[0]
    assert error.status == 401 and error.code == "auth_failed" and not error.retryable
    assert "rejected the API key" in error.message
    assert KEY not in error.message and KEY not in repr(error)
    assert request.headers["authorization"] == f"Bearer {KEY}" and KEY not in request.text


def test_unknown_model_names_the_model():
    with FakeOpenAI([http_error(404)]) as fake:
        error = failure(fake)
    assert error.code == "model_not_found" and repr(MODEL) in error.message


def test_vllm_error_bodies_give_their_message():
    vllm = {"object": "error", "message": "This model's maximum context length is 8192 tokens.", "code": 400}
    with FakeOpenAI([json_body(vllm, status=400)]) as fake:
        error = failure(fake)
    assert error.code == "bad_request" and "maximum context length is 8192" in error.message


def test_ollama_error_bodies_give_their_message():
    with FakeOpenAI(
        [json_body({"error": 'model "llama9" not found, try pulling it first'}, status=404)]
    ) as fake:
        error = failure(fake)
    assert 'model "llama9" not found' in error.message


def test_malformed_response_body_is_a_provider_error():
    with FakeOpenAI([malformed(b'{"choices": [')]) as fake:
        error = failure(fake)
    assert error.code == "invalid_response"


def test_a_local_server_needs_no_key():
    with FakeOpenAI([text_reply("ok")]) as fake:
        turn = asyncio.run(one_turn(fake, key=""))
        assert fake.requests[0].headers["authorization"] == f"Bearer {LOCAL_API_KEY}"
    assert turn.text == "ok"


def test_openai_itself_needs_a_key():
    with pytest.raises(ProviderError) as info:
        OpenAIProvider("", "gpt-5.5")
    assert info.value.code == "auth_required"


def test_an_unreachable_server_is_a_connection_error_naming_the_host_not_credentials():
    provider = OpenAIProvider(
        KEY, MODEL, base_url="http://user:hunter2@127.0.0.1:9/v1", max_retries=1, retry_base_delay=0.01
    )
    with pytest.raises(ProviderError) as info:
        asyncio.run(ask(provider))
    asyncio.run(provider.aclose())
    assert info.value.code == "connection_error" and info.value.retryable
    assert "127.0.0.1:9" in info.value.message and "hunter2" not in info.value.message


def test_cancelling_the_task_aborts_the_request_in_flight():
    async def run(fake):
        provider = make(fake)
        task = asyncio.create_task(ask(provider))
        await asyncio.to_thread(fake.wait_for_requests, 1)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await provider.aclose()
        return time.monotonic() - started

    with FakeOpenAI([text_reply("too late").after(30)]) as fake:
        assert asyncio.run(run(fake)) < 10  # the reply comes after 30 s
        deadline = time.monotonic() + 5
        while not fake.aborted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.aborted, "the server never saw the client hang up"
