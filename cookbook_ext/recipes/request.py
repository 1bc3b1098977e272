"""A generation request's recipe: its inputs gathered from `inputs` and the top-level fields the
built-in recipes always had (prompt, topic, complexity, hf_model_id, data_path, compare_with),
checked against the recipe's typed inputs, and its instructions rendered. The request that is
stored pins the recipe's version, so running it again uses the same one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Invalid
from .format import WELL_KNOWN_INPUTS

if TYPE_CHECKING:
    from ..api_models import GenerationCreate
    from .registry import PreparedRecipe, RecipeRegistry


def apply_recipe(
    body: GenerationCreate,
    registry: RecipeRegistry,
    *,
    confine: Callable[[str, str], Path] | None = None,
    redact: Callable[[str], str] | None = None,
) -> tuple[GenerationCreate, PreparedRecipe]:
    """(the body as it is stored and run, the prepared recipe). Blocking (reads recipe files,
    renders): run it off the event loop. Invalid (422) names the field; NotFound an unknown
    recipe; Conflict a pinned version that is gone."""
    recipe = registry.get(body.template, body.template_version)
    given: dict[str, Any] = {}
    for name, value in body.inputs.items():
        given[name] = _masked(value, redact)
    for name in WELL_KNOWN_INPUTS:
        if name not in recipe.spec.inputs or name not in body.model_fields_set:
            continue
        top = getattr(body, name)
        if top is None:
            continue
        if name in given and given[name] != top:
            raise Invalid(
                f"inputs.{name}: given twice with different values (as {name} and as "
                f"inputs.{name}); give it once.",
                code="invalid_input",
                details={"field": f"inputs.{name}"},
            )
        given[name] = top
    prepared = registry.prepare(body.template, given, version=recipe.version, confine=confine)
    update: dict[str, Any] = {"template_version": recipe.version, "inputs": _user_inputs(body, given, recipe)}
    # The well-known inputs keep driving what they always did (the prompt's lines, the confined
    # data_path, the offline provider's arena), whichever way they were given.
    for name in WELL_KNOWN_INPUTS:
        if name in recipe.spec.inputs and prepared.values.get(name) is not None:
            update[name] = prepared.values[name]
    return body.model_copy(update=update), prepared


def _user_inputs(body: GenerationCreate, given: dict[str, Any], recipe: Any) -> dict[str, Any]:
    """The inputs as the request records them: what the user gave in `inputs` (masked), not the
    top-level fields again."""
    return {name: value for name, value in given.items() if name in body.inputs}


def _masked(value: Any, redact: Callable[[str], str] | None) -> Any:
    if redact is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact(v) if isinstance(v, str) else v for v in value]
    return value
