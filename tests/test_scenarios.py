"""Scripted generations end to end: the real loop, a real ipykernel, the real SDKs, fake model APIs.

Each scenario scripts what the model says; everything else (tool dispatch, kernel execution,
retries, cancellation, budgets) is the product's own code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jupyter_client.manager import AsyncKernelManager

from cookbook_ext.agent.loop import Budgets, GenerationOutcome, GenerationRequest, run_generation
from cookbook_ext.agent.providers.anthropic import AnthropicProvider
from cookbook_ext.agent.providers.base import Provider
from cookbook_ext.agent.providers.openai import OpenAIProvider
from cookbook_ext.agent.tools import parse_execution_result
from cookbook_ext.kernel import KernelExecutor
from tests.fakes import FakeAnthropic, FakeOpenAI, RecordedRequest, Reply, http_error, text_reply, tool_use

KEY = "sk-scenario-5d1e7f"
ANTHROPIC = "anthropic"
OPENAI = "openai"


# -- fixtures: one event loop and one kernel for the module --------------------------------------


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    # One loop for the whole module: the kernel manager and its zmq sockets belong to it.
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


async def start_kernel() -> AsyncKernelManager:
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    return km


@pytest.fixture(scope="module")
def kernel(loop) -> Iterator[AsyncKernelManager]:
    km = loop.run_until_complete(start_kernel())
    yield km
    loop.run_until_complete(km.shutdown_kernel(now=True))


class Recorder:
    """The loop's event sink; `on` registers a callback for one event type."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.hooks: dict[str, Callable[[dict[str, Any]], None]] = {}

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        self.events.append((type, data))
        hook = self.hooks.get(type)
        if hook is not None:
            hook(data)

    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    def of(self, type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == type]


def fake_for(kind: str, script: list) -> FakeAnthropic | FakeOpenAI:
    return FakeAnthropic(script) if kind == ANTHROPIC else FakeOpenAI(script)


def provider_for(kind: str, fake: FakeAnthropic | FakeOpenAI) -> Provider:
    if kind == ANTHROPIC:
        return AnthropicProvider(KEY, base_url=fake.base_url, retry_base_delay=0.01)
    return OpenAIProvider(KEY, "llama3.1:8b", base_url=fake.base_url, retry_base_delay=0.01)


def generate(
    loop: asyncio.AbstractEventLoop,
    km: AsyncKernelManager,
    fake: FakeAnthropic | FakeOpenAI,
    kind: str = ANTHROPIC,
    *,
    budgets: Budgets | None = None,
    recorder: Recorder | None = None,
    cancel: asyncio.Event | None = None,
    on_start: Callable[[asyncio.Event], Any] | None = None,
) -> tuple[GenerationOutcome, Recorder]:
    recorder = recorder or Recorder()
    budgets = budgets or Budgets(max_turns=12, cell_timeout=20)

    async def run() -> GenerationOutcome:
        executor = KernelExecutor(km, cell_timeout=budgets.cell_timeout)
        provider = provider_for(kind, fake)
        stop = cancel or asyncio.Event()
        if on_start is not None:
            on_start(stop)
        try:
            return await run_generation(
                generation_id="0123456789abcdef0123456789abcdef",
                request=GenerationRequest(prompt="Show how to add numbers."),
                repo=None,
                model=None,
                provider=provider,
                executor=executor,
                sink=recorder,
                budgets=budgets,
                cancel=stop,
            )
        finally:
            await provider.aclose()
            await executor.close()

    return loop.run_until_complete(asyncio.wait_for(run(), 120)), recorder


# -- script helpers ------------------------------------------------------------------------------


def results(request: RecordedRequest) -> list[str]:
    """The tool results the loop sent back in this request, in either wire format."""
    if request.path.rstrip("/").endswith("/v1/messages"):
        return [str(r.get("content", "")) for r in FakeAnthropic.tool_results(request)]
    return [str(m.get("content", "")) for m in FakeOpenAI.tool_results(request)]


def run_created_cell(request: RecordedRequest) -> Reply:
    """Execute the cell whose id the last create_cell result reported."""
    cell_id = json.loads(results(request)[0])["cell_id"]
    return tool_use("execute_cell", {"cell_id": cell_id})


def finish(summary: str = "Done.") -> Reply:
    return tool_use("finish", {"summary": summary})


def sent_results(fake) -> list[list[str]]:
    return [results(r) for r in fake.requests]


# -- scenarios -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ANTHROPIC, OPENAI])
def test_happy_path_puts_the_validated_cells_in_the_notebook(loop, kernel, kind):
    script = [
        tool_use("create_cell", {"code": "## Adding numbers", "type": "markdown"}, text="Plan: one cell."),
        tool_use("create_cell", {"code": "x = 21 * 2\nprint(x)"}),
        run_created_cell,
        finish("Adds two numbers."),
    ]
    with fake_for(kind, script) as fake:
        outcome, events = generate(loop, kernel, fake, kind)
        requests = fake.requests
    assert outcome.status == "finished", outcome.message
    cells = outcome.notebook.cells
    assert [c.cell_type for c in cells] == ["markdown", "code"]
    assert cells[1].source == "x = 21 * 2\nprint(x)"
    assert cells[1].outputs[0]["text"] == "42\n"
    assert outcome.turns == 4 and len(requests) == 4
    assert events.types()[0] == "started" and events.types()[-1] == "finished"
    assert [e["ok"] for e in events.of("cell_executed")] == [True]
    assert events.of("llm_text") == [{"text": "Plan: one cell."}]
    assert outcome.usage.input_tokens + outcome.usage.cache_read_tokens + outcome.usage.cache_write_tokens > 0
    # The kernel's answer reached the model, and the key never left the auth header.
    assert parse_execution_result(sent_results(fake)[3][0])["stdout"] == "42\n"
    assert all(KEY not in r.text for r in requests)


def test_an_error_the_agent_fixes_leaves_only_the_fixed_cell(loop, kernel):
    script = [
        tool_use("create_cell", {"code": "print(10 / 0)"}),
        run_created_cell,
        tool_use("edit_cell", {"cell_id": "c1", "code": "print(10 / 2)"}),
        tool_use("execute_cell", {"cell_id": "c1"}),
        finish(),
    ]
    with FakeAnthropic(script) as fake:
        outcome, events = generate(loop, kernel, fake)
        failure_seen = parse_execution_result(sent_results(fake)[2][0])
    assert outcome.status == "finished", outcome.message
    assert failure_seen["has_error"] is True and failure_seen["error"]["ename"] == "ZeroDivisionError"
    assert [c.source for c in outcome.notebook.cells] == ["print(10 / 2)"]
    assert outcome.notebook.cells[0].outputs[0]["text"] == "5.0\n"
    assert [e["ok"] for e in events.of("cell_executed")] == [False, True]


def test_a_malformed_tool_call_goes_back_to_the_model_as_an_error(loop, kernel):
    script = [
        tool_use("create_cell", raw='{"code": "print(1)"'),
        tool_use("create_cell", {"code": "print(1)"}),
        run_created_cell,
        finish(),
    ]
    with FakeAnthropic(script) as fake:
        outcome, events = generate(loop, kernel, fake)
        error_result = FakeAnthropic.tool_results(fake.requests[1])[0]
    assert outcome.status == "finished", outcome.message
    assert error_result["is_error"] is True and "not valid JSON" in error_result["content"]
    assert len(outcome.notebook.cells) == 1


def test_an_unknown_tool_goes_back_to_the_model_as_an_error(loop, kernel):
    with FakeOpenAI([tool_use("run_shell", {"cmd": "ls"}), finish()]) as fake:
        outcome, _ = generate(loop, kernel, fake, OPENAI)
        (error_result,) = FakeOpenAI.tool_results(fake.requests[1])
    assert outcome.status == "finished", outcome.message
    assert "Unknown tool 'run_shell'" in error_result["content"]


def test_a_rate_limit_is_retried_and_the_generation_carries_on(loop, kernel):
    script = [
        http_error(429, headers={"retry-after": "0"}),
        tool_use("create_cell", {"code": "print('ok')"}),
        http_error(529),
        run_created_cell,
        finish(),
    ]
    with FakeAnthropic(script) as fake:
        outcome, events = generate(loop, kernel, fake)
        assert len(fake.requests) == 5
    assert outcome.status == "finished", outcome.message
    assert outcome.turns == 3 and "failed" not in events.types()
    assert [c.source for c in outcome.notebook.cells] == ["print('ok')"]


def test_a_cell_that_runs_too_long_is_interrupted_and_left_out(loop, kernel):
    script = [
        tool_use("create_cell", {"code": "import time\ntime.sleep(30)"}),
        run_created_cell,
        finish("Gave up on the slow cell."),
    ]
    started = time.monotonic()
    with FakeAnthropic(script) as fake:
        outcome, events = generate(loop, kernel, fake, budgets=Budgets(max_turns=6, cell_timeout=1.5))
        told = parse_execution_result(sent_results(fake)[2][0])
    assert time.monotonic() - started < 15
    assert outcome.status == "finished", outcome.message
    assert told["status"] == "timeout" and told["has_error"] is True
    assert events.of("cell_executed")[0]["status"] == "timeout"
    assert outcome.notebook.cells == []


def test_the_kernel_still_works_after_an_interrupted_cell(loop, kernel):
    with FakeAnthropic(
        [tool_use("create_cell", {"code": "print('alive')"}), run_created_cell, finish()]
    ) as fake:
        outcome, _ = generate(loop, kernel, fake)
    assert outcome.notebook.cells[0].outputs[0]["text"] == "alive\n"


def test_a_kernel_that_dies_fails_the_generation_with_a_clear_message(loop):
    km = loop.run_until_complete(start_kernel())
    script = [
        tool_use("create_cell", {"code": "print('before')"}),
        run_created_cell,
        tool_use("create_cell", {"code": "import os\nos._exit(1)"}),
        run_created_cell,
        finish("never reached"),
    ]
    try:
        with FakeAnthropic(script) as fake:
            outcome, events = generate(loop, km, fake)
            assert len(fake.requests) == 4
    finally:
        loop.run_until_complete(km.shutdown_kernel(now=True))
    assert outcome.status == "failed"
    (failed,) = events.of("failed")
    assert failed["code"] == "kernel_died" and "kernel died" in failed["message"]
    # What ran before the crash is kept.
    assert [c.source for c in outcome.notebook.cells] == ["print('before')"]


def test_cancel_during_a_cell_interrupts_it_and_stops_at_once(loop, kernel):
    script = [
        tool_use("create_cell", {"code": "import time\ntime.sleep(30)"}),
        run_created_cell,
        finish("never reached"),
    ]
    recorder = Recorder()

    def cancel_soon(stop: asyncio.Event) -> None:
        def on_tool_call(data: dict[str, Any]) -> None:
            if data["name"] == "execute_cell":
                asyncio.get_running_loop().call_later(0.5, stop.set)

        recorder.hooks["tool_call"] = on_tool_call

    started = time.monotonic()
    with FakeAnthropic(script) as fake:
        outcome, events = generate(loop, kernel, fake, recorder=recorder, on_start=cancel_soon)
        assert len(fake.requests) == 2
    assert time.monotonic() - started < 10
    assert outcome.status == "cancelled"
    assert events.types()[-1] == "cancelled" and "failed" not in events.types()
    assert events.of("cell_executed")[0]["status"] == "cancelled"


def test_cancel_while_waiting_for_the_model_aborts_the_request(loop, kernel):
    def cancel_when_asked(stop: asyncio.Event) -> None:
        def on_status(data: dict[str, Any]) -> None:
            if data.get("phase") == "model":
                asyncio.get_running_loop().call_later(0.3, stop.set)

        recorder.hooks["status"] = on_status

    recorder = Recorder()
    started = time.monotonic()
    with FakeOpenAI([text_reply("too late").after(30)]) as fake:
        outcome, events = generate(loop, kernel, fake, OPENAI, recorder=recorder, on_start=cancel_when_asked)
        deadline = time.monotonic() + 5
        while not fake.aborted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.aborted, "the model request was not aborted"
    assert time.monotonic() - started < 5
    assert outcome.status == "cancelled" and events.types()[-1] == "cancelled"


def test_running_out_of_turns_stops_and_keeps_what_was_validated(loop, kernel):
    script = [tool_use("create_cell", {"code": f"Step {i}", "type": "markdown"}) for i in range(5)]
    with FakeAnthropic(script) as fake:
        outcome, events = generate(loop, kernel, fake, budgets=Budgets(max_turns=3, cell_timeout=5))
        assert len(fake.requests) == 3
    assert outcome.status == "failed"
    (failed,) = events.of("failed")
    assert failed["code"] == "budget_exhausted" and "turn limit" in failed["message"]
    assert [c.source for c in outcome.notebook.cells] == ["Step 0", "Step 1", "Step 2"]


def test_a_rejected_key_fails_the_generation_without_leaking_it(loop, kernel):
    with FakeAnthropic([http_error(401)]) as fake:
        outcome, events = generate(loop, kernel, fake)
    (failed,) = events.of("failed")
    assert outcome.status == "failed" and failed["code"] == "auth_failed"
    assert "API key was rejected" in failed["message"]
    assert KEY not in json.dumps(events.events)
