"""Hugging Face Hub access through huggingface_hub against a fake Hub on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import huggingface_hub.constants
import pytest
from huggingface_hub import hf_hub_download

from cookbook_ext.errors import AuthRequired, BadRequest, NotFound, Upstream, UpstreamTimeout
from cookbook_ext.huggingface import HubClient, MemoryModelCache, split_model_card, validate_model_id
from tests.fakes.fixtures_hub import local_network_only
from tests.fakes.hub_server import DEFAULT_TOKEN, FakeHub

MODEL = "acme/tiny-summarizer"

CARD = """---
license: apache-2.0
language: [de, en]
pipeline_tag: summarization
---

# Tiny Summarizer

<!-- Provide a quick summary of what the model is/does. -->
A small model that summarises German news articles.

## How to use

```python
from transformers import pipeline

summarizer = pipeline("summarization", model="acme/tiny-summarizer")
# Usage: pass an article
print(summarizer("Ein langer Artikel ..."))
```

### With a GPU

Pass `device=0`.

## Training data

German news from 2020 to 2023.

## Limitations and bias

It was trained on news only and invents facts on long inputs.

## Citation

```bibtex
@misc{tiny2024, title={Tiny Summarizer}}
```
"""


@pytest.fixture(autouse=True)
def _offline_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Whatever the developer's environment says, these tests talk to the fake Hub only.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with local_network_only() as attempts:
        yield
    assert not attempts, f"the test tried to reach the network: {attempts}"


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add_model(
            MODEL,
            readme=CARD,
            files={"config.json": b'{"model_type": "t5"}', "model.safetensors": 242_000_000},
            safetensors_total=60_506_624,
            downloads=1200,
            likes=34,
            pipeline_tag="summarization",
            library_name="transformers",
            tags=["transformers", "safetensors", "t5", "summarization", "license:apache-2.0"],
            revisions={"v1": "1" * 40},
        )
        yield server


def client(hub: FakeHub, **kwargs: object) -> HubClient:
    return HubClient(endpoint=hub.url, timeout=5, **kwargs)  # type: ignore[arg-type]


def info_requests(hub: FakeHub) -> int:
    return len(hub.requests_to(f"/api/models/{MODEL}"))


# ------------------------------------------------------------------------------------------- model info


def test_model_info_returns_metadata_and_the_split_card(hub: FakeHub) -> None:
    info = client(hub).model_info(MODEL)

    assert info["id"] == MODEL
    assert info["author"] == "acme"
    assert info["sha"] == hub.models[MODEL].sha
    assert info["pipeline_tag"] == "summarization"
    assert info["library_name"] == "transformers"
    assert (info["downloads"], info["likes"]) == (1200, 34)
    assert info["license"] == "apache-2.0"
    assert info["card_data"]["language"] == ["de", "en"]
    assert info["last_modified"].startswith("2024-06-07T08:09:10")
    assert (info["gated"], info["private"], info["stale"]) == (False, False, False)
    card = info["card"]
    assert card["text"].startswith("# Tiny Summarizer")
    assert "summarises German news" in card["description"]
    assert 'pipeline("summarization"' in card["usage"]
    assert "device=0" in card["usage"]
    assert "invents facts" in card["limitations"]
    assert "@misc{tiny2024" in card["citation"]
    json.dumps(info)  # what the REST layer sends


def test_model_info_lists_files_with_sizes_and_parameter_count(hub: FakeHub) -> None:
    info = client(hub).model_info(MODEL)

    files = {f["path"]: f["size"] for f in info["files"]}
    assert files["model.safetensors"] == 242_000_000
    assert files["config.json"] == len(b'{"model_type": "t5"}')
    assert files["README.md"] == len(CARD.encode())
    assert info["parameters"] == 60_506_624
    assert hub.requests_to(f"/api/models/{MODEL}")[0].query["blobs"] == ["true"]


def test_model_card_is_read_at_the_resolved_commit(hub: FakeHub) -> None:
    client(hub).model_info(MODEL)

    (readme,) = hub.requests_to(f"/{MODEL}/resolve/")
    assert readme.path == f"/{MODEL}/resolve/{hub.models[MODEL].sha}/README.md"


def test_model_info_is_served_from_the_cache_within_its_ttl(hub: FakeHub) -> None:
    hub_client = client(hub, cache=MemoryModelCache(), ttl=3600)
    first = hub_client.model_info(MODEL)
    hub.clear_requests()

    second = hub_client.model_info(MODEL)

    assert hub.requests == []
    assert second["fetched_at"] == first["fetched_at"]
    assert second["card"] == first["card"]


def test_model_info_is_fetched_again_once_the_ttl_has_passed(hub: FakeHub) -> None:
    an_hour_ago = time.time() - 3601
    hub_client = client(hub, cache=MemoryModelCache(clock=lambda: an_hour_ago), ttl=3600)
    hub_client.model_info(MODEL)

    info = hub_client.model_info(MODEL)

    assert info_requests(hub) == 2
    assert info["stale"] is False


def test_refresh_skips_a_fresh_cache(hub: FakeHub) -> None:
    hub_client = client(hub, cache=MemoryModelCache())
    hub_client.model_info(MODEL)

    hub_client.model_info(MODEL, refresh=True)

    assert info_requests(hub) == 2


def test_each_revision_is_cached_separately(hub: FakeHub) -> None:
    hub_client = client(hub, cache=MemoryModelCache())
    latest = hub_client.model_info(MODEL)

    pinned = hub_client.model_info(MODEL, revision="v1")

    assert (latest["sha"], pinned["sha"]) == (hub.models[MODEL].sha, "1" * 40)
    assert hub.requests_to(f"/api/models/{MODEL}/revision/v1")


def test_cached_copy_is_served_as_stale_when_the_hub_is_down(hub: FakeHub) -> None:
    hub_client = client(hub, cache=MemoryModelCache(), ttl=0)
    fresh = hub_client.model_info(MODEL)
    hub.stop()

    info = hub_client.model_info(MODEL)

    assert info["stale"] is True
    assert info["fetched_at"] == fresh["fetched_at"]
    assert info["card"]["usage"] == fresh["card"]["usage"]


def test_cached_copy_is_served_as_stale_when_the_hub_fails(hub: FakeHub) -> None:
    hub_client = client(hub, cache=MemoryModelCache(), ttl=0)
    hub_client.model_info(MODEL)
    hub.fail_with = 503

    assert hub_client.model_info(MODEL)["stale"] is True


def test_unreachable_hub_without_a_cached_copy_is_a_502(hub: FakeHub) -> None:
    url = hub.url
    hub.stop()

    with pytest.raises(Upstream) as caught:
        HubClient(endpoint=url, cache=MemoryModelCache()).model_info(MODEL)

    assert caught.value.status == 502
    assert "could not be reached" in caught.value.message
    assert "Traceback" not in caught.value.message


def test_hub_server_error_without_a_cached_copy_is_a_502(hub: FakeHub) -> None:
    hub.fail_with = 500

    with pytest.raises(Upstream) as caught:
        client(hub).model_info(MODEL)

    assert "(500)" in caught.value.message


def test_slow_hub_without_a_cached_copy_is_a_504(hub: FakeHub) -> None:
    hub.delay = 5

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        HubClient(endpoint=hub.url, timeout=0.3).model_info(MODEL)

    assert caught.value.status == 504
    assert "did not answer within 0.3 seconds" in caught.value.message
    assert time.monotonic() - started < 3


def test_missing_model_is_not_found(hub: FakeHub) -> None:
    with pytest.raises(NotFound) as caught:
        client(hub, token=DEFAULT_TOKEN).model_info("acme/no-such-model")

    assert caught.value.status == 404
    assert "'acme/no-such-model' was not found" in caught.value.message


def test_missing_model_without_a_token_may_be_private(hub: FakeHub) -> None:
    # The Hub answers 401 to anonymous requests for missing and private repositories alike.
    with pytest.raises(AuthRequired) as caught:
        client(hub).model_info("acme/no-such-model")

    assert "private" in caught.value.message
    assert "HF_TOKEN" in caught.value.message


def test_unknown_revision_is_not_found(hub: FakeHub) -> None:
    with pytest.raises(NotFound) as caught:
        client(hub).model_info(MODEL, revision="no-such-branch")

    assert "Revision 'no-such-branch'" in caught.value.message


def test_gated_model_without_a_token_asks_for_an_hf_token(hub: FakeHub) -> None:
    hub.add_model("meta/gated-llm", readme="# Gated", gated="manual")

    with pytest.raises(AuthRequired) as caught:
        client(hub).model_info("meta/gated-llm")

    assert caught.value.status == 401
    assert "gated" in caught.value.message
    assert "HF_TOKEN" in caught.value.message
    assert f"{hub.url}/meta/gated-llm" in caught.value.message


def test_gated_model_with_a_token_is_described(hub: FakeHub) -> None:
    hub.add_model("meta/gated-llm", readme="# Gated\n\nA large model.", gated="manual")

    info = client(hub, token=DEFAULT_TOKEN).model_info("meta/gated-llm")

    assert info["gated"] == "manual"
    assert info["card"]["description"].endswith("A large model.")


def test_cached_gated_model_still_needs_a_token(hub: FakeHub) -> None:
    hub.add_model("meta/gated-llm", readme="# Gated", gated="auto")
    cache = MemoryModelCache()
    client(hub, token=DEFAULT_TOKEN, cache=cache).model_info("meta/gated-llm")

    with pytest.raises(AuthRequired):
        client(hub, cache=cache).model_info("meta/gated-llm")


def test_private_model_is_visible_with_a_token_only(hub: FakeHub) -> None:
    hub.add_model("acme/secret", readme="# Secret", private=True)
    cache = MemoryModelCache()

    assert client(hub, token=DEFAULT_TOKEN, cache=cache).model_info("acme/secret")["private"] is True
    with pytest.raises(AuthRequired):
        client(hub, cache=cache).model_info("acme/secret")


def test_rejected_token_is_auth_required_without_echoing_it(hub: FakeHub) -> None:
    token = "hf_not_a_real_token_1234567890"

    with pytest.raises(AuthRequired) as caught:
        client(hub, token=token).model_info(MODEL)

    assert "HF_TOKEN" in caught.value.message
    assert token not in caught.value.message
    assert hub.requests[0].token == token


def test_anonymous_client_sends_no_token(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_from_the_environment")

    client(hub).model_info(MODEL)

    assert all("authorization" not in r.headers for r in hub.requests)


def test_model_without_a_readme_has_an_empty_card(hub: FakeHub) -> None:
    hub.add_model("acme/bare", files={"config.json": b"{}"})

    info = client(hub).model_info("acme/bare")

    assert info["card"] == {"text": "", "description": "", "usage": "", "limitations": "", "citation": ""}
    assert not hub.requests_to("/acme/bare/resolve/")


def test_offline_mode_is_reported_as_such(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(Upstream) as caught:
        client(hub).model_info(MODEL)

    assert "HF_HUB_OFFLINE" in caught.value.message
    assert hub.requests == []


def test_fake_hub_serves_files_to_hf_hub_download(hub: FakeHub, tmp_path) -> None:
    path = hf_hub_download(MODEL, "README.md", endpoint=hub.url, cache_dir=tmp_path, token=False)

    assert open(path, encoding="utf-8").read() == CARD


# ------------------------------------------------------------------------------------------------ search


@pytest.fixture
def catalogue(hub: FakeHub) -> FakeHub:
    hub.add_model(
        "big/summarizer-xl", pipeline_tag="summarization", downloads=9000, likes=5, tags=["license:mit"]
    )
    hub.add_model("small/summarizer-mini", pipeline_tag="summarization", downloads=10, likes=900)
    hub.add_model("other/summarizer-chat", pipeline_tag="text-generation", downloads=50_000)
    hub.add_model("hidden/summarizer-private", pipeline_tag="summarization", downloads=10**6, private=True)
    return hub


def test_search_filters_by_task_and_sorts_by_downloads(catalogue: FakeHub) -> None:
    results = client(catalogue).search("summarizer", task="summarization")

    assert [r["id"] for r in results] == ["big/summarizer-xl", MODEL, "small/summarizer-mini"]
    (request,) = catalogue.requests_to("/api/models")
    assert request.query["pipeline_tag"] == ["summarization"]
    assert request.query["sort"] == ["downloads"]


def test_search_sorts_by_likes_and_honours_the_limit(catalogue: FakeHub) -> None:
    results = client(catalogue).search("summarizer", sort="likes", limit=2)

    assert [r["id"] for r in results] == ["small/summarizer-mini", MODEL]


def test_search_results_carry_licence_and_last_modified(catalogue: FakeHub) -> None:
    (result,) = client(catalogue).search("xl")

    assert result == {
        "id": "big/summarizer-xl",
        "downloads": 9000,
        "likes": 5,
        "pipeline_tag": "summarization",
        "library_name": None,
        "license": "mit",
        "last_modified": "2024-06-07T08:09:10+00:00",
    }


def test_search_against_an_unreachable_hub_is_a_502(hub: FakeHub) -> None:
    url = hub.url
    hub.stop()

    started = time.monotonic()
    with pytest.raises(Upstream):
        HubClient(endpoint=url).search("bert")

    assert time.monotonic() - started < 3  # no retry back-off for a search box


# -------------------------------------------------------------------------------------------- validation

HOSTILE_IDS = [
    "",
    "../etc",
    "../../etc/passwd",
    "a/b/c",
    "acme/ tiny",
    "acme /tiny",
    "acme/tiny\n",
    "x" * 500,
    "https://x",
    "https://huggingface.co/acme/tiny",
    "acme/..",
    "acme/-tiny",
    "acme/tiny.git",
    "acme//tiny",
    "/acme/tiny",
    "acme/ti--ny",
    "acme/tíny",
    "acme/tiny?x=1",
    "acme/tiny#frag",
]


@pytest.mark.parametrize("model_id", HOSTILE_IDS)
def test_bad_model_ids_are_rejected_before_any_request(hub: FakeHub, model_id: str) -> None:
    with pytest.raises(BadRequest) as caught:
        client(hub).model_info(model_id)

    assert caught.value.status == 400
    assert len(caught.value.message) < 300
    assert hub.requests == []


@pytest.mark.parametrize(
    "model_id",
    ["gpt2", "bert-base-uncased", "Qwen/Qwen2.5-7B-Instruct", "facebook/bart-large-cnn", "a_b/c_d"],
)
def test_real_model_ids_are_accepted(model_id: str) -> None:
    assert validate_model_id(model_id) == model_id


@pytest.mark.parametrize("revision", ["../main", "main/../../x", "a b", "-rf", "x" * 300, "refs/pr/1/"])
def test_bad_revisions_are_rejected(hub: FakeHub, revision: str) -> None:
    with pytest.raises(BadRequest):
        client(hub).model_info(MODEL, revision=revision)

    assert hub.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query": "q" * 201},
        {"query": "bert\x00"},
        {"query": "bert", "limit": 0},
        {"query": "bert", "limit": 101},
        {"query": "bert", "limit": True},
        {"query": "bert", "sort": "random"},
        {"query": "bert", "sort": "downloads; drop table"},
        {"query": "bert", "task": "../etc"},
        {"query": "bert", "task": "Text Generation"},
    ],
)
def test_bad_search_inputs_are_rejected_before_any_request(hub: FakeHub, kwargs: dict) -> None:
    with pytest.raises(BadRequest):
        client(hub).search(**kwargs)

    assert hub.requests == []


# ----------------------------------------------------------------------------------------- card splitting


def test_card_split_strips_front_matter() -> None:
    card = split_model_card("---\nlicense: mit\n---\n# Model\n\nDoes things.\n")

    assert card["text"] == "# Model\n\nDoes things."
    assert "license" not in card["description"]


def test_card_split_ignores_headings_inside_code() -> None:
    card = split_model_card("Intro.\n\n## Usage\n\n```python\n# Limitations of this loop\nrun()\n```\n")

    assert "# Limitations of this loop" in card["usage"]
    assert card["limitations"] == ""


def test_card_split_keeps_subsections_with_their_section() -> None:
    card = split_model_card("Intro.\n\n## Quick start\n\n### Install\n\npip install x\n\n## Results\n\nGood.")

    assert "pip install x" in card["usage"]
    assert "Good." not in card["usage"]


def test_card_split_finds_out_of_scope_use_under_uses() -> None:
    card = split_model_card("## Uses\n\nSummaries.\n\n### Out-of-Scope Use\n\nNot for medical advice.\n")

    assert "Not for medical advice." in card["limitations"]
    assert card["description"] == "## Uses\n\nSummaries."


def test_card_split_falls_back_to_the_first_section_for_the_description() -> None:
    card = split_model_card("## Usage\n\nrun()\n\n## About\n\nA model about things.\n")

    assert card["description"] == "## About\n\nA model about things."


def test_card_split_drops_template_placeholders() -> None:
    card = split_model_card("# M\n\n- **Developed by:** [More Information Needed]\n\nReal text.\n")

    assert card["description"] == "# M\n\nReal text."


def test_card_split_caps_long_usage_and_closes_its_code_fence() -> None:
    code = "\n".join(f"print({i})" for i in range(3000))

    usage = split_model_card(f"## Usage\n\n```python\n{code}\n```\n")["usage"]

    assert len(usage) < 8_100
    assert usage.count("```") % 2 == 0
    assert usage.endswith("…")


def test_card_split_drops_headings_left_empty() -> None:
    card = split_model_card(
        "# M\n\nText.\n\n## Model description\n\nMore information needed\n\n## Training\n\nAdam."
    )

    assert card["description"] == "# M\n\nText.\n\n## Training\n\nAdam."
