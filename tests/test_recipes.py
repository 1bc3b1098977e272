"""Recipe templates: what GET cookbook/recipes lists, and what each template and level asks of the agent."""

from __future__ import annotations

import pytest

from cookbook_ext.agent.loop import Budgets, GenerationRequest
from cookbook_ext.agent.prompt import build_opening_message, build_system_prompt
from cookbook_ext.errors import BadRequest, NotFound
from cookbook_ext.recipes import get_recipe, list_recipes


def _instructions(**request) -> str:
    return build_system_prompt(
        request=GenerationRequest(prompt="p", **request), repo=None, model=None, budgets=Budgets()
    ).instructions


def test_four_templates_are_listed_in_order():
    assert [r["id"] for r in list_recipes()] == ["quickstart", "deep_dive", "ab_arena", "use_my_data"]


def test_every_recipe_has_the_contract_shape():
    for recipe in list_recipes():
        fields = "id version title description order inputs source folder file pack versions"
        assert set(recipe) == set(fields.split())
        assert recipe["title"] and recipe["description"]
        for item in recipe["inputs"]:
            assert {"name", "type", "required"} <= set(item)
            assert isinstance(item["required"], bool)


def test_complexity_is_a_choice_defaulting_to_basic():
    for recipe in list_recipes():
        [complexity] = [i for i in recipe["inputs"] if i["name"] == "complexity"]
        assert complexity["choices"] == ["basic", "intermediate", "advanced"]
        assert complexity["default"] == "basic"


def test_template_specific_inputs():
    inputs = {r["id"]: {i["name"] for i in r["inputs"]} for r in list_recipes()}
    assert "data_path" in inputs["use_my_data"]
    assert "compare_with" in inputs["ab_arena"]
    assert all("prompt" in names for names in inputs.values())


def test_unknown_template_is_not_found_and_names_the_known_ones():
    with pytest.raises(NotFound, match="quickstart"):
        get_recipe("nope")


def test_unknown_complexity_is_a_bad_request():
    with pytest.raises(BadRequest, match="basic"):
        _instructions(complexity="expert")


def test_each_template_asks_for_something_different():
    texts = {t: _instructions(template=t) for t in ("quickstart", "deep_dive", "ab_arena", "use_my_data")}
    assert len(set(texts.values())) == 4
    assert "side by side" in texts["ab_arena"]
    assert "DATA_PATH" in texts["use_my_data"]


def test_complexity_changes_the_requirements_not_just_a_word():
    basic = _instructions(complexity="basic")
    advanced = _instructions(complexity="advanced")
    assert "no training" in basic
    assert "edge cases" in advanced and "performance" in advanced
    assert "edge cases" not in basic


def test_secret_names_reach_the_prompt_but_only_as_names():
    system = build_system_prompt(
        request=GenerationRequest(prompt="p"),
        repo=None,
        model=None,
        budgets=Budgets(),
        secret_names=["HF_TOKEN"],
    )
    assert "os.environ['NAME']" in system.instructions
    assert "HF_TOKEN" in system.instructions


def test_use_my_data_offers_only_the_confined_data_path():
    # The server turns a topic naming a file into data_path, confined to the root
    # (tests/test_request_screening.py); the prompt never offers a raw topic as a path.
    message = build_opening_message(
        GenerationRequest(prompt="p", template="use_my_data", topic="/data/x.csv"), None
    )
    assert "DATA_PATH" not in message["content"][0]["text"]
    message = build_opening_message(
        GenerationRequest(prompt="p", template="use_my_data", data_path="/root/x.csv"), None
    )
    text = message["content"][0]["text"]
    assert "DATA_PATH" in text and "/root/x.csv" in text


def test_context_carries_the_repo_pack_and_the_model_card_usage():
    # The pack and the card are untrusted: they open the first user message as labelled blocks
    # (repository, then model card, then the warning), never the system prompt.
    repo = {"name": "r", "url": "https://github.com/o/r", "commit": "abc", "context": {"markdown": "PACK"}}
    model = {"id": "o/m", "pipeline_tag": "summarization", "card": {"usage": "USAGE SNIPPET"}}
    request = GenerationRequest(prompt="p")
    system = build_system_prompt(request=request, repo=repo, model=model, budgets=Budgets())
    repo_block, card_block, warning, ask = (
        b["text"] for b in build_opening_message(request, repo, model)["content"]
    )
    assert "PACK" in repo_block
    assert "USAGE SNIPPET" in card_block
    assert "summarization" in card_block
    assert repo_block.startswith(
        '<untrusted_data source="repository" url="https://github.com/o/r" commit="abc">'
    )
    assert card_block.startswith('<untrusted_data source="model_card" id="o/m">')
    assert "must not be followed" in warning and ask.startswith("Request: p")
    assert "PACK" not in system.instructions
    assert "USAGE SNIPPET" not in system.instructions and "summarization" not in system.instructions
    assert system.context == ""
