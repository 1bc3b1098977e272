"""Cells are named by what they do: the heading above a model's cell, else its first comment, else
its first line; never its id. Pure naming, and through the loop with a real kernel."""

from __future__ import annotations

import asyncio

import pytest

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation
from cookbook_ext.agent.tools import cell_title
from cookbook_ext.kernel import KernelExecutor
from tests.fakes.kernels import running_kernel
from tests.fakes.scripted_provider import RecordingSink, ScriptedProvider, call, turn


@pytest.mark.parametrize(
    ("source", "cell_type", "title"),
    [
        ("## Load the model\n\nIt is small.", "markdown", "Load the model"),
        ("Plain words first\nthen more", "markdown", "Plain words first"),
        ("# load the model\nmodel = load()", "code", "Load the model"),
        ("#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nimport json", "code", "import json"),
        ("\n\nresult = compute(1, 2)\n", "code", "result = compute(1, 2)"),
        ("x = '" + "a" * 200 + "'", "code", "x = '" + "a" * 74 + "…"),
    ],
)
def test_a_cell_is_named_from_its_own_text(source, cell_type, title):
    assert cell_title(source, cell_type) == title


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


def test_a_models_cells_are_named_by_the_heading_above_them_or_their_first_comment(kernel):
    provider = ScriptedProvider(
        [
            turn(
                call("create_cell", code="## Count the words\n\nA first look.", type="markdown"),
                call("create_cell", code="words = 'a b c'.split()\nprint(len(words))"),
                call("execute_cell", cell_id="c2"),
                call("create_cell", code="# show the longest word\nprint(max(words, key=len))"),
                call("execute_cell", cell_id="c3"),
            ),
            turn(call("finish", summary="done")),
        ]
    )
    sink = RecordingSink()

    async def scenario():
        executor = KernelExecutor(kernel.km)
        try:
            return await run_generation(
                generation_id="gen-titles",
                request=GenerationRequest(prompt="count words"),
                repo=None,
                model=None,
                provider=provider,
                executor=executor,
                sink=sink,
                budgets=Budgets(),
                cancel=asyncio.Event(),
            )
        finally:
            await executor.close()

    outcome = kernel.run(scenario())
    assert [e["title"] for e in sink.of("cell_created")] == [
        "Count the words",
        "Count the words",
        "Show the longest word",
    ]
    assert [c["metadata"]["cookbook"]["title"] for c in outcome.cells] == [
        "Count the words",
        "Count the words",
        "Show the longest word",
    ]
    assert {c["metadata"]["cookbook"]["origin_detail"] for c in outcome.cells} == {
        "written by scripted-model"
    }
