"""At most `max_running_generations` generations run per server; past it, 429 and nothing stored."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.fakes.repos import make_local_repo
from tests.fakes.scripted_provider import HANG, ScriptedProvider


class HangingProvider(ScriptedProvider):
    """Keeps its generation running until it is cancelled."""

    def __init__(self) -> None:
        super().__init__([HANG])


@pytest.fixture
def limit_two(cookbook_config):
    cookbook_config["provider_classes"] = {"offline": f"{__name__}.HangingProvider"}
    cookbook_config["allowed_providers"] = ["offline"]
    cookbook_config["max_running_generations"] = 2


async def _json(jp_fetch, *parts, **kw):
    return json.loads((await jp_fetch("cookbook", *parts, **kw)).body)


async def _post(jp_fetch, body):
    try:
        resp = await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    except HTTPClientError as err:
        return err.code, json.loads(err.response.body)
    return resp.code, json.loads(resp.body)


async def _until_done(jp_fetch, gen_id):
    after = 0
    while True:
        page = await _json(jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 10})
        if page["events"]:
            after = page["events"][-1]["seq"]
        if page["done"]:
            return


async def test_past_the_limit_a_generation_is_refused_with_429(
    limit_two, jp_fetch, jp_root_dir, jp_serverapp
):
    make_local_repo(jp_root_dir)
    repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model"}))
    body = {"repo_id": repo["id"], "prompt": "p", "provider": "offline"}

    # Five at once: the starts race through their awaits, yet only two get a slot.
    answers = await asyncio.gather(*(_post(jp_fetch, body) for _ in range(5)))
    codes = sorted(code for code, _ in answers)
    assert codes == [202, 202, 429, 429, 429]
    for code, payload in answers:
        if code == 429:
            assert payload["code"] == "too_many_requests"
            assert "max_running_generations = 2" in payload["message"]
            assert "Traceback" not in json.dumps(payload)
    accepted = [payload["id"] for code, payload in answers if code == 202]
    listed = (await _json(jp_fetch, "generations"))["generations"]
    assert sorted(g["id"] for g in listed) == sorted(accepted)  # nothing stored for the refused

    # Cancelling one frees its slot.
    await jp_fetch("cookbook", "generations", accepted[0], "cancel", method="POST", body="{}")
    await _until_done(jp_fetch, accepted[0])
    code, payload = await _post(jp_fetch, body)
    assert code == 202
    code, payload = await _post(jp_fetch, body)
    assert code == 429

    runner = jp_serverapp.web_app.settings["cookbook_runner"]
    assert runner.starting == 0  # refused and finished starts gave their slot back
    for gen_id in runner.running():
        await jp_fetch("cookbook", "generations", gen_id, "cancel", method="POST", body="{}")
        await _until_done(jp_fetch, gen_id)


async def test_a_failed_start_gives_its_slot_back(limit_two, jp_fetch, jp_serverapp):
    for _ in range(3):  # more than the limit: each refusal (404) must release what it held
        code, _ = await _post(jp_fetch, {"repo_id": "f" * 32, "prompt": "p", "provider": "offline"})
        assert code == 404
    assert jp_serverapp.web_app.settings["cookbook_runner"].starting == 0


def test_the_limit_is_a_setting_with_a_default_of_four():
    from cookbook_ext.runner import GenerationRunner

    assert GenerationRunner.max_running_generations.default_value == 4
