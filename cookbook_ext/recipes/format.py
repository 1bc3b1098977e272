"""The recipe file format: a YAML document validated by these pydantic models. The JSON Schema in
`recipe.schema.json` is generated from them (`python -m cookbook_ext.recipes.format` rewrites it;
tests/test_recipe_files.py checks that it is up to date)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_PATH = Path(__file__).with_name("recipe.schema.json")

Complexity = Literal["basic", "intermediate", "advanced"]
COMPLEXITIES: tuple[Complexity, ...] = ("basic", "intermediate", "advanced")
InputType = Literal["string", "text", "number", "boolean", "choice", "array<string>", "hf_model", "path"]
SnippetKind = Literal["readme", "model_card", "examples"]

# semver.org's own expression (2.0.0), anchored.
SEMVER = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
RECIPE_ID = r"^[a-z][a-z0-9_-]{0,63}$"
# Input names are Jinja2 variables in the instructions: identifiers, lower case.
INPUT_NAME = r"^[a-z_][a-z0-9_]{0,63}$"
_SEMVER = re.compile(SEMVER)

# What a value of each type may be at most when the recipe names no bound.
MAX_STRING_CHARS = 2000
MAX_TEXT_CHARS = 100_000
MAX_ARRAY_ITEMS = 100

# Inputs that are also top-level fields of a generation request, with the types they may have:
# the server, the prompt and the offline provider read them by these names.
WELL_KNOWN_INPUTS: dict[str, tuple[str, ...]] = {
    "prompt": ("text", "string"),
    "topic": ("string", "text"),
    "complexity": ("choice",),
    "hf_model_id": ("hf_model",),
    "data_path": ("path",),
    "compare_with": ("string", "hf_model"),
}


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key with semver precedence: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre, _build = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """One input the panel asks for and the instructions may use."""

    type: InputType = Field(description="The kind of value, and the form field the panel shows for it.")
    required: bool = Field(
        default=False, description="The user must give a value (then there is no default)."
    )
    default: Any = Field(default=None, description="The value when the user gives none; of the input's type.")
    label: str | None = Field(
        default=None, max_length=200, description="The form field's label (else the name)."
    )
    description: str = Field(default="", max_length=2000, description="A sentence the panel shows as help.")
    choices: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=100, description="The values a `choice` input may take."
    )
    min: float | None = Field(
        default=None,
        description="number: the least value; string, text: the least length; array: the fewest items.",
    )
    max: float | None = Field(
        default=None,
        description="number: the largest value; string, text: the longest; array: the most items.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> InputSpec:
        if self.type == "choice":
            if not self.choices:
                raise ValueError("a choice input needs `choices`")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError("`choices` has the same value twice")
        elif self.choices is not None:
            raise ValueError(f"`choices` applies to choice inputs only, not {self.type}")
        bounded = self.type in ("number", "string", "text", "array<string>")
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is None:
                continue
            if not bounded:
                raise ValueError(f"`{name}` applies to number, string, text and array<string> inputs only")
            if not math.isfinite(value):
                raise ValueError(f"`{name}` must be a finite number")
            if self.type != "number" and (value < 0 or value != int(value)):
                raise ValueError(f"`{name}` of a {self.type} input is a count: a whole number, 0 or more")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` is larger than `max`")
        if self.required and self.default is not None:
            raise ValueError("a required input has no default (the user always gives it)")
        if self.default is not None:
            from ..errors import BadRequest
            from .inputs import check_value

            try:
                check_value(self, self.default)  # ValueError says what is wrong with it
            except BadRequest as err:
                raise ValueError(f"default: {err.message}") from None
        return self

    def to_dict(self, name: str) -> dict[str, Any]:
        """The input as GET cookbook/recipes lists it (a list item with its name)."""
        out: dict[str, Any] = {"name": name, "type": self.type, "required": self.required}
        for key in ("default", "label", "choices", "min", "max"):
            value = getattr(self, key)
            if isinstance(value, float) and value.is_integer() and key in ("min", "max"):
                value = int(value)
            if value is not None:
                out[key] = value
        if self.description:
            out["description"] = self.description
        return out


class CellCaps(_Strict):
    keep: int = Field(ge=1, le=60, description="Snippet cells kept at most.")
    attempts: int = Field(ge=1, le=100, description="Snippet cells tried at most.")

    @model_validator(mode="after")
    def _attempts_cover_keep(self) -> CellCaps:
        if self.attempts < self.keep:
            raise ValueError("`attempts` is smaller than `keep`")
        return self


def _default_caps() -> dict[Complexity, CellCaps]:
    return {
        "basic": CellCaps(keep=3, attempts=5),
        "intermediate": CellCaps(keep=6, attempts=8),
        "advanced": CellCaps(keep=9, attempts=12),
    }


def _default_snippets() -> list[SnippetKind]:
    return ["readme", "model_card", "examples"]


def _default_skip_training() -> list[Complexity]:
    return ["basic"]


class OfflineHints(_Strict):
    """How the offline provider (no model: the repository's own examples) builds this recipe."""

    snippets: list[SnippetKind] = Field(
        default_factory=_default_snippets,
        min_length=1,
        max_length=3,
        description="Which snippets to try, in this order: README code blocks, the model card's "
        "usage snippets, the repository's example scripts.",
    )
    shortest_examples_first: bool = Field(
        default=False, description="Try the shortest example scripts first."
    )
    arena: bool = Field(
        default=False,
        description="First run the model card's snippet for the selected model, then the same "
        "snippet with `compare_with` (a second model id) swapped in.",
    )
    inspect_data: bool = Field(default=False, description="Open with a look at the user's data_path.")
    skip_training: list[Complexity] = Field(
        default_factory=_default_skip_training,
        description="Levels at which snippets that train are left out.",
    )
    cells: dict[Complexity, CellCaps] = Field(
        default_factory=_default_caps, description="Per complexity level: how many snippet cells."
    )

    @field_validator("snippets")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a snippet kind is listed twice")
        return value

    def caps(self, complexity: str) -> tuple[int, int]:
        """(keep, attempts) for a complexity level."""
        caps = self.cells.get(complexity) or _default_caps().get(complexity) or _default_caps()["basic"]  # type: ignore[call-overload]
        return caps.keep, caps.attempts


class RecipeSpec(_Strict):
    """A recipe: what kind of notebook to build, the inputs it takes, and what the agent is asked."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        title="Cookbook recipe",
    )

    schema_: str | None = Field(
        default=None, alias="$schema", description="The JSON Schema this file follows (for editors)."
    )
    id: str = Field(pattern=RECIPE_ID, description="What a generation request names in `template`.")
    version: str = Field(pattern=SEMVER, description="Semantic version; generations record it.")
    title: str = Field(min_length=1, max_length=200, description="The name the panel shows.")
    description: str = Field(default="", max_length=2000, description="One or two sentences for the panel.")
    inputs: dict[Annotated[str, Field(pattern=INPUT_NAME)], InputSpec] = Field(
        default_factory=dict,
        max_length=32,
        description="The inputs, by name, in the order the panel shows them.",
        json_schema_extra={"additionalProperties": False},
    )
    instructions: str = Field(
        min_length=1,
        max_length=50_000,
        description="What the agent is asked to build: a Jinja2 template over the inputs, rendered "
        "in a sandbox (an undefined name is an error).",
    )
    order: int = Field(
        default=100, ge=0, le=10_000, description="Its place in the panel's list, lower first."
    )
    offline: OfflineHints = Field(
        default_factory=lambda: OfflineHints(), description="Hints for the offline provider."
    )

    @model_validator(mode="after")
    def _well_known_inputs_keep_their_meaning(self) -> RecipeSpec:
        for name, spec in self.inputs.items():
            allowed = WELL_KNOWN_INPUTS.get(name)
            if allowed is not None and spec.type not in allowed:
                raise ValueError(
                    f"inputs.{name}: Cookbook gives `{name}` a meaning of its own, so it is "
                    f"{' or '.join(allowed)}, not {spec.type}"
                )
        complexity = self.inputs.get("complexity")
        if complexity is not None and not set(complexity.choices or ()) <= set(COMPLEXITIES):
            raise ValueError(f"inputs.complexity: its choices are among {', '.join(COMPLEXITIES)}")
        return self


def json_schema() -> dict[str, Any]:
    schema = RecipeSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m cookbook_ext.recipes.format: rewrite the shipped schema
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
