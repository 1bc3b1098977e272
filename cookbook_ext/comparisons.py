"""Comparisons: one recipe with the same inputs and repository, run by 2 to 4 providers or models,
each run a generation of its own in a kernel of its own; and the table that compares them (status,
validated cells, the fresh-kernel check, turns, tokens, cost, time to the first cell and to the
notebook). No tornado here: the REST handlers and `jupyter cookbook compare` both use it."""

from __future__ import annotations

import asyncio
import builtins
from typing import TYPE_CHECKING, Any

from traitlets.config import LoggingConfigurable

from .api_models import ComparisonCreate, GenerationCreate
from .errors import CookbookError
from .store import TERMINAL_STATUSES, AsyncStore, new_id
from .workers import Workers

if TYPE_CHECKING:
    from .runner import GenerationRunner

# What a run's generation is given of the comparison's body: all of it but the runs.
_NOT_PASSED = {"runs"}


class ComparisonRunner(LoggingConfigurable):
    def __init__(
        self, *, runner: GenerationRunner, store: AsyncStore, workers: Workers, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.runner = runner
        self.store = store
        self.workers = workers

    async def start(self, body: ComparisonCreate) -> dict[str, Any]:
        """Check every run and the recipe, then start one generation per run: nothing starts (and
        nothing is stored) when any run or input is invalid; 429 when the runs do not all fit."""
        runner = self.runner
        base = GenerationCreate.model_validate(
            body.model_dump(exclude=_NOT_PASSED, exclude_unset=True) | _one_source(body)
        )
        # Every run's provider first: a name that is unknown, not allowed or has no key is a 400
        # naming the run, before the recipe is rendered or the repository read.
        for i, run in enumerate(body.runs):
            try:
                provider = await self.workers.run(
                    runner.providers.make, run.provider, secret=runner.secrets.resolve, model=run.model
                )
            except CookbookError as err:
                raise type(err)(
                    f"runs[{i}] ({run.provider}): {err.message}",
                    code=err.code,
                    details={**err.details, "field": f"runs[{i}].provider", "provider": run.provider},
                ) from None
            await provider.aclose()
        redact = await self.workers.run(runner.redactor)
        base, recipe = await self.workers.run(runner.prepare_recipe, base, redact)
        # The same repository at the same commit for every run: read once, here.
        if base.source:
            repo = await runner.repositories.ingest(base.source, base.ref, trust=base.trust)
            base = base.model_copy(update={"repo_id": repo["id"], "source": None, "ref": None})
        records: list[dict[str, Any]] = []
        async with runner.reserved_slots(len(body.runs)):
            try:
                for run in body.runs:
                    one = base.model_copy(update={"provider": run.provider, "model": run.model})
                    records.append(await runner.start(one))
            except BaseException:
                for record in records:  # the ones started before a later one failed
                    await runner.cancel(record["id"])
                raise
        comparison_id = new_id()
        first = await self.store.get_generation(records[0]["id"])
        request = {k: v for k, v in first["request"].items() if k not in ("provider", "model")}
        runs = [
            {
                "index": i,
                "provider": run.provider,
                "model": record.get("model") or run.model,
                "generation_id": record["id"],
            }
            for i, (run, record) in enumerate(zip(body.runs, records, strict=True))
        ]
        await self.store.create_comparison(comparison_id=comparison_id, request=request, runs=runs)
        return {
            "id": comparison_id,
            "status": "running",
            "generations": [r["id"] for r in records],
            "recipe": recipe.ref(),
        }

    async def get(self, comparison_id: str) -> dict[str, Any]:
        """The comparison as a table: one row per run, filled in as the runs go."""
        record = await self.store.get_comparison(comparison_id)
        rows = await asyncio.gather(*(self._row(run) for run in record["runs"]))
        return {
            "id": record["id"],
            "status": _overall(rows),
            "created_at": record["created_at"],
            "request": record["request"],
            "recipe": next((r["recipe"] for r in rows if r.get("recipe")), None),
            "runs": [{k: v for k, v in row.items() if k != "recipe"} for row in rows],
        }

    async def list(self) -> builtins.list[dict[str, Any]]:
        out = []
        for record in await self.store.list_comparisons():
            runs = []
            for run in record["runs"]:
                try:
                    gen = await self.store.get_generation(run["generation_id"])
                    status = gen["status"]
                except CookbookError:
                    status = "missing"
                runs.append({**run, "status": status})
            out.append(
                {
                    "id": record["id"],
                    "status": _overall(runs),
                    "created_at": record["created_at"],
                    "recipe": _recipe_of(record["request"]),
                    "runs": runs,
                }
            )
        return out

    async def _row(self, run: dict[str, Any]) -> dict[str, Any]:
        gen_id = run["generation_id"]
        gen = await self.runner.get(gen_id)
        events = await self.store.events_of_types(gen_id, ("usage", "cell_validated", "finished"))
        usage = dict(gen.get("usage") or {})
        if not usage:  # still running: the latest usage event has the totals so far
            latest = [e["data"] for e in events if e["type"] == "usage"]
            usage = latest[-1] if latest else {}
        created = float(gen["created_at"])
        first_cell = next((e["ts"] for e in events if e["type"] == "cell_validated"), None)
        finished = next((e["ts"] for e in events if e["type"] == "finished"), None)
        cells = gen.get("cells") or []
        return {
            "index": run["index"],
            "provider": run["provider"],
            "model": gen.get("model") or run.get("model"),
            "generation_id": gen_id,
            "status": gen["status"],
            "message": gen.get("message"),
            "cells": cells,
            "cells_count": len(cells),
            "verification": gen.get("verification"),
            "turns": int(usage.get("turns") or 0),
            "tokens": {
                "input": int(usage.get("input_tokens") or 0),
                "output": int(usage.get("output_tokens") or 0),
                "cached": int(usage.get("cache_read_tokens") or 0),
                "cache_write": int(usage.get("cache_write_tokens") or 0),
            },
            "cost_usd": float(usage.get("cost_usd") or 0.0),
            "seconds_to_first_cell": round(first_cell - created, 3) if first_cell is not None else None,
            "seconds_to_notebook": round(finished - created, 3) if finished is not None else None,
            "notebook_url": f"cookbook/generations/{gen_id}/notebook",
            "recipe": gen.get("recipe"),
        }


def _one_source(body: ComparisonCreate) -> dict[str, Any]:
    """repo_id or source, exactly as given (exclude_unset keeps them; this keeps the validator
    of GenerationCreate satisfied when one was given as null)."""
    return {"repo_id": body.repo_id} if body.repo_id else {"source": body.source}


def _overall(runs: list[dict[str, Any]]) -> str:
    """running while any run runs; finished when every run has ended, however it ended."""
    if any(r.get("status") not in (*TERMINAL_STATUSES, "missing") for r in runs):
        return "running"
    return "finished"


def _recipe_of(request: dict[str, Any]) -> dict[str, Any] | None:
    template = request.get("template")
    if not template:
        return None
    return {"id": template, "version": request.get("template_version")}
