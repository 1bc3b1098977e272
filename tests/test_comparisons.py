"""Comparisons over REST: one recipe and repository run by several providers, each a generation in
a kernel of its own, compared in one table; bad comparisons refused before anything starts."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.fakes import FakeAnthropic, tool_use
from tests.test_routes_generations import _drain, _ingest, _json

KEY = "sk-ant-compare-" + "k" * 30


def run_created_cell(request):
    cell_id = json.loads(FakeAnthropic.tool_results(request)[0]["content"])["cell_id"]
    return tool_use("execute_cell", {"cell_id": cell_id})


SCRIPT = [
    tool_use("create_cell", {"code": "x = 21 * 2\nprint(x)"}),
    run_created_cell,
    tool_use("finish", {"summary": "Adds two numbers."}),
]


@pytest.fixture
def anthropic(cookbook_config):
    with FakeAnthropic(SCRIPT) as fake:
        cookbook_config["anthropic_base_url"] = fake.base_url
        yield fake


async def _compare(jp_fetch, body):
    resp = await jp_fetch("cookbook", "comparisons", method="POST", body=json.dumps(body))
    assert resp.code == 202
    return json.loads(resp.body)


async def _until_done(jp_fetch, comparison_id, limit_s=120):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    table = await _json(jp_fetch, "comparisons", comparison_id)
    while table["status"] == "running":
        for run in table["runs"]:
            await _drain(jp_fetch, run["generation_id"])  # long-polls to the end: no sleeping
        table = await _json(jp_fetch, "comparisons", comparison_id)
        assert loop.time() < deadline, "the comparison did not finish in time"
    return table


async def _nothing_started(jp_fetch):
    assert (await _json(jp_fetch, "generations"))["generations"] == []
    assert (await _json(jp_fetch, "comparisons"))["comparisons"] == []


async def test_a_comparison_runs_each_provider_in_a_kernel_of_its_own_and_compares_them(
    anthropic, jp_fetch, jp_root_dir
):
    await jp_fetch("cookbook", "secrets", "ANTHROPIC_API_KEY", method="PUT", body=json.dumps({"value": KEY}))
    repo = await _ingest(jp_fetch, jp_root_dir)
    started = await _compare(
        jp_fetch,
        {
            "repo_id": repo["id"],
            "prompt": "greet someone",
            "template": "quickstart",
            "runs": [{"provider": "offline"}, {"provider": "anthropic", "model": "claude-test"}],
        },
    )
    assert len(started["generations"]) == 2 and started["recipe"]["id"] == "quickstart"
    table = await _until_done(jp_fetch, started["id"])

    offline, model = table["runs"]
    assert [r["generation_id"] for r in table["runs"]] == started["generations"]
    assert (offline["provider"], model["provider"], model["model"]) == ("offline", "anthropic", "claude-test")
    for run in (offline, model):
        assert run["status"] == "finished", run["message"]
        assert run["cells_count"] == len(run["cells"]) > 0
        assert 0 < run["seconds_to_first_cell"] <= run["seconds_to_notebook"]
        nb = await jp_fetch(run["notebook_url"])
        assert nb.code == 200
    assert offline["tokens"] == {"input": 0, "output": 0, "cached": 0, "cache_write": 0}
    assert offline["cost_usd"] == 0 and offline["turns"] > 0
    assert model["turns"] == 3 and model["tokens"]["input"] + model["tokens"]["cache_write"] > 0
    assert model["tokens"]["output"] > 0
    assert [c["source"] for c in model["cells"] if c["cell_type"] == "code"] == ["x = 21 * 2\nprint(x)"]
    # The same recipe version, rendered the same, and the same repository for every run.
    details = [await _json(jp_fetch, "generations", g) for g in started["generations"]]
    assert details[0]["recipe"] == details[1]["recipe"] == table["recipe"]
    assert {d["request"]["repo_id"] for d in details} == {repo["id"]}
    for detail in details:
        kernel_status = [e for e in await _drain(jp_fetch, detail["id"]) if e["type"] == "status"]
        assert any(e["data"]["message"] == "Starting a kernel" for e in kernel_status)
        assert detail["kernel_id"] is None  # not the user's kernel: one started for this run
    [listed] = (await _json(jp_fetch, "comparisons"))["comparisons"]
    assert listed["id"] == started["id"] and listed["status"] == "finished"
    assert [r["status"] for r in listed["runs"]] == ["finished", "finished"]


async def test_a_comparison_from_a_source_reads_the_repository_once(jp_fetch, jp_root_dir):
    from tests.fakes.repos import make_local_repo

    make_local_repo(jp_root_dir)
    started = await _compare(
        jp_fetch,
        {
            "source": "tiny-model",
            "trust": True,
            "prompt": "p",
            "runs": [{"provider": "offline"}, {"provider": "offline", "model": "again"}],
        },
    )
    table = await _until_done(jp_fetch, started["id"])
    assert [r["status"] for r in table["runs"]] == ["finished", "finished"]
    assert len((await _json(jp_fetch, "repos"))["repos"]) == 1
    assert table["request"]["repo_id"]


@pytest.mark.parametrize(
    ("runs", "extra", "status", "words"),
    [
        ([{"provider": "offline"}], {}, 422, "at least 2"),
        ([{"provider": "offline"}] * 9, {}, 422, "at most 4"),
        ([], {}, 422, "at least 2"),
        ([{"provider": "offline"}, {"provider": "skynet"}], {}, 400, "runs[1] (skynet)"),
        ([{"provider": "offline"}, {"provider": "anthropic"}], {}, 400, "runs[1] (anthropic)"),
        ([{"provider": "offline"}, {"provider": "offline", "model": "a b"}], {}, 422, "model"),
        ([{"provider": "offline"}] * 2, {"kernel_id": "0" * 32}, 422, "kernel of its own"),
        ([{"provider": "offline"}] * 2, {"provider": "offline"}, 422, "runs name the provider"),
        ([{"provider": "offline"}] * 2, {"template": "nope"}, 404, "nope"),
        ([{"provider": "offline"}] * 2, {"inputs": {"complexity": "godlike"}}, 422, "inputs.complexity"),
    ],
)
async def test_a_bad_comparison_is_refused_and_starts_nothing(
    jp_fetch, jp_root_dir, runs, extra, status, words
):
    repo = await _ingest(jp_fetch, jp_root_dir)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "cookbook",
            "comparisons",
            method="POST",
            body=json.dumps({"repo_id": repo["id"], "prompt": "p", "runs": runs, **extra}),
        )
    body = json.loads(err.value.response.body)
    assert err.value.code == status, body
    assert words in body["message"], body["message"]
    await _nothing_started(jp_fetch)


@pytest.fixture
def one_slot(cookbook_config):
    cookbook_config["max_running_generations"] = 1


async def test_a_comparison_that_does_not_fit_is_refused_whole(one_slot, jp_fetch, jp_root_dir):
    repo = await _ingest(jp_fetch, jp_root_dir)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "cookbook",
            "comparisons",
            method="POST",
            body=json.dumps({"repo_id": repo["id"], "prompt": "p", "runs": [{"provider": "offline"}] * 2}),
        )
    assert err.value.code == 429
    assert "no room for 2" in json.loads(err.value.response.body)["message"]
    await _nothing_started(jp_fetch)


async def test_an_unknown_comparison_is_a_json_404(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "comparisons", "f" * 32)
    assert err.value.code == 404 and json.loads(err.value.response.body)["code"] == "not_found"


@pytest.fixture
def two_slots(cookbook_config):
    cookbook_config["max_running_generations"] = 2


async def test_a_comparison_that_just_fits_uses_the_slots_it_reserved(two_slots, jp_fetch, jp_root_dir):
    repo = await _ingest(jp_fetch, jp_root_dir)
    started = await _compare(
        jp_fetch, {"repo_id": repo["id"], "prompt": "p", "runs": [{"provider": "offline"}] * 2}
    )
    table = await _until_done(jp_fetch, started["id"])
    assert [r["status"] for r in table["runs"]] == ["finished", "finished"]
