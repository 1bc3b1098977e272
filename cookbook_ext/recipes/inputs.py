"""A generation's recipe inputs, checked against the recipe's typed inputs: each value of its type,
within its bounds, every required one given, no unknown name. Errors name the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, Invalid
from .format import MAX_ARRAY_ITEMS, MAX_STRING_CHARS, MAX_TEXT_CHARS

if TYPE_CHECKING:
    from .format import InputSpec, RecipeSpec

_MAX_PATH_CHARS = 1024


def _length_bounds(spec: InputSpec, value_len: int, what: str, default_max: int) -> None:
    low = int(spec.min) if spec.min is not None else None
    high = int(spec.max) if spec.max is not None else default_max
    if low is not None and value_len < low:
        raise ValueError(f"needs at least {low} {what}, got {value_len}")
    if value_len > high:
        raise ValueError(f"takes at most {high} {what}, got {value_len}")


def check_value(spec: InputSpec, value: Any) -> Any:
    """`value` as an input of `spec` (a number stays a number, text is stripped of outer blanks);
    ValueError says what is wrong, BadRequest what is malformed (a model id, a NUL), as the
    top-level fields always answered. Paths are checked for form here; the server confines them."""
    kind = spec.type
    if kind in ("string", "text", "hf_model", "path", "choice"):
        if not isinstance(value, str):
            raise ValueError(f"must be a string, not {_kind_of(value)}")
        value = value.strip()
        if kind == "choice":
            if value not in (spec.choices or ()):
                raise ValueError(f"must be one of {', '.join(spec.choices or ())}, not {_clip(value)!r}")
            return value
        if "\x00" in value:
            raise BadRequest("contains a NUL character")
        if kind == "string":
            if "\n" in value or "\r" in value:
                raise ValueError("must be a single line (use a text input for several)")
            _length_bounds(spec, len(value), "characters", MAX_STRING_CHARS)
        elif kind == "text":
            _length_bounds(spec, len(value), "characters", MAX_TEXT_CHARS)
        elif kind == "hf_model":
            from ..huggingface import validate_model_id

            validate_model_id(value)  # BadRequest (400), as for the top-level hf_model_id
        elif kind == "path":
            if not value:
                raise ValueError("must name a file or folder under the Jupyter root")
            if len(value) > _MAX_PATH_CHARS:
                raise ValueError(f"is longer than {_MAX_PATH_CHARS} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {_kind_of(value)}")
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if spec.min is not None and value < spec.min:
            raise ValueError(f"must be at least {_num(spec.min)}, got {_num(value)}")
        if spec.max is not None and value > spec.max:
            raise ValueError(f"must be at most {_num(spec.max)}, got {_num(value)}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {_kind_of(value)}")
        return value
    if kind == "array<string>":
        if not isinstance(value, list):
            raise ValueError(f"must be a list of strings, not {_kind_of(value)}")
        _length_bounds(spec, len(value), "items", MAX_ARRAY_ITEMS)
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(f"item {i} must be a string, not {_kind_of(item)}")
            if len(item) > MAX_STRING_CHARS or "\x00" in item:
                raise ValueError(f"item {i} is longer than {MAX_STRING_CHARS} characters or has a NUL")
            out.append(item.strip())
        return out
    raise ValueError(f"has an unknown type {kind}")  # the format allows no other


def resolve_inputs(recipe: RecipeSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every input of `recipe` with its value: what was given (checked), else the default, else
    None for an optional input. Invalid (422) names the first field that is wrong."""
    unknown = [name for name in given if name not in recipe.inputs]
    if unknown:
        name = unknown[0]
        known = ", ".join(recipe.inputs) or "none"
        raise Invalid(
            f"inputs.{_clip(name)}: the recipe {recipe.id} {recipe.version} has no input of that name "
            f"(its inputs: {known}).",
            code="unknown_input",
            details={"field": f"inputs.{_clip(name)}", "template": recipe.id},
        )
    values: dict[str, Any] = {}
    for name, spec in recipe.inputs.items():
        value = given.get(name)
        if isinstance(value, str) and not value.strip() and spec.type != "choice":
            value = None  # an empty form field is no value
        if value is None:
            if spec.required:
                raise Invalid(
                    f"inputs.{name}: required by the recipe {recipe.id}; give a value.",
                    code="missing_input",
                    details={"field": f"inputs.{name}", "template": recipe.id},
                )
            values[name] = spec.default
            continue
        try:
            values[name] = check_value(spec, value)
        except BadRequest as err:
            raise BadRequest(
                f"inputs.{name}: {err.message}",
                code=err.code,
                details={"field": f"inputs.{name}", "template": recipe.id, "type": spec.type},
            ) from None
        except ValueError as err:
            raise Invalid(
                f"inputs.{name}: {err} ({spec.type} input of the recipe {recipe.id}).",
                code="invalid_input",
                details={"field": f"inputs.{name}", "template": recipe.id, "type": spec.type},
            ) from None
    return values


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "an object" if isinstance(value, dict) else type(value).__name__
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
