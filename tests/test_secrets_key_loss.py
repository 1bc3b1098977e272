"""Losing or replacing the secrets key never silently mints a new one while secrets are stored.

Secrets are saved by one server; the key file is then deleted, replaced or damaged (or the
deployment's COOKBOOK_SECRETS_KEY changes), and a new server starts on the same data folder. It
must start, say what happened and how to recover, list the secrets it cannot decrypt as
unreadable, and keep status, model search and generations that do not need them working.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest
from cryptography.fernet import Fernet
from tornado.httpclient import HTTPClientError

from cookbook_ext.secrets import Secrets
from cookbook_ext.store import Store, server_owner
from tests.fakes.hub_server import FakeHub
from tests.fakes.repos import make_local_repo

HF_VALUE = "hf_" + "k" * 34
API_VALUE = "my-service-token-0123456789"


@pytest.fixture
def hub(cookbook_config):
    with FakeHub() as fake:
        fake.add_model("acme/tiny", pipeline_tag="text-classification", downloads=5)
        cookbook_config["hf_endpoint"] = fake.url
        yield fake


def _save_secrets(data_dir, key: bytes | None = None) -> None:
    """What an earlier server left behind: two secrets, encrypted with its key."""
    store = Store(f"sqlite:///{data_dir / 'cookbook.db'}", owner=server_owner())
    sec = Secrets(store, key, key_file=None if key else data_dir / "secrets.key", owner=server_owner())
    sec.put(server_owner(), "HF_TOKEN", HF_VALUE)
    sec.put(server_owner(), "MY_API", API_VALUE)
    assert sec.problem(server_owner()) is None
    store.close()


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "cookbook-data"  # the root conftest's CookbookApp.data_dir


@pytest.fixture(params=["deleted", "replaced", "damaged"])
def key_lost(request, data_dir):
    _save_secrets(data_dir)
    key_file = data_dir / "secrets.key"
    if request.param == "deleted":
        key_file.unlink()
    elif request.param == "replaced":
        key_file.write_bytes(Fernet.generate_key())
    else:
        key_file.write_bytes(b"not a key at all\n")
    return request.param


async def _json(jp_fetch, *parts, **kw):
    return json.loads((await jp_fetch("cookbook", *parts, **kw)).body)


async def _finish(jp_fetch, gen_id: str) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 150
    after = 0
    while True:
        assert loop.time() < deadline, "the generation did not finish in time"
        page = await _json(jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 5})
        if page["events"]:
            after = page["events"][-1]["seq"]
        if page["done"]:
            return await _json(jp_fetch, "generations", gen_id)


async def test_a_lost_key_is_reported_and_nothing_else_breaks(key_lost, hub, jp_fetch, jp_root_dir, data_dir):
    key_before = (data_dir / "secrets.key").read_bytes() if key_lost != "deleted" else None

    listing = await _json(jp_fetch, "secrets")
    assert [(s["name"], s.get("unreadable")) for s in listing["secrets"]] == [
        ("HF_TOKEN", True),
        ("MY_API", True),
    ]
    problem = listing["problem"]
    expected = {
        "deleted": "is missing",
        "replaced": "cannot be decrypted",
        "damaged": "does not hold a valid key",
    }[key_lost]
    assert expected in problem and "Restore" in problem
    assert HF_VALUE not in json.dumps(listing) and API_VALUE not in json.dumps(listing)
    # No key was minted in the lost one's place, and the file the user may restore from is intact.
    if key_lost == "deleted":
        assert not (data_dir / "secrets.key").exists()
    else:
        assert (data_dir / "secrets.key").read_bytes() == key_before

    status = await _json(jp_fetch, "status")
    assert status["default_provider"] == "offline"

    models = await _json(jp_fetch, "models", params={"search": "tiny"})
    assert [m["id"] for m in models["models"]] == ["acme/tiny"]
    assert all(r.token is None for r in hub.requests)  # the unreadable HF_TOKEN was skipped

    make_local_repo(jp_root_dir)
    # (Trusted, so its README code runs without asking: nobody answers approvals here.)
    repo = await _json(
        jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model", "trust": True})
    )
    body = {"repo_id": repo["id"], "prompt": "greet someone", "provider": "offline"}
    gen = await _json(jp_fetch, "generations", method="POST", body=json.dumps(body))
    state = await _finish(jp_fetch, gen["id"])
    assert state["status"] == "finished", state.get("message")


async def test_saving_waits_for_the_lost_key_until_no_secret_needs_it(key_lost, jp_fetch, data_dir):
    put = {"method": "PUT", "body": json.dumps({"value": "a-new-value-0123456789"})}
    if key_lost == "replaced":
        # The current key works; saving a secret again makes it readable.
        await jp_fetch("cookbook", "secrets", "HF_TOKEN", **put)
        listing = await _json(jp_fetch, "secrets")
        assert [(s["name"], s.get("unreadable", False)) for s in listing["secrets"]] == [
            ("HF_TOKEN", False),
            ("MY_API", True),
        ]
        assert "MY_API" in listing["problem"] and "HF_TOKEN" not in listing["problem"]
        return
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "secrets", "OTHER", **put)
    assert err.value.code == 409
    payload = json.loads(err.value.response.body)
    assert payload["code"] == "secrets_key_unavailable" and "was not saved" in payload["message"]
    assert [s["name"] for s in (await _json(jp_fetch, "secrets"))["secrets"]] == ["HF_TOKEN", "MY_API"]

    # Recovery without the old key: delete what cannot be read, then save again.
    for name in ("HF_TOKEN", "MY_API"):
        assert (await jp_fetch("cookbook", "secrets", name, method="DELETE")).code == 204
    await jp_fetch("cookbook", "secrets", "OTHER", **put)
    listing = await _json(jp_fetch, "secrets")
    assert [(s["name"], s.get("unreadable", False)) for s in listing["secrets"]] == [("OTHER", False)]
    assert "problem" not in listing
    key_file = data_dir / "secrets.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    Fernet(key_file.read_bytes().strip())  # a valid key again


@pytest.fixture
def key_restored(data_dir):
    """The key file goes missing and then comes back from a backup while the server runs."""
    _save_secrets(data_dir)
    key_file = data_dir / "secrets.key"
    backup = key_file.read_bytes()
    key_file.unlink()
    return key_file, backup


async def test_a_restored_key_file_is_picked_up(key_restored, jp_fetch):
    key_file, backup = key_restored
    assert "is missing" in (await _json(jp_fetch, "secrets"))["problem"]
    key_file.write_bytes(backup)
    os.chmod(key_file, 0o600)
    listing = await _json(jp_fetch, "secrets")
    assert "problem" not in listing
    assert not any(s.get("unreadable") for s in listing["secrets"])


@pytest.fixture
def deployment_key_changed(data_dir, monkeypatch):
    _save_secrets(data_dir, key=Fernet.generate_key())
    monkeypatch.setenv("COOKBOOK_SECRETS_KEY", Fernet.generate_key().decode())


async def test_a_changed_deployment_key_is_reported(deployment_key_changed, jp_fetch, data_dir):
    listing = await _json(jp_fetch, "secrets")
    assert all(s["unreadable"] for s in listing["secrets"])
    assert "COOKBOOK_SECRETS_KEY" in listing["problem"]
    assert not (data_dir / "secrets.key").exists()  # a deployment key never writes a file
    assert (await _json(jp_fetch, "status"))["default_provider"] == "offline"


@pytest.fixture
def deployment_key_invalid(monkeypatch):
    monkeypatch.setenv("COOKBOOK_SECRETS_KEY", "too-short")


async def test_an_invalid_deployment_key_does_not_stop_the_server(deployment_key_invalid, jp_fetch):
    listing = await _json(jp_fetch, "secrets")
    assert listing["secrets"] == [] and "not a valid Fernet key" in listing["problem"]
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "secrets", "X", method="PUT", body=json.dumps({"value": "v" * 20}))
    assert err.value.code == 409
    assert (await _json(jp_fetch, "status"))["default_provider"] == "offline"


def test_a_damaged_key_file_protecting_nothing_is_set_aside(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    (tmp_path / "secrets.key").write_bytes(b"garbage")
    sec = Secrets(store, key_file=tmp_path / "secrets.key", owner="alice")
    assert sec.problem("alice") is None
    sec.put("alice", "HF_TOKEN", HF_VALUE)
    assert sec.get("alice", "HF_TOKEN") == HF_VALUE
    assert [p.read_bytes() for p in tmp_path.glob("secrets.key.invalid-*")] == [b"garbage"]
