"""Recipes: typed, versioned YAML files saying what kind of notebook to build (format.py), found in
the package, the user's folder, installed packs and the administrator's folders (registry.py),
rendered in a sandbox (render.py), installed from catalogues (catalog.py)."""

from __future__ import annotations

import functools
from typing import Any

from .complexity import COMPLEXITY_GUIDANCE, complexity_guidance
from .format import COMPLEXITIES, WELL_KNOWN_INPUTS, InputSpec, OfflineHints, RecipeSpec
from .loader import LoadError, RecipeFile
from .registry import PreparedRecipe, RecipeRegistry, describe
from .render import render_instructions


@functools.cache
def builtin_registry() -> RecipeRegistry:
    """The package's own recipes only (no user or admin folder): for callers without a server."""
    return RecipeRegistry()


def list_recipes() -> list[dict[str, Any]]:
    """The built-in recipes as GET cookbook/recipes lists them, in display order."""
    return builtin_registry().list()["recipes"]


def get_recipe(recipe_id: str, version: str | None = None) -> RecipeFile:
    """The built-in recipe `recipe_id`; NotFound names the ones that exist."""
    return builtin_registry().get(recipe_id, version)


def instructions_for(request: Any) -> str:
    """A generation's recipe instructions: rendered by the server when it started the generation
    (`request.instructions`), else the built-in recipe rendered with the request's own fields."""
    rendered = getattr(request, "instructions", None)
    if rendered:
        return str(rendered)
    recipe = get_recipe(request.template)
    values = {name: getattr(request, name, None) for name in recipe.spec.inputs}
    for name, spec in recipe.spec.inputs.items():
        if values[name] is None:
            values[name] = spec.default
    return render_instructions(recipe.template, values, recipe=recipe.id)


def offline_hints(request: Any) -> OfflineHints:
    """How the offline provider builds this generation's recipe: the hints the server passed
    (`request.offline`), else the built-in recipe's, else the defaults."""
    given = getattr(request, "offline", None)
    if isinstance(given, OfflineHints):
        return given
    if isinstance(given, dict):
        return OfflineHints.model_validate(given)
    try:
        return get_recipe(getattr(request, "template", "quickstart")).spec.offline
    except Exception:  # an unknown template: the generic plan
        return OfflineHints()


__all__ = [
    "COMPLEXITIES",
    "COMPLEXITY_GUIDANCE",
    "WELL_KNOWN_INPUTS",
    "InputSpec",
    "LoadError",
    "OfflineHints",
    "PreparedRecipe",
    "RecipeFile",
    "RecipeRegistry",
    "RecipeSpec",
    "builtin_registry",
    "complexity_guidance",
    "describe",
    "get_recipe",
    "instructions_for",
    "list_recipes",
    "offline_hints",
]
