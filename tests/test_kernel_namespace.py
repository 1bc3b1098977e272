"""What a follow-up reads of the user's kernel: names and types with one silent execute, nothing
left behind, and a busy kernel left alone."""

from __future__ import annotations

import asyncio

import pytest

from cookbook_ext.kernel import KernelExecutor
from tests.fakes.kernels import running_kernel


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


def test_the_namespace_lists_variables_with_types_and_imported_modules(kernel):
    async def scenario():
        executor = KernelExecutor(kernel.km)
        try:
            await executor.execute(
                "import json\nimport os.path as osp\nfrom statistics import mean\n"
                "values = [1, 2, 3]\nclass Box: pass\nbox = Box()\n_private = 1\nsecret_value = 'x' * 5"
            )
            return await executor.read_namespace()
        finally:
            await executor.close()

    state = kernel.run(scenario())
    variables = {name: (kind, detail) for name, kind, detail in state["variables"]}
    assert variables["values"] == ("list", "len 3")
    assert variables["mean"] == ("function", "from statistics")
    assert variables["Box"] == ("class", "from __main__")
    assert variables["box"] == ("__main__.Box", "")
    assert "_private" not in variables and "In" not in variables and "get_ipython" not in variables
    assert ["osp", "posixpath"] in state["modules"] and ["json", "json"] in state["modules"]
    assert "xxxxx" not in repr(state)  # names and types only, never values
    assert state["truncated"] is False


def test_reading_the_namespace_leaves_no_name_and_no_execution_count(kernel):
    async def scenario():
        executor = KernelExecutor(kernel.km)
        try:
            before = (await executor.execute("1")).execution_count
            await executor.read_namespace()
            after = await executor.execute("sorted(k for k in globals() if 'cookbook' in k)")
            return before, after
        finally:
            await executor.close()

    before, after = kernel.run(scenario())
    assert after.execution_count == before + 1
    assert after.outputs[0]["data"]["text/plain"] == "[]"


def test_the_namespace_is_bounded(kernel):
    async def scenario():
        executor = KernelExecutor(kernel.km)
        try:
            await executor.execute("for _i in range(50): globals()[f'v{_i}'] = _i")
            return await executor.read_namespace(limit=10)
        finally:
            await executor.close()

    state = kernel.run(scenario())
    assert len(state["variables"]) == 10 and state["truncated"] is True


def test_a_busy_kernel_is_not_interrupted_to_read_its_namespace(kernel, tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    # The user's cell runs until the test opens its gate (a file), so nothing races.
    code = (
        "import pathlib, time\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.02)\n"
        "print('done')"
    )

    async def scenario():
        users = KernelExecutor(kernel.km)  # the notebook's own client
        ours = KernelExecutor(kernel.km)
        try:
            assert await ours.connect()  # talking to the kernel already: the read is queued behind
            cell = asyncio.ensure_future(users.execute(code, timeout=60))
            while not started.exists():
                await asyncio.sleep(0.02)
            state = await ours.read_namespace(timeout=0.5)
            go.touch()
            return state, await cell
        finally:
            await users.close()
            await ours.close()

    state, result = kernel.run(scenario())
    assert state is None
    assert result.ok and "done" in result.stdout  # ran to its end: nobody interrupted it
