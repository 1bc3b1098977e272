"""Engine benchmark, part 3: what prompt caching saves over a long generation.

A 40-turn scripted generation runs through the real loop, a real kernel and the real `anthropic`
SDK against the fake Messages API, whose usage figures simulate Anthropic's prompt cache (prefix
match at cache_control breakpoints, 20-block lookback, 1024-token minimum). It runs twice, with
and without caching, and reports the input tokens billed at the full rate or above (fresh input
plus cache writes) as a multiple of the repository context's size. Target: <= 1.5x with caching
(without, every turn re-sends the whole context: about 40x).

    .venv/bin/python bench/engine_caching.py [--turns 40] [--context-tokens 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jupyter_client.manager import AsyncKernelManager  # noqa: E402

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation  # noqa: E402
from cookbook_ext.agent.providers.anthropic import DEFAULT_MODEL, AnthropicProvider  # noqa: E402
from cookbook_ext.agent.providers.pricing import price_for  # noqa: E402
from cookbook_ext.kernel import KernelExecutor  # noqa: E402
from tests.fakes import FakeAnthropic, RecordedRequest, Reply, tool_use  # noqa: E402
from tests.fakes.http_server import estimate_tokens  # noqa: E402

TARGET = 1.5


class _Sink:
    async def emit(self, type: str, data: dict[str, Any]) -> None:
        pass


def _context(tokens: int) -> dict[str, Any]:
    """A repository whose context pack is about `tokens` tokens of README, API and examples."""
    paragraph = (
        "## Usage\nThe `Summarizer` class wraps the model; call `summarize(texts, max_length=128)` "
        "to get one summary per input. Examples live under examples/, one script per task.\n"
    )
    markdown = (paragraph * (tokens * 4 // len(paragraph) + 1))[: tokens * 4]
    return {
        "name": "acme/news-summarizer",
        "url": "https://github.com/acme/news-summarizer",
        "commit": "0" * 40,
        "context": {"markdown": markdown},
    }


def _script(turns: int) -> list[Any]:
    """turns - 2 alternating create/execute calls, a markdown cell, then finish."""

    def run_created(request: RecordedRequest) -> Reply:
        cell_id = json.loads(FakeAnthropic.tool_results(request)[0]["content"])["cell_id"]
        return tool_use("execute_cell", {"cell_id": cell_id})

    script: list[Any] = []
    step = 0
    while len(script) < turns - 2:
        script.append(tool_use("create_cell", {"code": f"value_{step} = {step} * 2\nprint(value_{step})"}))
        script.append(run_created)
        step += 1
    script = script[: turns - 2]
    script.append(tool_use("create_cell", {"code": "That is all.", "type": "markdown"}))
    script.append(tool_use("finish", {"summary": "Done."}))
    return script


async def _generate(
    km: AsyncKernelManager, *, turns: int, context_tokens: int, caching: bool
) -> dict[str, Any]:
    repo = _context(context_tokens)
    with FakeAnthropic(_script(turns), min_cache_tokens=1024) as fake:
        provider = AnthropicProvider("sk-bench", base_url=fake.base_url, prompt_caching=caching)
        executor = KernelExecutor(km, cell_timeout=30)
        try:
            outcome = await run_generation(
                generation_id="bench-caching",
                request=GenerationRequest(prompt="Summarise German news articles."),
                repo=repo,
                model=None,
                provider=provider,
                executor=executor,
                sink=_Sink(),
                budgets=Budgets(max_turns=turns, cell_timeout=30),
                cancel=asyncio.Event(),
            )
        finally:
            await provider.aclose()
            await executor.close()
        # The repository's context is the opening message's first block (untrusted data, not
        # part of the system prompt).
        opening = fake.requests[0].body["messages"][0]["content"]
        assert opening[0]["text"].startswith('<untrusted_data source="repository"'), opening[0]["text"][:80]
        context_size = estimate_tokens(opening[0]["text"])
        assert fake.errors == [], fake.errors
    u = outcome.usage
    full_rate = u.input_tokens + u.cache_write_tokens
    return {
        "status": outcome.status,
        "turns": outcome.turns,
        "context_tokens": context_size,
        "input_tokens": u.input_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "full_rate_input_tokens": full_rate,
        "full_rate_x_context": round(full_rate / context_size, 2),
        "cost_usd": round(u.cost_usd, 4),
    }


async def _run(turns: int, context_tokens: int) -> dict[str, Any]:
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    try:
        started = time.monotonic()
        cached = await _generate(km, turns=turns, context_tokens=context_tokens, caching=True)
        uncached = await _generate(km, turns=turns, context_tokens=context_tokens, caching=False)
        seconds = time.monotonic() - started
    finally:
        await km.shutdown_kernel(now=True)
    return {
        "name": "prompt caching over a long generation",
        "model_priced_as": DEFAULT_MODEL,
        "price": vars(price_for(DEFAULT_MODEL)) if price_for(DEFAULT_MODEL) else None,
        "with_caching": cached,
        "without_caching": uncached,
        "cost_ratio": round(cached["cost_usd"] / uncached["cost_usd"], 3) if uncached["cost_usd"] else None,
        "target_x_context": TARGET,
        "target_met": cached["full_rate_x_context"] <= TARGET and cached["status"] == "finished",
        "seconds": round(seconds, 1),
    }


def run(turns: int = 40, context_tokens: int = 20_000) -> dict[str, Any]:
    """Run both generations and return the figures (the hook bench/engine.py calls)."""
    return asyncio.run(_run(turns, context_tokens))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--context-tokens", type=int, default=20_000)
    args = parser.parse_args(argv)
    result = run(args.turns, args.context_tokens)
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
