"""A provider from a separately installed package, over REST: listed in the status, and a
generation runs with it in a real kernel. The package is tests/plugin_provider (scripts/test.sh
installs it); the server finds it through its entry point, with no configuration."""

import asyncio
import json

import nbformat
import pytest

from tests.fakes.repos import make_local_repo

PLUGIN_HINT = "the echo plug-in is not installed: python -m pip install ./tests/plugin_provider"


@pytest.fixture(autouse=True)
def allow_the_plug_in(cookbook_config):
    # Test servers offer the built-ins only unless a test allows more (conftest.py).
    cookbook_config["allowed_providers"] = ["anthropic", "openai", "offline", "echo"]


async def _json(jp_fetch, *parts, **kw):
    return json.loads((await jp_fetch("cookbook", *parts, **kw)).body)


async def _drain(jp_fetch, gen_id, limit_s=120):
    events, after = [], 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline:
        page = await _json(jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 5})
        events += page["events"]
        if page["events"]:
            after = page["events"][-1]["seq"]
        if page["done"]:
            return events
    raise AssertionError("the generation did not finish in time")


async def test_the_status_lists_the_installed_plug_in(jp_fetch):
    status = await _json(jp_fetch, "status")
    rows = {p["name"]: p for p in status["providers"]}
    assert "echo" in rows, PLUGIN_HINT
    assert rows["echo"]["available"] is True
    assert rows["echo"]["display_name"] == "Echo (test plug-in)"
    assert rows["echo"]["default_model"] == "echo-1"
    assert list(rows)[:3] == ["anthropic", "openai", "offline"]


async def test_a_generation_runs_with_the_plug_in_provider(jp_fetch, jp_root_dir):
    make_local_repo(jp_root_dir)
    repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model"}))
    body = {"repo_id": repo["id"], "prompt": "say something", "provider": "echo"}
    gen_id = (await _json(jp_fetch, "generations", method="POST", body=json.dumps(body)))["id"]

    events = await _drain(jp_fetch, gen_id)
    assert events[-1]["type"] == "finished", events[-1]
    state = await _json(jp_fetch, "generations", gen_id)
    assert (state["provider"], state["model"]) == ("echo", "echo-1")
    assert [c["source"] for c in state["cells"]] == ["print('plugin')"]

    notebook = (await jp_fetch("cookbook", "generations", gen_id, "notebook")).body.decode()
    nb = nbformat.reads(notebook, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.get("text", "").strip() == "plugin" for o in outputs)
