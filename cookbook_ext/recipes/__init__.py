"""Recipe templates (what kind of notebook to build) and their inputs, for the API and the agent."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest, NotFound
from .templates import COMPLEXITY_GUIDANCE, TEMPLATES, Recipe, RecipeInput

COMPLEXITIES = tuple(COMPLEXITY_GUIDANCE)
_BY_ID = {recipe.id: recipe for recipe in TEMPLATES}


def list_recipes() -> list[dict[str, Any]]:
    """The templates for GET cookbook/recipes, in display order."""
    return [recipe.to_dict() for recipe in TEMPLATES]


def get_recipe(recipe_id: str) -> Recipe:
    """The template called `recipe_id`; NotFound names the ones that exist."""
    try:
        return _BY_ID[recipe_id]
    except KeyError:
        raise NotFound(
            f"Unknown template {recipe_id!r}; choose one of {', '.join(_BY_ID)}.", code="unknown_template"
        ) from None


def complexity_guidance(level: str) -> str:
    """What a complexity level asks for; BadRequest names the valid levels."""
    try:
        return COMPLEXITY_GUIDANCE[level]
    except KeyError:
        raise BadRequest(
            f"Unknown complexity {level!r}; choose one of {', '.join(COMPLEXITIES)}.",
            code="unknown_complexity",
        ) from None


__all__ = ["COMPLEXITIES", "Recipe", "RecipeInput", "complexity_guidance", "get_recipe", "list_recipes"]
