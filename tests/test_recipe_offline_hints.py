"""The offline provider follows the recipe's offline hints (which snippets, in which order, the
arena, the look at the data, training at which levels), for a user's recipe as for the built-ins."""

from __future__ import annotations

from cookbook_ext.agent.loop import GenerationRequest
from cookbook_ext.agent.providers.offline import plan_candidates
from cookbook_ext.recipes import offline_hints
from cookbook_ext.recipes.format import OfflineHints
from tests.test_offline_provider import MODEL, checkout, repo  # noqa: F401 - fixtures

TRAINING = {"path": "train.py", "title": "Train", "code": "model.fit(x, y)", "kind": "script"}


def titles(request, ingested_repo, model=MODEL) -> list[str]:
    return [c.title for c in plan_candidates(request, ingested_repo, model)]


def hinted(**hints) -> GenerationRequest:
    return GenerationRequest(prompt="p", template="mine", offline=OfflineHints(**hints).model_dump())


def test_the_snippet_kinds_and_their_order_come_from_the_hints(repo):  # noqa: F811
    default = titles(hinted(), repo)
    only_examples = titles(hinted(snippets=["examples"]), repo)
    assert "Quick start" in default and "Usage from the model card" in default
    assert "Quick start" not in only_examples and "Usage from the model card" not in only_examples
    assert any(t.startswith("Example:") for t in only_examples)
    card_first = titles(hinted(snippets=["model_card", "readme"]), repo)
    assert card_first.index("Usage from the model card") < card_first.index("Quick start")


def test_the_arena_and_the_look_at_the_data_are_hints_not_template_names(repo, checkout):  # noqa: F811
    model = dict(MODEL, card={"usage": '```python\nname = "example/tiny-model"\nprint(name)\n```'})
    request = GenerationRequest(
        prompt="p",
        template="mine",
        compare_with="other/model",
        data_path=str(checkout / "data.csv"),
        offline=OfflineHints(arena=True, inspect_data=True).model_dump(),
    )
    planned = titles(request, repo, model)
    assert "Contender B: other/model" in planned and "Look at the data" in planned
    plain = GenerationRequest(
        prompt="p", template="mine", compare_with="other/model", data_path=str(checkout / "data.csv")
    )
    assert "Contender B: other/model" not in titles(plain, repo, model)
    assert "Look at the data" not in titles(plain, repo, model)


def test_training_is_left_out_at_the_levels_the_hints_name(repo):  # noqa: F811
    with_training = dict(repo, examples=[TRAINING])
    assert "Example: Train" not in titles(hinted(), with_training)  # basic leaves training out
    assert "Example: Train" in titles(hinted(skip_training=[]), with_training)


def test_a_request_without_hints_uses_its_builtin_recipes_and_caps_per_level():
    arena = offline_hints(GenerationRequest(prompt="p", template="ab_arena"))
    assert arena.arena is True and arena.snippets[0] == "model_card"
    assert offline_hints(GenerationRequest(prompt="p", template="use_my_data")).inspect_data is True
    assert offline_hints(GenerationRequest(prompt="p", template="unknown")) == OfflineHints()
    assert OfflineHints().caps("basic") == (3, 5) and OfflineHints().caps("advanced") == (9, 12)
