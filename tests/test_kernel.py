"""KernelExecutor against real ipykernel kernels."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import nbformat
import pytest
from jupyter_client.session import Session

from cookbook_ext.kernel import KernelExecutor
from tests.fakes.kernels import KernelHarness, running_kernel


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


@pytest.fixture(scope="module")
def executor(kernel):
    ex = KernelExecutor(kernel.km, cell_timeout=30, progress_interval=0.2)
    yield ex
    kernel.run(ex.close())


@pytest.fixture
def doomed():
    """A kernel of its own for tests that kill it."""
    with running_kernel() as harness:
        yield harness


def _valid(output: dict) -> None:
    nbformat.validate(nbformat.from_dict(output), ref=output["output_type"], version=4)


def test_expression_result_is_a_complete_execute_result(kernel, executor):
    result = kernel.run(executor.execute("40 + 2"))
    assert result.status == "ok"
    assert result.error is None
    [output] = result.outputs
    assert output["output_type"] == "execute_result"
    assert output["data"]["text/plain"] == "42"
    assert output["execution_count"] == result.execution_count
    _valid(output)


def test_consecutive_stream_writes_merge_into_one_output_per_name(kernel, executor):
    code = "import sys\nfor i in range(3):\n    print(i, flush=True)\nprint('oops', file=sys.stderr)"
    result = kernel.run(executor.execute(code))
    streams = [o for o in result.outputs if o["output_type"] == "stream"]
    assert [s["name"] for s in streams] == ["stdout", "stderr"]
    assert streams[0]["text"] == "0\n1\n2\n"
    assert result.stdout == "0\n1\n2\n"
    assert result.stderr == "oops\n"


def test_display_data_keeps_every_mime_type(kernel, executor):
    code = "from IPython.display import HTML, display\ndisplay(HTML('<b>hi</b>'))"
    result = kernel.run(executor.execute(code))
    [output] = result.outputs
    assert output["output_type"] == "display_data"
    assert output["data"]["text/html"] == "<b>hi</b>"
    assert "text/plain" in output["data"]
    _valid(output)


def test_clear_output_drops_what_came_before(kernel, executor):
    code = "from IPython.display import clear_output\nprint('old')\nclear_output()\nprint('new')"
    result = kernel.run(executor.execute(code))
    assert [o.get("text") for o in result.outputs] == ["new\n"]


def test_exception_gives_error_status_and_traceback(kernel, executor):
    result = kernel.run(executor.execute("def f():\n    return 1 / 0\nf()"))
    assert result.status == "error"
    assert result.error["ename"] == "ZeroDivisionError"
    assert result.error["evalue"] == "division by zero"
    assert any("f()" in line for line in result.error["traceback"])
    assert result.outputs[-1]["output_type"] == "error"


def test_execution_counts_increase_by_one_per_cell(kernel, executor):
    first = kernel.run(executor.execute("a = 1"))
    second = kernel.run(executor.execute("a += 1"))
    assert first.execution_count is not None
    assert second.execution_count == first.execution_count + 1


def test_two_executors_on_one_kernel_each_get_their_own_results(kernel, executor):
    second = KernelExecutor(kernel.km)
    try:
        first_result = kernel.run(executor.execute("'first'"))
        second_result = kernel.run(second.execute("'second'"))
        again = kernel.run(executor.execute("'first again'"))
    finally:
        kernel.run(second.close())
    assert first_result.outputs[0]["data"]["text/plain"] == "'first'"
    assert second_result.outputs[0]["data"]["text/plain"] == "'second'"
    assert again.outputs[0]["data"]["text/plain"] == "'first again'"


def test_input_fails_at_once_instead_of_waiting(kernel, executor):
    started = time.monotonic()
    result = kernel.run(executor.execute("input('name? ')"))
    assert result.status == "error"
    assert time.monotonic() - started < 5


def test_timeout_interrupts_the_cell_and_the_kernel_survives(kernel, executor):
    started = time.monotonic()
    result = kernel.run(executor.execute("import time\ntime.sleep(30)", timeout=1.0))
    assert result.status == "timeout"
    assert time.monotonic() - started < 5
    after = kernel.run(executor.execute("'still here'"))
    assert after.status == "ok"
    assert after.outputs[0]["data"]["text/plain"] == "'still here'"


def test_connecting_to_a_kernel_busy_with_another_client_times_out_instead_of_dying(kernel):
    async def scenario():
        other = kernel.km.client(session=Session(key=kernel.km.session.key))
        other.start_channels()
        await other.wait_for_ready(timeout=30)
        msg_id = other.execute("import time\ntime.sleep(60)")
        while True:  # the kernel has started the other client's cell: it is busy now
            msg = await other.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
                break
        fresh = KernelExecutor(kernel.km)
        result = await fresh.execute("1", timeout=1)
        await kernel.km.interrupt_kernel()  # end the other cell now
        while True:  # leave the kernel idle for the next test
            msg = await other.get_iopub_msg(timeout=10)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["content"].get("execution_state") == "idle"
            ):
                break
        other.stop_channels()
        await fresh.close()
        return result

    result = kernel.run(scenario())
    assert result.status == "timeout"
    assert "busy" in result.error["evalue"]


def test_long_cells_report_progress(kernel, executor):
    seen: list[float] = []

    async def on_progress(elapsed: float) -> None:
        seen.append(elapsed)

    result = kernel.run(executor.execute("import time\ntime.sleep(0.9)", on_progress=on_progress))
    assert result.status == "ok"
    assert len(seen) >= 3
    assert seen == sorted(seen)


def test_cancel_interrupts_a_running_cell_at_once(kernel, executor):
    async def scenario():
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, cancel.set)
        started = time.monotonic()
        result = await executor.execute("import time\ntime.sleep(30)", cancel=cancel)
        return result, time.monotonic() - started

    result, took = kernel.run(scenario())
    assert result.status == "cancelled"
    assert took < 10  # the cell sleeps 30 s: a bound a loaded machine meets, not a timing
    assert kernel.run(executor.execute("1")).status == "ok"


def test_killed_kernel_reports_dead_within_a_second(doomed: KernelHarness):
    executor = KernelExecutor(doomed.km, cell_timeout=30)

    async def scenario():
        await executor.execute("1")  # connect first, so only the kill is measured
        pid = doomed.km.provisioner.pid
        asyncio.get_running_loop().call_later(0.5, os.kill, pid, signal.SIGKILL)
        started = time.monotonic()
        result = await executor.execute("import time\ntime.sleep(30)")
        return result, time.monotonic() - started

    result, took = doomed.run(scenario())
    assert result.status == "dead"
    assert took < 10  # the cell sleeps 30 s: a bound a loaded machine meets, not a timing
    assert doomed.run(executor.is_alive()) is False
    doomed.run(executor.close())


def test_restart_mid_cell_reports_dead_and_the_next_cell_runs_in_the_new_kernel(doomed: KernelHarness):
    executor = KernelExecutor(doomed.km, cell_timeout=30)

    async def scenario():
        await executor.execute("x = 1")
        restarted: list[asyncio.Future] = []
        loop = asyncio.get_running_loop()
        loop.call_later(
            0.5, lambda: restarted.append(asyncio.ensure_future(doomed.km.restart_kernel(now=True)))
        )
        result = await executor.execute("import time\ntime.sleep(30)")
        await restarted[0]
        after = await executor.execute("'x' in globals()")
        return result, after

    result, after = doomed.run(scenario())
    assert result.status == "dead"
    assert after.status == "ok"
    assert after.outputs[0]["data"]["text/plain"] == "False"
    doomed.run(executor.close())


# -- secrets as environment variables ---------------------------------------------------------------

SECRET = "hf_" + "Zq7" * 11 + "x"  # looks like a token; only its hash is ever written in a cell


def _iopub_during(kernel, action):
    """Run `action()` while a second client listens on iopub; returns (result, messages seen)."""

    async def scenario():
        listener = kernel.km.client(session=Session(key=kernel.km.session.key))
        listener.start_channels(shell=False, iopub=True, stdin=False, hb=False, control=False)
        await asyncio.sleep(0.3)  # the SUB socket connects
        result = await action()
        seen = []
        deadline = time.monotonic() + 0.7
        while time.monotonic() < deadline:
            try:
                seen.append(await listener.get_iopub_msg(timeout=0.1))
            except Exception:
                continue
        listener.stop_channels()
        return result, seen

    return kernel.run(scenario())


def test_set_env_puts_secrets_in_the_environment_without_a_cell(kernel, executor, tmp_path, monkeypatch):
    import hashlib
    import re
    import stat
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    modes = {}
    real_execute = executor._execute

    async def spy(code, *args, **kwargs):
        found = re.search(r"_cookbook_load_env\('([^']+)'\)", code)
        if found is None:  # an ordinary cell
            return await real_execute(code, *args, **kwargs)
        path = found.group(1)
        modes["file"] = stat.S_IMODE(os.stat(path).st_mode)
        modes["dir"] = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)
        assert SECRET not in code
        return await real_execute(code, *args, **kwargs)

    monkeypatch.setattr(executor, "_execute", spy)
    before = kernel.run(executor.execute("1"))
    result, seen = _iopub_during(kernel, lambda: executor.set_env({"HF_TOKEN": SECRET, "OTHER": "a'b\"c"}))
    monkeypatch.undo()

    assert result.status == "ok", result.error
    assert modes == {"file": 0o600, "dir": 0o700}
    assert list(tmp_path.iterdir()) == []  # the file and its folder are gone
    # Nothing visible on iopub: no execute_input, no output; only busy/idle.
    assert {m["header"]["msg_type"] for m in seen} == {"status"}
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    check = kernel.run(
        executor.execute(
            "import hashlib, os\n"
            f"print(hashlib.sha256(os.environ['HF_TOKEN'].encode()).hexdigest() == {digest!r})\n"
            "print(os.environ['OTHER'])\n"
            "print([n for n in globals() if 'cookbook' in n])"
        )
    )
    assert check.stdout == "True\na'b\"c\n[]\n"
    assert check.execution_count == before.execution_count + 1  # the silent run did not count
    history = kernel.run(
        executor.execute(
            "hm = get_ipython().history_manager\n"
            "print('\\n'.join(hm.input_hist_raw))\n"
            "print('\\n'.join(str(row) for row in hm.get_range(hm.session_number, 0)))\n"
            "%history"
        )
    )
    assert SECRET not in history.stdout and "cookbook_load_env" not in history.stdout
    assert "history_manager" in history.stdout  # the history is there; the secret is not


def test_set_env_rejects_bad_names_and_reports_an_unreadable_file(kernel, executor, tmp_path, monkeypatch):
    import tempfile

    with pytest.raises(ValueError, match="not a valid environment variable name"):
        kernel.run(executor.set_env({"BAD NAME": "x"}))
    with pytest.raises(ValueError, match="NUL"):
        kernel.run(executor.set_env({"GOOD": "a\x00b"}))
    assert kernel.run(executor.set_env({})).status == "ok"

    # A kernel that cannot read the file (e.g. a remote one) answers with an error, no values.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real_execute = executor._execute

    async def remove_first(code, *args, **kwargs):
        for path in tmp_path.rglob("env.json"):
            path.unlink()
        return await real_execute(code, *args, **kwargs)

    monkeypatch.setattr(executor, "_execute", remove_first)
    result = kernel.run(executor.set_env({"HF_TOKEN": SECRET}))
    monkeypatch.undo()
    assert result.status == "error"
    assert result.error["ename"] == "FileNotFoundError"
    assert SECRET not in repr(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("msg_type", "content"),
    [
        ("stream", {"name": "stderr", "text": "warning\n"}),
        ("display_data", {"data": {"text/plain": "x", "image/png": "iVBORw0KGgo="}, "metadata": {"a": 1}}),
        ("execute_result", {"data": {"text/plain": "42"}, "metadata": {}, "execution_count": 7}),
        ("error", {"ename": "ValueError", "evalue": "bad", "traceback": ["line 1", "line 2"]}),
    ],
)
def test_outputs_are_built_as_nbformat_builds_them(msg_type, content):
    from nbformat.v4 import output_from_msg

    from cookbook_ext.kernel import _output_from_msg

    built = _output_from_msg(msg_type, content)
    assert built == output_from_msg({"header": {"msg_type": msg_type}, "content": content})
    _valid(built)


def test_connect_waits_until_the_kernel_answers(kernel):
    fresh = KernelExecutor(kernel.km, cell_timeout=30)
    try:
        assert kernel.run(fresh.connect(timeout=30)) is True
        assert fresh._client is not None
        assert kernel.run(fresh.execute("1 + 1")).outputs[0]["data"]["text/plain"] == "2"
    finally:
        kernel.run(fresh.close())


def test_connect_reports_a_dead_kernel_without_raising(doomed: KernelHarness):
    os.kill(doomed.km.provisioner.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while doomed.run(doomed.km.is_alive()) and time.monotonic() < deadline:
        time.sleep(0.05)
    fresh = KernelExecutor(doomed.km, cell_timeout=5)
    assert doomed.run(fresh.connect(timeout=5)) is False
    assert doomed.run(fresh.execute("1")).status == "dead"
