"""No test reaches a package index: every kernel a test starts runs with pip's index switched off.

The root conftest.py puts `PIP_NO_INDEX=1` and a closed-port `PIP_INDEX_URL` in os.environ before
anything starts; kernels inherit it from the in-process server's kernel manager, from
tests/fakes/kernels.py and from the kernels Cookbook starts for a generation.
"""

import asyncio
import json

import pytest

from tests.fakes.kernels import NO_PACKAGE_INDEX, running_kernel
from tests.fakes.scripted_provider import ScriptedProvider, call, turn

PROBE = "import os; print(os.environ.get('PIP_NO_INDEX'), os.environ.get('PIP_INDEX_URL'))"
EXPECTED = f"{NO_PACKAGE_INDEX['PIP_NO_INDEX']} {NO_PACKAGE_INDEX['PIP_INDEX_URL']}\n"
# pip itself, run from the kernel: with no index it looks nowhere but local links and fails fast.
PIP = (
    "import subprocess, sys, tempfile\n"
    "r = subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '-d', tempfile.mkdtemp(),"
    " 'cookbook-no-such-package-zz'], capture_output=True, text=True, timeout=120)\n"
    "print(r.returncode, 'Looking in indexes' in r.stdout + r.stderr, '127.0.0.1:9' in r.stdout + r.stderr)"
)


async def _run(client, code: str) -> str:
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = await client.execute_interactive(code, output_hook=hook, timeout=150)
    assert reply["content"]["status"] == "ok", out
    return "".join(out)


def test_a_kernel_from_the_test_harness_has_no_package_index():
    with running_kernel() as harness:

        async def probe():
            client = harness.km.client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=60)
                return await _run(client, PROBE), await _run(client, PIP)
            finally:
                client.stop_channels()

        env, pip = harness.run(probe(), timeout=180)
    assert env == EXPECTED
    assert pip.split() == ["1", "False", "False"]  # failed, without asking any index


async def test_a_kernel_from_the_servers_kernel_manager_has_no_package_index(jp_serverapp):
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    client = km.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        assert await _run(client, PROBE) == EXPECTED
    finally:
        client.stop_channels()
        await km.shutdown_kernel(kernel_id, now=True)


class EnvProbeProvider(ScriptedProvider):
    """The offline provider slot, replaced: one cell that prints the kernel's pip settings."""

    def __init__(self):
        super().__init__(
            [
                turn(call("create_cell", code=PROBE, type="code")),
                turn(call("execute_cell", cell_id="c1")),
                turn(call("finish", summary="probed")),
            ]
        )


@pytest.fixture
def probe_provider(cookbook_config):
    """The server's offline slot runs EnvProbeProvider (requested before the server starts)."""
    cookbook_config["provider_classes"] = {"offline": f"{__name__}.EnvProbeProvider"}
    cookbook_config["allowed_providers"] = ["offline"]


async def test_a_generations_own_kernel_has_no_package_index(probe_provider, jp_fetch, jp_root_dir):
    (jp_root_dir / "probe").mkdir()
    # (Something runnable: with nothing to build from, the offline slot refuses before the model.)
    (jp_root_dir / "probe" / "README.md").write_text("# probe\n\n```python\nprint(1)\n```\n")
    body = {"source": "probe", "prompt": "probe", "provider": "offline"}
    resp = await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    gen_id = json.loads(resp.body)["id"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 150
    after, done = 0, False
    while not done:
        assert loop.time() < deadline, "the generation did not finish in time"
        page = json.loads(
            (
                await jp_fetch(
                    "cookbook", "generations", gen_id, "events", params={"after": after, "timeout": 5}
                )
            ).body
        )
        if page["events"]:
            after = page["events"][-1]["seq"]
        done = page["done"]
    state = json.loads((await jp_fetch("cookbook", "generations", gen_id)).body)
    assert state["status"] == "finished", (state.get("message"), state.get("error"))
    [cell] = state["cells"]
    assert "".join(o.get("text", "") for o in cell["outputs"]) == EXPECTED
