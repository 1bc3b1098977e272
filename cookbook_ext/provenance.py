"""The provenance of a generated notebook (its `metadata.cookbook`): what was asked, from which
repository and model, by which provider, at what cost. Built here only, for every notebook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent.types import GenerationRequest

__all__ = ["RECIPE_FIELDS", "build_provenance"]

# The request fields a notebook records: the user's free text is masked by the caller.
RECIPE_FIELDS = ("prompt", "template", "topic", "complexity")
# What identifies the recipe that made it (recipes/registry.py PreparedRecipe.ref).
RECIPE_REF_FIELDS = ("id", "version", "sha256", "source", "pack")


def build_provenance(
    *,
    generation_id: str,
    request: GenerationRequest | Mapping[str, Any],
    repo: Mapping[str, Any] | None,
    model: Mapping[str, Any] | None,
    provider: str | None,
    model_name: str | None,
    usage: Mapping[str, Any] | None,
    status: str | None = None,
    parent_id: str | None = None,
    verification: Mapping[str, Any] | None = None,
    recipe: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`metadata.cookbook` for a generation, as notebook.build_notebook takes it.

    `request` is the GenerationRequest or the stored request dict (already masked: nothing here
    redacts); `repo` the repository record or its stored provenance ({url, commit, source});
    `model` the Hugging Face model info or its stored provenance ({id, sha}), the request's
    hf_model_id standing in when the model could not be fetched. `provider` and `model_name` name
    who generated it. `status`, `parent_id` and `verification` (the fresh-kernel check's result,
    verify.Verification) appear only when given. `recipe` (else the request's own `recipe`) is
    the recipe's id, version and the sha256 of its rendered instructions; with the request's
    `inputs` it joins the recipe fields when known.
    """
    fields = request if isinstance(request, Mapping) else vars(request)
    repo = repo or {}
    model = model or {}
    recipe_fields = {name: fields.get(name) for name in RECIPE_FIELDS}
    ref = recipe if recipe is not None else fields.get("recipe")
    if isinstance(ref, Mapping):
        recipe_fields.update({k: ref[k] for k in RECIPE_REF_FIELDS if ref.get(k) is not None})
    if fields.get("inputs"):
        recipe_fields["inputs"] = dict(fields["inputs"])
    provenance: dict[str, Any] = {
        "generation_id": generation_id,
        "recipe": recipe_fields,
        "repo": {"url": repo.get("url"), "commit": repo.get("commit"), "source": repo.get("source")},
        "hf": {"id": model.get("id") or fields.get("hf_model_id"), "sha": model.get("sha")},
        "provider": provider,
        "model": model_name,
        "usage": dict(usage or {}),
    }
    if status is not None:
        provenance["status"] = status
    if parent_id is not None:
        provenance["parent_id"] = parent_id
    if verification is not None:
        provenance["verification"] = dict(verification)
    return provenance
