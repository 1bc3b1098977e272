"""Model metadata from the local Hugging Face cache when the Hub is unreachable or switched off.

The cache is built by hand, as huggingface_hub lays it out: `models--OWNER--NAME/refs/<ref>` holds a
commit, `snapshots/<commit>/` the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import nbformat
import pytest

from cookbook_ext.errors import Upstream
from cookbook_ext.huggingface import HubClient, MemoryModelCache, read_local_cache
from tests.fakes.fixtures_hub import local_network_only
from tests.fakes.hub_server import FakeHub

MODEL = "acme/tiny-embedder"
SHA = "a" * 40
OLD_SHA = "b" * 40
CARD = """---
license: apache-2.0
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags:
- sentence-transformers
- feature-extraction
---

# Tiny Embedder

Maps sentences to vectors for semantic search.

## Usage

```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer("acme/tiny-embedder")
```

## Limitations

English only.
"""


def cache_model(cache: Path, model_id: str, sha: str, files: dict[str, str], *, ref: str = "main") -> Path:
    """A model in a Hugging Face cache: the ref, and a snapshot holding `files`."""
    folder = cache / f"models--{model_id.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / ref).write_text(sha)
    snapshot = folder / "snapshots" / sha
    for name, content in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_text(content)
    return snapshot


@pytest.fixture(autouse=True)
def _offline_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with local_network_only() as attempts:
        yield
    assert not attempts, f"the test tried to reach the network: {attempts}"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    root = tmp_path / "hf" / "hub"
    cache_model(
        root,
        MODEL,
        SHA,
        {
            "README.md": CARD,
            "config.json": json.dumps({"model_type": "bert", "hidden_size": 32}),
            "config_sentence_transformers.json": "{}",
            "1_Pooling/config.json": "{}",
        },
    )
    return root


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add_model(MODEL, readme=CARD, downloads=77, library_name="sentence-transformers")
        yield server


def test_unreachable_hub_falls_back_to_the_local_cache(hub: FakeHub, cache: Path) -> None:
    url = hub.url
    hub.stop()

    info = HubClient(endpoint=url, timeout=2, local_cache_dir=cache).model_info(MODEL)

    assert (info["id"], info["sha"]) == (MODEL, SHA)
    assert info["from_cache"] is True and info["stale"] is True
    assert info["message"].startswith("from local cache (the Hub could not be reached)")
    assert 'SentenceTransformer("acme/tiny-embedder")' in info["card"]["usage"]
    assert info["card"]["limitations"].endswith("English only.")
    assert info["config"] == {"model_type": "bert", "hidden_size": 32}
    assert (info["library_name"], info["pipeline_tag"], info["license"]) == (
        "sentence-transformers",
        "sentence-similarity",
        "apache-2.0",
    )
    assert info["tags"] == ["sentence-transformers", "feature-extraction"]
    assert {f["path"] for f in info["files"]} == {
        "README.md",
        "config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
    }
    json.dumps(info)  # what the REST layer sends


def test_hub_switched_off_uses_the_local_cache_without_asking_the_hub(
    hub: FakeHub, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    info = HubClient(endpoint=hub.url, local_cache_dir=cache).model_info(MODEL)

    assert info["from_cache"] is True
    assert "HF_HUB_OFFLINE" in info["message"]
    assert hub.requests == []


def test_the_default_cache_is_huggingface_hubs_own(
    hub: FakeHub, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HF_HOME / HF_HUB_CACHE end up in this constant; the client reads it when it falls back.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    assert HubClient(endpoint=hub.url).model_info(MODEL)["sha"] == SHA


def test_a_reachable_hub_is_preferred_to_the_local_cache(hub: FakeHub, cache: Path) -> None:
    info = HubClient(endpoint=hub.url, local_cache_dir=cache).model_info(MODEL)

    assert info["from_cache"] is False and info["stale"] is False
    assert info["sha"] == hub.models[MODEL].sha and info["downloads"] == 77


def test_cookbooks_own_stale_copy_comes_before_the_local_cache(hub: FakeHub, cache: Path) -> None:
    client = HubClient(endpoint=hub.url, cache=MemoryModelCache(), ttl=0, local_cache_dir=cache)
    client.model_info(MODEL)
    hub.stop()

    info = client.model_info(MODEL)

    assert (info["stale"], info["from_cache"], info["downloads"]) == (True, False, 77)


def test_a_model_missing_from_the_local_cache_is_still_the_hubs_error(hub: FakeHub, cache: Path) -> None:
    url = hub.url
    hub.stop()

    with pytest.raises(Upstream) as caught:
        HubClient(endpoint=url, timeout=2, local_cache_dir=cache).model_info("acme/not-cached")

    assert caught.value.status == 502
    assert "could not be reached" in caught.value.message


def test_the_fallback_can_be_switched_off(hub: FakeHub, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(Upstream):
        HubClient(endpoint=hub.url, local_cache_dir=cache, use_local_cache=False).model_info(MODEL)


def test_a_revision_is_read_from_its_own_ref(cache: Path) -> None:
    cache_model(cache, MODEL, OLD_SHA, {"README.md": "# Old card\n\nThe first version."}, ref="v1")

    assert read_local_cache(MODEL, "v1", cache_dir=cache)["sha"] == OLD_SHA
    assert read_local_cache(MODEL, cache_dir=cache)["sha"] == SHA
    assert read_local_cache(MODEL, OLD_SHA, cache_dir=cache)["card"]["description"].endswith("first version.")


def test_a_snapshot_without_card_or_config_still_gives_the_revision(tmp_path: Path) -> None:
    # A ref written by hand may end in a newline; huggingface_hub's own writes never do.
    cache_model(tmp_path, "acme/weights-only", SHA, {"model.safetensors": "x" * 10})
    (tmp_path / "models--acme--weights-only" / "refs" / "main").write_text(SHA + "\n")

    info = read_local_cache("acme/weights-only", cache_dir=tmp_path)

    assert info["sha"] == SHA
    assert info["files"] == [{"path": "model.safetensors", "size": 10}]
    assert info["card"]["text"] == "" and info["config"] is None and info["library_name"] is None


def test_nothing_cached_is_none(tmp_path: Path) -> None:
    assert read_local_cache(MODEL, cache_dir=tmp_path) is None
    assert read_local_cache(MODEL, cache_dir=tmp_path / "missing") is None


def test_front_matter_is_read_as_plain_fields_never_expanded(tmp_path: Path) -> None:
    hostile = (
        "---\nlicense: mit\nbomb: &a [x, x, x]\nmore: [*a, *a, *a]\n"
        "tags: [one, 'two']\nlibrary_name: transformers\n---\n# Card\n\nText.\n"
    )
    cache_model(tmp_path, MODEL, SHA, {"README.md": hostile})

    info = read_local_cache(MODEL, cache_dir=tmp_path)

    assert info["card_data"] == {"license": "mit", "tags": ["one", "two"], "library_name": "transformers"}
    assert info["card"]["text"].startswith("# Card")


# -- through the server: the panel's model lookup and a generation --------------------------------

_LOADING = """from huggingface_hub import hf_hub_download

config = hf_hub_download("acme/tiny-embedder", "config.json")
print(open(config).read())"""
LOADING_CARD = CARD.replace(
    CARD[CARD.index("from sentence_transformers") : CARD.index("\n```\n\n## Limit")], _LOADING
)


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cookbook_config: dict) -> Path:
    """HF_HUB_OFFLINE and a local cache holding the model, for the server and its kernels."""
    cache = tmp_path / "hf-home" / "hub"
    cache_model(cache, MODEL, SHA, {"README.md": LOADING_CARD, "config.json": '{"model_type": "bert"}'})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the kernels' huggingface_hub reads these
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    cookbook_config["hf_endpoint"] = "http://127.0.0.1:9"
    return cache


@pytest.fixture
def jp_server_config(jp_server_config: dict, offline_hub: Path) -> dict:
    return {**jp_server_config, "ModelMetadata": {"hf_cache_dir": str(offline_hub)}}


async def test_the_model_lookup_answers_from_the_local_cache(jp_fetch) -> None:
    resp = await jp_fetch("cookbook", "models", *MODEL.split("/"))
    info = json.loads(resp.body)

    assert (info["id"], info["sha"], info["from_cache"], info["stale"]) == (MODEL, SHA, True, True)
    assert info["message"].startswith("from local cache")
    assert "hf_hub_download" in info["card"]["usage"]


async def test_a_generation_uses_the_cached_card_pinned_to_its_revision(jp_fetch, jp_root_dir: Path) -> None:
    from tests.fakes.repos import make_local_repo

    make_local_repo(jp_root_dir)
    repo = json.loads(
        (
            await jp_fetch(
                "cookbook", "repos", method="POST", body=json.dumps({"source": "tiny-model", "trust": True})
            )
        ).body
    )
    body = {"repo_id": repo["id"], "prompt": "embed", "provider": "offline", "hf_model_id": MODEL}
    gen_id = json.loads(
        (await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))).body
    )["id"]
    events, after, done = [], 0, False
    while not done:
        page = json.loads(
            (
                await jp_fetch(
                    "cookbook", "generations", gen_id, "events", params={"after": after, "timeout": 5}
                )
            ).body
        )
        events += page["events"]
        after = events[-1]["seq"] if events else after
        done = page["done"]

    assert events[-1]["type"] == "finished"
    statuses = [e["data"]["message"] for e in events if e["type"] == "status"]
    assert any(m.startswith(f"{MODEL}: from local cache (HF_HUB_OFFLINE is set)") for m in statuses)
    nb = nbformat.reads(
        (await jp_fetch("cookbook", "generations", gen_id, "notebook")).body.decode(), as_version=4
    )
    assert nb.metadata["cookbook"]["hf"] == {"id": MODEL, "sha": SHA}
    [card] = [c for c in nb.cells if "hf_hub_download(" in c.source]
    assert f'hf_hub_download("acme/tiny-embedder", "config.json", revision="{SHA}")' in card.source
    assert '{"model_type": "bert"}' in card.outputs[0]["text"]  # loaded from the cache, offline
