"""A generation's inputs against the recipe's typed inputs: each value of its type and within its
bounds, required ones given, defaults filled in, unknown names refused; errors name the field."""

from __future__ import annotations

import pytest

from cookbook_ext.errors import BadRequest, Invalid
from cookbook_ext.recipes.format import RecipeSpec
from cookbook_ext.recipes.inputs import resolve_inputs

RECIPE = RecipeSpec.model_validate(
    {
        "id": "typed",
        "version": "1.0.0",
        "title": "Typed",
        "instructions": "x",
        "inputs": {
            "prompt": {"type": "text", "required": True},
            "name": {"type": "string", "min": 2, "max": 10},
            "n": {"type": "number", "min": 1, "max": 5, "default": 2},
            "flag": {"type": "boolean", "default": False},
            "level": {"type": "choice", "choices": ["low", "high"], "default": "low"},
            "tags": {"type": "array<string>", "max": 3},
            "hf_model_id": {"type": "hf_model"},
            "data_path": {"type": "path"},
        },
    }
)


def test_defaults_fill_what_was_not_given():
    values = resolve_inputs(RECIPE, {"prompt": "  go  "})
    assert values == {
        "prompt": "go",
        "name": None,
        "n": 2,
        "flag": False,
        "level": "low",
        "tags": None,
        "hf_model_id": None,
        "data_path": None,
    }


def test_values_of_every_type_are_kept_as_their_type():
    given = {
        "prompt": "p",
        "name": "abc",
        "n": 4.5,
        "flag": True,
        "level": "high",
        "tags": ["a", " b "],
        "hf_model_id": "acme/tiny",
        "data_path": "data/x.csv",
    }
    values = resolve_inputs(RECIPE, given)
    assert values == {**given, "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("given", "field", "code", "words"),
    [
        ({}, "inputs.prompt", "missing_input", "required"),
        ({"prompt": "   "}, "inputs.prompt", "missing_input", "required"),
        ({"prompt": "p", "n": "3"}, "inputs.n", "invalid_input", "must be a number"),
        ({"prompt": "p", "n": True}, "inputs.n", "invalid_input", "must be a number"),
        ({"prompt": "p", "n": 9}, "inputs.n", "invalid_input", "at most 5"),
        ({"prompt": "p", "n": 0}, "inputs.n", "invalid_input", "at least 1"),
        ({"prompt": "p", "n": float("nan")}, "inputs.n", "invalid_input", "finite"),
        ({"prompt": "p", "flag": "yes"}, "inputs.flag", "invalid_input", "true or false"),
        ({"prompt": "p", "level": "medium"}, "inputs.level", "invalid_input", "one of low, high"),
        ({"prompt": "p", "name": "a"}, "inputs.name", "invalid_input", "at least 2"),
        ({"prompt": "p", "name": "a" * 11}, "inputs.name", "invalid_input", "at most 10"),
        ({"prompt": "p", "name": "two\nlines"}, "inputs.name", "invalid_input", "single line"),
        ({"prompt": "p", "tags": "a,b"}, "inputs.tags", "invalid_input", "list of strings"),
        ({"prompt": "p", "tags": ["a", 1]}, "inputs.tags", "invalid_input", "item 1"),
        ({"prompt": "p", "tags": ["a"] * 4}, "inputs.tags", "invalid_input", "at most 3 items"),
        (
            {"prompt": "p", "hf_model_id": "../etc/passwd"},
            "inputs.hf_model_id",
            "bad_request",
            "hugging face",
        ),
        ({"prompt": "p", "data_path": "a\x00b"}, "inputs.data_path", "bad_request", "nul"),
        ({"prompt": "p", "name": {"a": 1}}, "inputs.name", "invalid_input", "an object"),
        ({"prompt": "p", "colour": "red"}, "inputs.colour", "unknown_input", "no input of that name"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_field(given, field, code, words):
    with pytest.raises((Invalid, BadRequest)) as err:
        resolve_inputs(RECIPE, given)
    assert err.value.status == (400 if code == "bad_request" else 422)
    assert err.value.code == code
    assert err.value.details["field"] == field
    assert err.value.message.startswith(field + ":")
    assert words.lower() in err.value.message.lower(), err.value.message
