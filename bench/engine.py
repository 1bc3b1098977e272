"""Engine benchmark: what the generation engine adds on top of the kernel and the model.

(1) Round trip of a trivial cell (`1+1`): raw jupyter_client (execute, read iopub until idle) vs
    `KernelExecutor.execute` vs the tools layer's `execute_cell`, interleaved in one run against
    one kernel; the figure is the ratio of medians to raw. Target <= 1.2.
(2) A scripted generation (default 40 turns) against a zero-latency in-process provider: the
    orchestration time is total wall time minus the time inside `executor.execute` and inside
    `provider.next_turn`. Target < 1 s in total.
(3) Prompt caching with real SDKs against fake APIs lives in bench/engine_caching.py; it (or any
    other caller) can reuse `timed_generation(provider_factory, ...)` below with its own provider.

    .venv/bin/python bench/engine.py [--n 200] [--turns 40]

Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jupyter_client.manager import AsyncKernelManager  # noqa: E402

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation  # noqa: E402
from cookbook_ext.agent.providers.base import Provider, ToolCall  # noqa: E402
from cookbook_ext.agent.tools import Workspace  # noqa: E402
from cookbook_ext.kernel import ExecutionResult, KernelExecutor  # noqa: E402
from tests.fakes.scripted_provider import ScriptedProvider, call, turn  # noqa: E402

ROUND_TRIP_TARGET = 1.2
ORCHESTRATION_TARGET_S = 1.0


class NullSink:
    async def emit(self, type: str, data: dict[str, Any]) -> None:
        pass


# -- (1) round trip --------------------------------------------------------------------------------


async def raw_round_trip(client: Any, code: str) -> None:
    """What a bare jupyter_client user does: execute, then read iopub until this request is idle."""
    msg_id = client.execute(code)
    while True:
        try:
            msg = await client.get_iopub_msg(timeout=10)
        except Empty:
            raise RuntimeError("the kernel went quiet") from None
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return


async def round_trips(km: AsyncKernelManager, n: int, code: str = "1+1") -> dict[str, Any]:
    raw_client = km.client()
    raw_client.start_channels()
    await raw_client.wait_for_ready(timeout=60)
    executor = KernelExecutor(km)
    workspace = Workspace(
        generation_id="bench",
        executor=executor,
        sink=NullSink(),
        budgets=Budgets(),
        cancel=asyncio.Event(),
    )
    await workspace.create_cell(code, "code")
    execute_call = ToolCall(id="t", name="execute_cell", arguments={"cell_id": "c1"})

    async def raw() -> None:
        await raw_round_trip(raw_client, code)

    async def engine() -> None:
        result: ExecutionResult = await executor.execute(code)
        assert result.status == "ok", result

    async def tools() -> None:
        outcome = await workspace.call(execute_call)
        assert '"has_error": false' in outcome.content, outcome.content

    runners = {"raw": raw, "executor": engine, "tools": tools}
    samples: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for i in range(n + 20):  # the first 20 rounds warm up and are not counted
        order = order[1:] + order[:1]  # rotate so no path always runs first
        for name in order:
            started = time.perf_counter()
            await runners[name]()
            if i >= 20:
                samples[name].append(time.perf_counter() - started)
    raw_client.stop_channels()
    await executor.close()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "n": n,
        "code": code,
        "median_ms": {name: round(m * 1000, 3) for name, m in medians.items()},
        "p90_ms": {name: round(sorted(v)[int(len(v) * 0.9)] * 1000, 3) for name, v in samples.items()},
        "ratio_executor_vs_raw": round(medians["executor"] / medians["raw"], 3),
        "ratio_tools_vs_raw": round(medians["tools"] / medians["raw"], 3),
        "target": ROUND_TRIP_TARGET,
    }


# -- (2) orchestration -----------------------------------------------------------------------------


class TimedExecutor:
    """Wraps an executor and adds up the time spent inside `execute`."""

    def __init__(self, inner: KernelExecutor) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    async def execute(self, code: str, **kwargs: Any) -> ExecutionResult:
        started = time.perf_counter()
        try:
            return await self.inner.execute(code, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


class TimedProvider(Provider):
    """Wraps a provider and adds up the time spent inside `next_turn`."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.seconds = 0.0
        self.calls = 0

    def prepare(self, **kwargs: Any) -> None:
        self.inner.prepare(**kwargs)

    async def next_turn(self, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.inner.next_turn(**kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    async def aclose(self) -> None:
        await self.inner.aclose()


def scripted_turns(turns: int) -> list[Any]:
    """`turns` model turns: alternate create_cell / execute_cell, a markdown cell, then finish."""
    script: list[Any] = []
    cell = 0
    while len(script) < turns - 2:
        cell += 1
        script.append(turn(call("create_cell", code=f"value_{cell} = {cell} * 2\nvalue_{cell}")))
        if len(script) < turns - 2:
            script.append(turn(call("execute_cell", cell_id=f"c{cell}")))
    script.append(turn(call("create_cell", code="## Done", type="markdown")))
    script.append(turn(call("finish", summary="benchmark")))
    return script


async def timed_generation(
    km: AsyncKernelManager,
    provider_factory: Callable[[], Provider],
    *,
    repo: dict[str, Any] | None = None,
    budgets: Budgets | None = None,
) -> dict[str, Any]:
    """Run one generation with `provider_factory()` and split its wall time into where it went.

    The hook for other provider benchmarks: pass a factory for any Provider (a real SDK against a
    fake server, say) and read `orchestration_s` and `provider_s` from the result.
    """
    executor = TimedExecutor(KernelExecutor(km))
    provider = TimedProvider(provider_factory())
    await executor.inner.execute("None")  # connect the client outside the measured run
    started = time.perf_counter()
    outcome = await run_generation(
        generation_id="bench",
        request=GenerationRequest(prompt="benchmark"),
        repo=repo,
        model=None,
        provider=provider,
        executor=executor,  # type: ignore[arg-type]
        sink=NullSink(),
        budgets=budgets or Budgets(max_turns=1000),
        cancel=asyncio.Event(),
    )
    total = time.perf_counter() - started
    await executor.inner.close()
    await provider.aclose()
    return {
        "status": outcome.status,
        "turns": outcome.turns,
        "cells": len(outcome.cells),
        "executions": executor.calls,
        "total_s": round(total, 4),
        "kernel_s": round(executor.seconds, 4),
        "provider_s": round(provider.seconds, 4),
        "orchestration_s": round(total - executor.seconds - provider.seconds, 4),
        "orchestration_ms_per_turn": round(
            (total - executor.seconds - provider.seconds) * 1000 / outcome.turns, 3
        ),
    }


async def main_async(n: int, turns: int) -> dict[str, Any]:
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel()
    try:
        trips = await round_trips(km, n)
        generation = await timed_generation(
            km, lambda: ScriptedProvider(scripted_turns(turns), copy_messages=False)
        )
    finally:
        await km.shutdown_kernel(now=True)
    generation["target_s"] = ORCHESTRATION_TARGET_S
    return {
        "round_trip": trips,
        "orchestration": generation,
        "pass": trips["ratio_executor_vs_raw"] <= ROUND_TRIP_TARGET
        and trips["ratio_tools_vs_raw"] <= ROUND_TRIP_TARGET
        and generation["orchestration_s"] < ORCHESTRATION_TARGET_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="measured round trips per path")
    parser.add_argument("--turns", type=int, default=40, help="model turns in the scripted generation")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.n, args.turns)), indent=2))


if __name__ == "__main__":
    main()
