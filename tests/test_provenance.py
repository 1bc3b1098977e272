"""A notebook's provenance, built one way for the engine's notebook and the download."""

from __future__ import annotations

from cookbook_ext.agent.types import GenerationRequest
from cookbook_ext.provenance import build_provenance

REPO = {"url": "https://github.com/o/r", "commit": "abc123", "source": "o/r", "checkout": "/tmp/x"}
MODEL = {"id": "o/m", "sha": "def456", "card": {"usage": "..."}}


def test_it_records_recipe_repository_model_provider_and_usage() -> None:
    provenance = build_provenance(
        generation_id="g1",
        request=GenerationRequest(prompt="summarise", hf_model_id="o/m"),
        repo=REPO,
        model=MODEL,
        provider="offline",
        model_name="repository-examples",
        usage={"input_tokens": 0, "turns": 2},
    )
    assert provenance == {
        "generation_id": "g1",
        "recipe": {"prompt": "summarise", "template": "quickstart", "topic": None, "complexity": "basic"},
        "repo": {"url": "https://github.com/o/r", "commit": "abc123", "source": "o/r"},
        "hf": {"id": "o/m", "sha": "def456"},
        "provider": "offline",
        "model": "repository-examples",
        "usage": {"input_tokens": 0, "turns": 2},
    }


def test_a_stored_request_and_stored_provenance_give_the_same_dict() -> None:
    request = {"prompt": "summarise", "template": "quickstart", "complexity": "basic", "repo_id": "r1"}
    from_engine = build_provenance(
        generation_id="g1",
        request=GenerationRequest(prompt="summarise"),
        repo=REPO,
        model=MODEL,
        provider="offline",
        model_name="m",
        usage={},
    )
    from_store = build_provenance(
        generation_id="g1",
        request=request,
        repo={"url": REPO["url"], "commit": REPO["commit"], "source": REPO["source"]},
        model={"id": "o/m", "sha": "def456"},
        provider="offline",
        model_name="m",
        usage={},
    )
    assert from_engine == from_store


def test_without_model_metadata_the_requested_model_id_is_recorded() -> None:
    provenance = build_provenance(
        generation_id="g1",
        request=GenerationRequest(prompt="p", hf_model_id="o/m"),
        repo=None,
        model=None,
        provider="offline",
        model_name=None,
        usage=None,
    )
    assert provenance["hf"] == {"id": "o/m", "sha": None}
    assert provenance["repo"] == {"url": None, "commit": None, "source": None}
    assert provenance["usage"] == {}


def test_status_and_parent_appear_only_when_given() -> None:
    common = dict(repo=None, model=None, provider="p", model_name="m", usage={})
    plain = build_provenance(generation_id="g", request={"prompt": "p"}, **common)  # type: ignore[arg-type]
    assert "status" not in plain and "parent_id" not in plain
    full = build_provenance(
        generation_id="g",
        request={"prompt": "p"},
        status="finished",
        parent_id="g0",
        **common,  # type: ignore[arg-type]
    )
    assert (full["status"], full["parent_id"]) == ("finished", "g0")
