"""Repository trust and secrets by consent, over REST with a real server, kernels and the offline
provider: a stranger's repository never gets a key the user did not grant, and its code never
runs unasked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

SECRET_VALUE = "sk-my-own-secret-value-123456"
OPENAI_VALUE = "sk-proj-openai-value-abcdef0123456789"

# A README that only *names* the user's secrets, and a block that writes the kernel's environment
# to a file: what a hostile repository would do to take the user's keys.
HOSTILE_README = """# env-grabber

Set OPENAI_API_KEY and MY_SECRET before you start; HF_TOKEN helps too.

## Quick start

```python
import json, os
with open("stolen_env.json", "w") as handle:
    json.dump(dict(os.environ), handle)
print("ok")
```
"""


def make_repo(root: Path, name: str = "env-grabber") -> Path:
    repo = root / name
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "README.md").write_text(HOSTILE_README)
    return repo


async def _json(jp_fetch, *parts, **kw):
    resp = await jp_fetch("cookbook", *parts, **kw)
    return json.loads(resp.body)


async def _put_secret(jp_fetch, name, value):
    await jp_fetch("cookbook", "secrets", name, method="PUT", body=json.dumps({"value": value}))


async def _ingest(jp_fetch, source, **extra):
    resp = await jp_fetch("cookbook", "repos", method="POST", body=json.dumps({"source": source, **extra}))
    assert resp.code == 201
    return json.loads(resp.body)


async def _start(jp_fetch, **body):
    body.setdefault("prompt", "show me how to use it")
    body.setdefault("provider", "offline")
    resp = await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    assert resp.code == 202
    return json.loads(resp.body)["id"]


async def _follow(jp_fetch, gen_id, *, answer=None, limit_s=120):
    """All events to the end; `answer(event)` returns the body to answer an approval with."""
    events, after = [], 0
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        page = await _json(jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 5})
        for ev in page["events"]:
            events.append(ev)
            after = ev["seq"]
            if ev["type"] == "approval_required":
                reply = answer(ev) if answer else {"approved": False}
                await jp_fetch(
                    "cookbook",
                    "generations",
                    gen_id,
                    "approvals",
                    ev["data"]["approval_id"],
                    method="POST",
                    body=json.dumps(reply),
                )
        if page["done"]:
            return events
    raise AssertionError("the generation did not finish in time")


@pytest.fixture
def secrets_in_store(jp_fetch):
    async def put():
        await _put_secret(jp_fetch, "MY_SECRET", SECRET_VALUE)
        await _put_secret(jp_fetch, "OPENAI_API_KEY", OPENAI_VALUE)

    return put


async def test_untrusted_repository_code_asks_even_with_approval_never(
    jp_fetch, jp_root_dir, secrets_in_store
):
    await secrets_in_store()
    repo_dir = make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber")
    assert repo["trusted"] is False
    gen_id = await _start(jp_fetch, repo_id=repo["id"], approval="never")
    events = await _follow(jp_fetch, gen_id)  # every approval declined
    asked = [e["data"] for e in events if e["type"] == "approval_required"]
    assert asked, "the README's code ran without asking"
    card = asked[0]
    assert card["origin"] == "repository" and card["untrusted"] is True
    assert card["repo"]["id"] == repo["id"]
    assert "json.dump(dict(os.environ)" in card["source"]  # shown in full
    assert any("not trusted" in r for r in card["reasons"])
    assert not (repo_dir / "stolen_env.json").exists()


async def test_named_secrets_never_reach_the_kernel_of_a_trusted_repository(
    jp_fetch, jp_root_dir, secrets_in_store
):
    """Trusting the code is not granting the keys: the README names them, the kernel gets none."""
    await secrets_in_store()
    repo_dir = make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber", trust=True)
    assert repo["trusted"] is True
    gen_id = await _start(jp_fetch, repo_id=repo["id"], prompt="use MY_SECRET and OPENAI_API_KEY")
    events = await _follow(jp_fetch, gen_id)
    assert not [e for e in events if e["type"] == "approval_required"]
    env = json.loads((repo_dir / "stolen_env.json").read_text())
    assert "MY_SECRET" not in env and "OPENAI_API_KEY" not in env and "HF_TOKEN" not in env
    assert SECRET_VALUE not in json.dumps(env) and OPENAI_VALUE not in json.dumps(env)


async def test_own_kernel_inherits_no_credential_from_the_server(jp_fetch, jp_root_dir, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-server-env-key-0123456789")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "server-token-0123456789")
    monkeypatch.setenv("COOKBOOK_HARMLESS", "stays")
    repo_dir = make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber", trust=True)
    gen_id = await _start(jp_fetch, repo_id=repo["id"])
    await _follow(jp_fetch, gen_id)
    env = json.loads((repo_dir / "stolen_env.json").read_text())
    assert "ANTHROPIC_API_KEY" not in env and "SOME_SERVICE_TOKEN" not in env
    assert env.get("COOKBOOK_HARMLESS") == "stays"


async def test_granted_secret_is_in_the_kernel_while_it_runs_and_gone_after(
    jp_fetch, jp_root_dir, jp_serverapp, secrets_in_store
):
    await secrets_in_store()
    repo_dir = make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber", trust=True)
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    try:
        await _run_in_kernel(km, kernel_id, "import os; os.environ['MY_SECRET'] = 'the users own value'")
        gen_id = await _start(jp_fetch, repo_id=repo["id"], kernel_id=kernel_id, secrets=["MY_SECRET"])
        events = await _follow(jp_fetch, gen_id)
        env = json.loads((repo_dir / "stolen_env.json").read_text())
        assert env["MY_SECRET"] == SECRET_VALUE  # granted: there while the generation ran
        assert "OPENAI_API_KEY" not in env  # stored, but not granted
        assert any("Took the secrets out" in (e["data"].get("message") or "") for e in events)
        after = await _run_in_kernel(km, kernel_id, "import os; print(os.environ.get('MY_SECRET'))")
        assert after.strip() == "the users own value"  # the user's own value came back
        # The generation's record keeps the names it was granted, never a value.
        state = await _json(jp_fetch, "generations", gen_id)
        assert state["request"]["secrets"] == ["MY_SECRET"]
        assert SECRET_VALUE not in json.dumps(state)
    finally:
        await km.shutdown_kernel(kernel_id)


async def test_keep_secrets_leaves_them_in_the_users_kernel(
    jp_fetch, jp_root_dir, jp_serverapp, secrets_in_store
):
    await secrets_in_store()
    make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber", trust=True)
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    try:
        gen_id = await _start(
            jp_fetch, repo_id=repo["id"], kernel_id=kernel_id, secrets=["MY_SECRET"], keep_secrets=True
        )
        await _follow(jp_fetch, gen_id)
        out = await _run_in_kernel(
            km, kernel_id, f"import os; print(os.environ.get('MY_SECRET') == {SECRET_VALUE!r})"
        )
        assert out.strip() == "True"
    finally:
        await km.shutdown_kernel(kernel_id)


@pytest.mark.parametrize("names", [["NOT_STORED"], ["MY_SECRET", "NOPE"]])
async def test_granting_a_secret_that_is_not_stored_is_refused(
    jp_fetch, jp_root_dir, secrets_in_store, names
):
    await secrets_in_store()
    make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber", trust=True)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "cookbook",
            "generations",
            method="POST",
            body=json.dumps({"repo_id": repo["id"], "prompt": "p", "secrets": names}),
        )
    assert err.value.code == 422
    body = json.loads(err.value.response.body)
    assert body["code"] == "invalid" and "secrets" in body["message"]
    assert (await _json(jp_fetch, "generations"))["generations"] == []


async def test_trust_and_run_on_the_approval_card_trusts_the_repository(jp_fetch, jp_root_dir):
    repo_dir = make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber")
    gen_id = await _start(jp_fetch, repo_id=repo["id"])
    answered = []

    def trust_and_run(ev):
        answered.append(ev["data"]["cell_id"])
        return {"approved": True, "trust": True}

    events = await _follow(jp_fetch, gen_id, answer=trust_and_run)
    assert len(answered) == 1, "after trusting, the rest of the repository's code runs without asking"
    assert events[-1]["type"] == "finished"
    assert (repo_dir / "stolen_env.json").exists()
    assert (await _json(jp_fetch, "repos", repo["id"]))["trusted"] is True
    # The next generation of the same repository at the same commit does not ask at all.
    second = await _follow(jp_fetch, await _start(jp_fetch, repo_id=repo["id"]))
    assert not [e for e in second if e["type"] == "approval_required"]


async def test_trust_can_be_given_and_taken_back_in_one_call(jp_fetch, jp_root_dir):
    make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber")
    trusted = await _json(
        jp_fetch, "repos", repo["id"], "trust", method="PUT", body=json.dumps({"trusted": True})
    )
    assert trusted["trusted"] is True and trusted["trusted_at"]
    listed = (await _json(jp_fetch, "repos"))["repos"]
    assert [r["trusted"] for r in listed] == [True]
    back = await _json(
        jp_fetch, "repos", repo["id"], "trust", method="PUT", body=json.dumps({"trusted": False})
    )
    assert back["trusted"] is False


async def test_trust_with_a_decline_is_refused(jp_fetch, jp_root_dir):
    make_repo(jp_root_dir)
    repo = await _ingest(jp_fetch, "env-grabber")
    gen_id = await _start(jp_fetch, repo_id=repo["id"])
    codes = []

    def bad_then_decline(ev):
        return {"approved": False}

    async def probe():
        # Wait for the first approval, answer it wrongly, then decline it properly.
        after = 0
        while True:
            page = await _json(
                jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 5}
            )
            for ev in page["events"]:
                after = ev["seq"]
                if ev["type"] == "approval_required":
                    path = ("cookbook", "generations", gen_id, "approvals", ev["data"]["approval_id"])
                    with pytest.raises(HTTPClientError) as err:
                        await jp_fetch(
                            *path, method="POST", body=json.dumps({"approved": False, "trust": True})
                        )
                    codes.append(err.value.code)
                    return
            assert not page["done"]

    await probe()
    await _follow(jp_fetch, gen_id, answer=bad_then_decline)
    assert codes == [422]
    assert (await _json(jp_fetch, "repos", repo["id"]))["trusted"] is False


async def test_trust_on_generation_request_with_a_source(jp_fetch, jp_root_dir):
    repo_dir = make_repo(jp_root_dir)
    gen_id = await _start(jp_fetch, source="env-grabber", trust=True)
    events = await _follow(jp_fetch, gen_id)
    assert not [e for e in events if e["type"] == "approval_required"]
    assert (repo_dir / "stolen_env.json").exists()


class TestApprovalFloor:
    @pytest.fixture
    def cookbook_config(self):
        return {"approval_floor": "always"}

    async def test_a_request_below_the_floor_gets_the_floor_and_is_told(self, jp_fetch, jp_root_dir):
        make_repo(jp_root_dir)
        repo = await _ingest(jp_fetch, "env-grabber", trust=True)
        gen_id = await _start(jp_fetch, repo_id=repo["id"], approval="never")
        events = await _follow(jp_fetch, gen_id)
        floor = [
            e["data"] for e in events if e["type"] == "warning" and e["data"].get("code") == "approval_floor"
        ]
        assert floor and floor[0]["approval"] == "always" and floor[0]["requested"] == "never"
        # Trusted repository code, approval "never" asked for: the floor still asks for every cell.
        assert [e for e in events if e["type"] == "approval_required"]


async def _run_in_kernel(km, kernel_id, code):
    client = km.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        msg_id = client.execute(code)
        out = []
        while True:
            msg = await client.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            if msg["msg_type"] == "error":
                raise AssertionError(msg["content"]["evalue"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        client.stop_channels()
