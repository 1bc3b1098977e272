"""Follow-up benchmark: what starting a follow-up reads of its thread, against the replay a plain
GET of the parent does, in the same run on the same store.

A thread of --depth generations (each --cells validated cells, plus the tool calls, runs and
approvals a generation makes around them) is written to a SQLite store in a temp folder. Then,
interleaved --n times: (baseline) one generation's validated cells replayed from its events, as
`GET cookbook/generations/{id}` does; (follow-up) the chain read, the thread's cells merged and
the parent's failed attempts collected (lineage.chain + follow_up_context), which is what a
follow-up adds before its first turn (the kernel's namespace read is one silent execute, measured
by the kernel's own round trip in bench/engine.py). The figure is the ratio of medians.

    .venv/bin/python bench/follow_up.py [--depth 10] [--cells 60] [--n 30]

Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cookbook_ext.lineage import chain, follow_up_context  # noqa: E402
from cookbook_ext.replay import replay_cells  # noqa: E402
from cookbook_ext.store import AsyncStore, Store  # noqa: E402

# A follow-up reads more than a GET (the chain's cells, the parent's attempts), but only once per
# follow-up: within a small multiple of one replay per generation in the thread.
TARGET_PER_GENERATION = 2.0


def _generation_events(gen: int, cells: int) -> list[tuple[int, str, dict[str, Any], float]]:
    events: list[tuple[int, str, dict[str, Any], float]] = []
    seq = 0

    def add(type_: str, data: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        events.append((seq, type_, data, float(seq)))

    for n in range(1, cells + 1):
        cell_id = f"c{n}"
        source = f"value_{gen}_{n} = {n} * 2\nprint(value_{gen}_{n})"
        add("tool_call", {"id": f"t{n}", "name": "create_cell", "arguments": {"code": source}})
        add("cell_created", {"cell_id": cell_id, "cell_type": "code", "source": source, "title": f"Step {n}"})
        ok = n % 7 != 0  # some attempts fail, as real ones do
        add(
            "cell_executed",
            {"cell_id": cell_id, "ok": ok, "error": None if ok else {"ename": "E", "evalue": "x"}},
        )
        if ok:
            cell = {
                "id": f"cookbook-g{gen}-{cell_id}",
                "cell_type": "code",
                "metadata": {"cookbook": {"cell_id": cell_id}},
                "source": source,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{n * 2}\n"}],
                "execution_count": n,
            }
            add("cell_validated", {"cell_id": cell_id, "index": n, "cell": cell, "title": f"Step {n}"})
        add("usage", {"input_tokens": n})
    return events


async def measure(depth: int, cells: int, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        sync = Store(f"sqlite:///{Path(tmp) / 'cookbook.db'}")
        store = AsyncStore(sync)
        try:
            parent: str | None = None
            for gen in range(depth):
                record = sync.create_generation(
                    request={"prompt": f"step {gen}"},
                    provider="offline",
                    model=None,
                    repo_id=None,
                    kernel_id=None,
                    parent_id=parent,
                )
                sync.add_events(record["id"], _generation_events(gen, cells))
                sync.update_generation(record["id"], status="finished", message=f"Made step {gen}.")
                parent = record["id"]
            assert parent is not None

            baseline, follow_up = [], []
            for _ in range(n):
                started = time.perf_counter()
                replay_cells(await store.events_of_types(parent, ("cell_validated", "cell_invalidated")))
                baseline.append(time.perf_counter() - started)
                started = time.perf_counter()
                context = await follow_up_context(store, await chain(store, parent), None, None)
                follow_up.append(time.perf_counter() - started)
            base, ours = statistics.median(baseline), statistics.median(follow_up)
            ratio = ours / base
            return {
                "depth": depth,
                "cells_per_generation": cells,
                "thread_cells": len(context.cells),
                "failed_attempts": len(context.failed_attempts),
                "baseline_replay_ms": round(base * 1000, 2),
                "follow_up_context_ms": round(ours * 1000, 2),
                "ratio": round(ratio, 2),
                "ratio_per_generation": round(ratio / depth, 2),
                "target_per_generation": TARGET_PER_GENERATION,
                "ok": ratio / depth <= TARGET_PER_GENERATION,
            }
        finally:
            store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--cells", type=int, default=60)
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    summary = asyncio.run(measure(args.depth, args.cells, args.n))
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
