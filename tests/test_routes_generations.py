"""Generations over REST with the offline provider, a real kernel and a local repository."""

import asyncio
import json

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from tests.fakes.repos import make_local_repo


async def _json(jp_fetch, *parts, **kw):
    resp = await jp_fetch("cookbook", *parts, **kw)
    return json.loads(resp.body)


async def _ingest(jp_fetch, jp_root_dir, trust=True):
    make_local_repo(jp_root_dir)
    body = {"source": "tiny-model", "trust": trust}
    resp = await jp_fetch("cookbook", "repos", method="POST", body=json.dumps(body))
    assert resp.code == 201
    return json.loads(resp.body)


async def _drain(jp_fetch, gen_id, after=0, limit_s=120):
    events = []
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


async def test_offline_generation_keeps_only_cells_that_ran(jp_fetch, jp_root_dir):
    repo = await _ingest(jp_fetch, jp_root_dir)
    body = {"repo_id": repo["id"], "prompt": "greet someone", "template": "quickstart", "provider": "offline"}
    resp = await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    assert resp.code == 202
    gen_id = json.loads(resp.body)["id"]

    events = await _drain(jp_fetch, gen_id)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "events are numbered without gaps"
    assert events[-1]["type"] == "finished"
    validated = [e["data"]["cell"] for e in events if e["type"] == "cell_validated"]
    sources = "\n".join(c["source"] for c in validated)
    assert "greet" in sources and "this README example is broken" not in sources
    assert any(e["type"] == "cell_executed" and not e["data"]["ok"] for e in events)

    state = await _json(jp_fetch, "generations", gen_id)
    assert state["status"] == "finished"
    assert state["usage"]["seconds"] > 0 and state["usage"]["turns"] > 0
    assert sorted(c["source"] for c in state["cells"]) == sorted(c["source"] for c in validated)
    # Headings are validated after the code they introduce but placed above it (by `index`).
    kinds = [c["cell_type"] for c in state["cells"]]
    for i, cell in enumerate(state["cells"][:-1]):
        if cell["cell_type"] == "markdown" and cell["source"].startswith("## "):
            assert kinds[i + 1] == "code", "a section heading sits right above its code"

    nb_resp = await jp_fetch("cookbook", "generations", gen_id, "notebook")
    assert "attachment" in nb_resp.headers["Content-Disposition"]
    nb = nbformat.reads(nb_resp.body.decode(), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["cookbook"]["generation_id"] == gen_id
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("hello cookbook" in o.get("text", "") for o in outputs)


async def test_event_stream_resumes_after_a_sequence_number(jp_fetch, jp_root_dir):
    repo = await _ingest(jp_fetch, jp_root_dir)
    body = {"repo_id": repo["id"], "prompt": "p", "provider": "offline"}
    gen_id = (await _json(jp_fetch, "generations", method="POST", body=json.dumps(body)))["id"]
    events = await _drain(jp_fetch, gen_id)
    middle = events[len(events) // 2]["seq"]
    rest = await _json(jp_fetch, "generations", gen_id, "events", params={"after": middle, "timeout": 0})
    assert [e["seq"] for e in rest["events"]] == [e["seq"] for e in events if e["seq"] > middle]
    assert rest["done"] is True


async def test_a_second_generation_in_the_same_kernel_is_a_conflict(jp_fetch, jp_root_dir, jp_serverapp):
    repo = await _ingest(jp_fetch, jp_root_dir)
    kernel_id = await jp_serverapp.kernel_manager.start_kernel(kernel_name="python3")
    body = {"repo_id": repo["id"], "prompt": "p", "provider": "offline", "kernel_id": kernel_id}
    first = await _json(jp_fetch, "generations", method="POST", body=json.dumps(body))
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    assert err.value.code == 409
    assert json.loads(err.value.response.body)["details"]["generation_id"] == first["id"]
    await _json(jp_fetch, "generations", first["id"], "cancel", method="POST", body="")
    events = await _drain(jp_fetch, first["id"])
    assert events[-1]["type"] in ("cancelled", "finished")
    await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"prompt": "p"}, 422),
        ({"repo_id": "0" * 32, "source": "x", "prompt": "p"}, 422),
        ({"repo_id": "0" * 32, "prompt": ""}, 422),
        ({"repo_id": "0" * 32, "prompt": "p", "complexity": "extreme"}, 422),
        ({"repo_id": "0" * 32, "prompt": "p", "surprise": 1}, 422),
        ({"repo_id": "0" * 32, "prompt": "p"}, 404),
        ({"repo_id": "not-an-id", "prompt": "p"}, 422),
        ({"repo_id": "0" * 32, "prompt": "p", "kernel_id": "'; drop table"}, 422),
    ],
)
async def test_bad_generation_requests_are_refused_and_create_nothing(jp_fetch, body, code):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    assert err.value.code == code
    assert json.loads(err.value.response.body)["message"]
    assert (await _json(jp_fetch, "generations"))["generations"] == []
