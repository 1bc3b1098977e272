"""The loop's side of issue 12, with a scripted provider and a real kernel: an empty run says why,
a provider without a model gets progress about examples, and a follow-up may replace the unit's
notebook cells by their ids but not run, delete or insert before them."""

from __future__ import annotations

import asyncio

import pytest

from cookbook_ext.agent.follow_up import FollowUp, NotebookCellView
from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation
from cookbook_ext.kernel import KernelExecutor
from tests.fakes.kernels import running_kernel
from tests.fakes.scripted_provider import RecordingSink, ScriptedProvider, call, tool_results, turn


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


def _generate(kernel, provider, request=None, **extra):
    sink = RecordingSink()

    async def scenario():
        executor = KernelExecutor(kernel.km)
        try:
            return await run_generation(
                generation_id="gen-outcomes",
                request=request or GenerationRequest(prompt="p"),
                repo=None,
                model=None,
                provider=provider,
                executor=executor,
                sink=sink,
                budgets=Budgets(),
                cancel=asyncio.Event(),
                **extra,
            )
        finally:
            await executor.close()

    return kernel.run(scenario()), sink


def test_a_run_that_keeps_nothing_says_why_and_what_to_do(kernel):
    provider = ScriptedProvider(
        [
            turn(call("create_cell", code="1 / 0"), call("execute_cell", cell_id="c1")),
            turn(call("finish", summary="It divides by zero.")),
        ]
    )
    offline = {"name": "offline", "display_name": "Offline", "available": True, "uses_model": False}
    outcome, sink = _generate(kernel, provider, alternatives=[offline])
    [finished] = sink.of("finished")
    assert finished["cells"] == []
    assert (
        finished["cause"]
        == "It divides by zero; the most common error was ZeroDivisionError: division by zero."
    )
    assert finished["next_steps"] == [
        {"action": "show_attempts", "label": "Show the failed attempt", "count": 1},
        {"action": "try_provider", "label": "Try with Offline", "provider": "offline"},
    ]
    assert (outcome.cause, outcome.next_steps) == (finished["cause"], finished["next_steps"])


def test_a_run_that_keeps_cells_has_no_cause(kernel):
    provider = ScriptedProvider(
        [
            turn(call("create_cell", code="x = 1"), call("execute_cell", cell_id="c1")),
            turn(call("finish", summary="ok")),
        ]
    )
    outcome, sink = _generate(kernel, provider)
    assert "cause" not in sink.of("finished")[0] and outcome.cause is None


class ExamplesOnly(ScriptedProvider):
    uses_model = False


def test_a_provider_without_a_model_gets_progress_about_examples(kernel):
    _, sink = _generate(kernel, ExamplesOnly([turn(call("finish", summary="ok"))]))
    statuses = [s["message"] for s in sink.of("status")]
    assert "Trying the next example" in statuses and not any("model" in s for s in statuses)
    assert sink.of("started")[0]["uses_model"] is False


def test_a_follow_up_replaces_notebook_cells_but_cannot_run_delete_or_insert_before_them(kernel):
    follow_up = FollowUp(
        parent_id="p" * 32,
        cells=[
            NotebookCellView(id="nb-1", cell_type="code", source="a = 1", edited=False),
            NotebookCellView(id="nb-raw", cell_type="raw", source="raw"),
        ],
    )
    provider = ScriptedProvider(
        [
            turn(
                call("execute_cell", cell_id="nb-1"),
                call("delete_cell", cell_id="nb-1"),
                call("create_cell", code="b = 2", before="nb-1"),
                call("edit_cell", cell_id="nb-raw", code="x"),
                call("edit_cell", cell_id="nb-1", code="a = 1"),  # unchanged: nothing to replace
                call("edit_cell", cell_id="nb-1", code="a = 2"),
                call("execute_cell", cell_id="nb-1"),
                call("edit_cell", cell_id="nb-1", code="a = 3"),  # the same new version, edited again
                call("execute_cell", cell_id="c1"),
            ),
            turn(call("finish", summary="ok")),
        ]
    )
    outcome, sink = _generate(kernel, provider, GenerationRequest(prompt="p", follow_up=follow_up))
    results = list(tool_results(provider.calls[1][-1]).values())
    assert [r["is_error"] for r in results[:4]] == [True, True, True, True]
    assert all("cell of the user's notebook" in r["content"] for r in results[:3])
    assert '"edited": false' in results[4]["content"]
    [cell] = outcome.cells
    assert cell["source"] == "a = 3" and cell["metadata"]["cookbook"]["replaces"] == "nb-1"
    assert [e["replaces"] for e in sink.of("cell_validated")] == ["nb-1", "nb-1"]
    assert sink.of("started")[0]["parent_id"] == "p" * 32
    assert outcome.notebook.metadata["cookbook"]["parent_id"] == "p" * 32
