"""What a generation request becomes before anything keeps or uses it.

- A use_my_data topic naming a file is confined to the Jupyter root exactly like data_path
  (403 outside, 404 missing) and passed on as data_path; no provider reads a raw topic as a path.
- Secret values typed into the prompt or the topic (a stored secret, a provider key from the
  environment) are masked before the request is stored, listed, written into the notebook's
  provenance, or sent to the model.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from cookbook_ext.agent.loop import GenerationRequest
from cookbook_ext.agent.prompt import build_opening_message
from cookbook_ext.agent.providers.offline import plan_candidates
from cookbook_ext.repositories import names_a_path
from tests.fakes.repos import make_local_repo
from tests.fakes.scripted_provider import ScriptedProvider, call, turn

STORED = "my-own-stored-secret-value-42"  # not credential-shaped: only the stored value masks it
ENV_KEY = "sk-env-" + "Qw3rTy" * 6  # a provider key from the server's environment


class RecordingProvider(ScriptedProvider):
    """The offline slot, replaced: records what it was given, then finishes."""

    seen: list[RecordingProvider] = []

    def __init__(self) -> None:
        super().__init__([turn(call("finish", summary="done"))])
        RecordingProvider.seen.append(self)

    def sent_text(self) -> str:
        return json.dumps([self.calls, [s.instructions for s in self.systems], str(self.prepared)])


@pytest.fixture
def recording(cookbook_config):
    RecordingProvider.seen = []
    cookbook_config["provider_classes"] = {"offline": f"{__name__}.RecordingProvider"}
    cookbook_config["allowed_providers"] = ["offline"]
    return RecordingProvider.seen


async def _json(jp_fetch, *parts, **kw):
    return json.loads((await jp_fetch("cookbook", *parts, **kw)).body)


async def _ingest(jp_fetch, jp_root_dir) -> str:
    make_local_repo(jp_root_dir)
    return (await _json(jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model"})))["id"]


async def _finish(jp_fetch, gen_id: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 150
    after = 0
    while True:
        assert loop.time() < deadline, "the generation did not finish in time"
        page = await _json(jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 5})
        if page["events"]:
            after = page["events"][-1]["seq"]
        if page["done"]:
            return


async def _start(jp_fetch, body: dict) -> str:
    resp = await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    assert resp.code == 202
    return json.loads(resp.body)["id"]


# -- the topic of use_my_data ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "code"),
    [
        ("/etc/passwd", 403),
        ("../../etc/passwd", 403),
        ("tiny-model/../../../etc/passwd", 403),
        ("outside-link/passwd", 403),
        ("no-such-data.csv", 404),
        ("data/missing/", 404),
    ],
)
async def test_a_use_my_data_topic_is_confined_like_data_path(
    recording, jp_fetch, jp_root_dir, tmp_path, topic, code
):
    repo_id = await _ingest(jp_fetch, jp_root_dir)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "passwd").write_text("root:x:0:0\n")
    (jp_root_dir / "outside-link").symlink_to(tmp_path / "elsewhere")
    body = {"repo_id": repo_id, "prompt": "look at it", "template": "use_my_data", "topic": topic}
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    assert err.value.code == code
    payload = json.loads(err.value.response.body)
    assert payload["message"].startswith("topic") and "root:x" not in payload["message"]
    assert (await _json(jp_fetch, "generations"))["generations"] == []
    assert recording == []  # no provider was even made


async def test_a_topic_naming_a_file_arrives_as_its_confined_data_path(recording, jp_fetch, jp_root_dir):
    repo_id = await _ingest(jp_fetch, jp_root_dir)
    (jp_root_dir / "sales.csv").write_text("a,b\n1,2\n")
    body = {"repo_id": repo_id, "prompt": "look at it", "template": "use_my_data", "topic": "sales.csv"}
    gen_id = await _start(jp_fetch, body)
    await _finish(jp_fetch, gen_id)
    confined = str((jp_root_dir / "sales.csv").resolve())
    [provider] = recording
    # The engine sees it relative to the notebook's folder (the root): no path of the server.
    assert provider.prepared["request"].data_path == "sales.csv"
    assert "DATA_PATH (relative to the notebook's folder, NOTEBOOK_DIR): sales.csv" in json.dumps(
        provider.calls[0]
    )
    assert (await _json(jp_fetch, "generations", gen_id))["request"]["data_path"] == confined


async def test_a_topic_that_is_a_subject_is_no_path(recording, jp_fetch, jp_root_dir):
    repo_id = await _ingest(jp_fetch, jp_root_dir)
    body = {"repo_id": repo_id, "prompt": "p", "template": "use_my_data", "topic": "customer churn"}
    gen_id = await _start(jp_fetch, body)
    await _finish(jp_fetch, gen_id)
    [provider] = recording
    assert provider.prepared["request"].data_path is None
    assert "DATA_PATH" not in json.dumps(provider.calls[0])


@pytest.mark.parametrize(
    ("text", "is_path"),
    [
        ("/etc/passwd", True),
        ("~/.ssh/id_rsa", True),
        ("../data", True),
        ("./x", True),
        (".env", True),
        ("data/sales.csv", True),
        ("sales.csv", True),
        ("C:\\data\\x.csv", True),
        ("notes about ../../etc", True),
        ("customer churn", False),
        ("A/B testing", False),
        ("sentiment", False),
        ("two\nlines.csv", False),
        ("", False),
    ],
)
def test_which_topics_name_a_path(text, is_path):
    assert names_a_path(text) is is_path


def test_the_providers_never_read_a_topic_as_a_path():
    request = GenerationRequest(prompt="p", template="use_my_data", topic="/etc/passwd")
    opening = build_opening_message(request, None)["content"][0]["text"]
    assert "DATA_PATH" not in opening
    plan = plan_candidates(request, {"checkout": "/tmp/x", "readmes": []}, {})
    assert not any("/etc/passwd" in (c.code or "") for c in plan)
    confined = GenerationRequest(prompt="p", template="use_my_data", data_path="/root/data.csv")
    assert "NOTEBOOK_DIR): /root/data.csv" in build_opening_message(confined, None)["content"][0]["text"]
    plan = plan_candidates(confined, {"checkout": "/tmp/x", "readmes": []}, {})
    assert any("/root/data.csv" in (c.code or "") for c in plan)


# -- secrets in the request ------------------------------------------------------------------------


@pytest.fixture
def env_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)


async def test_secret_values_in_the_request_are_masked_everywhere(recording, env_key, jp_fetch, jp_root_dir):
    repo_id = await _ingest(jp_fetch, jp_root_dir)
    await jp_fetch("cookbook", "secrets", "MY_SERVICE", method="PUT", body=json.dumps({"value": STORED}))
    body = {
        "repo_id": repo_id,
        "prompt": f"call the API with {STORED} and also {ENV_KEY}",
        "topic": f"about {STORED}",
        "compare_with": f"setting {STORED}",
        "template": "quickstart",
        "provider": "offline",
    }
    gen_id = await _start(jp_fetch, body)
    await _finish(jp_fetch, gen_id)

    answers = {
        "generation": (await jp_fetch("cookbook", "generations", gen_id)).body.decode(),
        "list": (await jp_fetch("cookbook", "generations")).body.decode(),
        "notebook": (await jp_fetch("cookbook", "generations", gen_id, "notebook")).body.decode(),
        "events": (await jp_fetch("cookbook", "generations", gen_id, "events")).body.decode(),
        "model": recording[0].sent_text(),
    }
    for where, text in answers.items():
        assert STORED not in text, where
        assert ENV_KEY not in text, where
        assert "[REDACTED:secret]" in text, where
    request = (await _json(jp_fetch, "generations", gen_id))["request"]
    assert request["prompt"] == "call the API with [REDACTED:secret] and also [REDACTED:secret]"
    assert request["topic"] == "about [REDACTED:secret]"
    nb = json.loads(answers["notebook"])
    assert nb["metadata"]["cookbook"]["recipe"]["prompt"] == request["prompt"]


async def test_a_request_stored_before_screening_is_masked_on_the_way_out(jp_fetch, jp_serverapp):
    await jp_fetch("cookbook", "secrets", "MY_SERVICE", method="PUT", body=json.dumps({"value": STORED}))
    store = jp_serverapp.web_app.settings["cookbook"].store.sync
    gen = store.create_generation(
        request={"prompt": f"old {STORED}", "topic": STORED, "template": "quickstart"},
        provider="offline",
        model=None,
        repo_id=None,
        kernel_id=None,
    )
    store.update_generation(gen["id"], status="finished")
    for parts in (("generations", gen["id"]), ("generations",), ("generations", gen["id"], "notebook")):
        text = (await jp_fetch("cookbook", *parts)).body.decode()
        assert STORED not in text and "[REDACTED:secret]" in text, parts
