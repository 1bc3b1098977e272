"""Recipe files: the format, the shipped JSON Schema, where recipes come from and which one wins,
reloading on change, and broken files reported with their line while the others keep working."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from cookbook_ext.errors import Conflict, Invalid, NotFound
from cookbook_ext.recipes import RecipeRegistry, list_recipes
from cookbook_ext.recipes.format import SCHEMA_PATH, schema_text

BUILTINS = ["quickstart", "deep_dive", "ab_arena", "use_my_data"]


def recipe_yaml(
    id: str = "summary", version: str = "1.0.0", *, title: str = "Summary", inputs: str = "", body: str = ""
) -> str:
    inputs = (
        inputs
        or """
      prompt:
        type: text
        required: true
      sentences:
        type: number
        min: 1
        max: 10
        default: 3
    """
    )
    body = body or "Summarise in {{ sentences }} sentences: {{ prompt }}"
    return (
        f"id: {id}\nversion: {version}\ntitle: {title}\ndescription: d\n"
        f"inputs:\n{textwrap.indent(textwrap.dedent(inputs).strip(), '  ')}\n"
        f"instructions: |\n{textwrap.indent(body, '  ')}\n"
    )


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def touch_later(path: Path) -> None:
    """Move the file's mtime on, so a rewrite within the clock's resolution is still seen."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


@pytest.fixture
def registry(tmp_path) -> RecipeRegistry:
    return RecipeRegistry(data_dir=tmp_path / "data", recipe_paths=[str(tmp_path / "admin")])


def user(tmp_path: Path) -> Path:
    return tmp_path / "data" / "recipes"


# -- the format -------------------------------------------------------------------------------------


def test_the_shipped_json_schema_is_the_pydantic_models_schema():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "recipe.schema.json is out of date: run python -m cookbook_ext.recipes.format"
    )


def test_every_builtin_recipe_file_follows_the_shipped_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    folder = SCHEMA_PATH.parent / "builtin"
    files = sorted(folder.glob("*.yaml"))
    assert len(files) == 4
    for path in files:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_the_schema_refuses_what_the_loader_refuses(registry, tmp_path):
    schema = json.loads(SCHEMA_PATH.read_text())
    bad = yaml.safe_load(recipe_yaml(inputs="Bad-Name:\n  type: text"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    write(user(tmp_path), "bad.yaml", recipe_yaml(inputs="Bad-Name:\n  type: text"))
    assert [e["file"] for e in registry.list()["errors"]] == [str(user(tmp_path) / "bad.yaml")]


def test_the_four_builtin_recipes_are_listed_in_order_with_versions():
    recipes = list_recipes()
    assert [r["id"] for r in recipes] == BUILTINS
    for recipe in recipes:
        assert recipe["version"] == "1.0.0" and recipe["source"] == "builtin"
        assert recipe["versions"] == ["1.0.0"]


# -- where recipes come from ----------------------------------------------------------------------


def test_a_user_recipe_is_served_beside_the_builtins(registry, tmp_path):
    write(user(tmp_path), "summary.yaml", recipe_yaml())
    listing = registry.list()
    assert [r["id"] for r in listing["recipes"]] == [*BUILTINS, "summary"]
    summary = listing["recipes"][-1]
    assert summary["source"] == "user" and summary["file"] == "summary.yaml"
    assert [i["name"] for i in summary["inputs"]] == ["prompt", "sentences"]
    assert summary["inputs"][1] == {
        "name": "sentences",
        "type": "number",
        "required": False,
        "default": 3,
        "min": 1,
        "max": 10,
    }
    assert listing["errors"] == []


def test_a_later_folder_overrides_an_earlier_one_by_id(registry, tmp_path):
    write(user(tmp_path), "q.yaml", recipe_yaml("quickstart", "0.5.0", title="Mine"))
    assert registry.get("quickstart").spec.title == "Mine"
    write(tmp_path / "admin", "q.yaml", recipe_yaml("quickstart", "0.1.0", title="The admin's"))
    active = registry.get("quickstart")
    assert (active.spec.title, active.origin.kind) == ("The admin's", "admin")
    # Every version stays reachable by its number while a folder has it.
    assert registry.get("quickstart", "1.0.0").origin.kind == "builtin"
    assert registry.get("quickstart", "0.5.0").origin.kind == "user"
    [listed] = [r for r in registry.list()["recipes"] if r["id"] == "quickstart"]
    assert listed["versions"] == ["1.0.0", "0.5.0", "0.1.0"] and listed["version"] == "0.1.0"


def test_a_version_that_is_gone_is_a_conflict_naming_the_versions_there_are(registry, tmp_path):
    path = write(user(tmp_path), "summary.yaml", recipe_yaml(version="1.0.0"))
    registry.get("summary", "1.0.0")
    path.write_text(recipe_yaml(version="1.1.0"))
    touch_later(path)
    with pytest.raises(Conflict) as err:
        registry.get("summary", "1.0.0")
    assert err.value.code == "recipe_version_unavailable"
    assert err.value.details["available"] == ["1.1.0"] and "1.1.0" in err.value.message


def test_an_unknown_recipe_is_not_found_and_names_the_known_ones(registry):
    with pytest.raises(NotFound, match="quickstart") as err:
        registry.get("nope")
    assert err.value.code == "unknown_template"


# -- reloading ----------------------------------------------------------------------------------------


def test_files_are_reloaded_when_they_change_without_a_restart(registry, tmp_path):
    path = write(user(tmp_path), "summary.yaml", recipe_yaml(title="First"))
    assert registry.get("summary").spec.title == "First"
    path.write_text(recipe_yaml(title="Second"))
    touch_later(path)
    assert registry.get("summary").spec.title == "Second"
    path.unlink()
    with pytest.raises(NotFound):
        registry.get("summary")


def test_an_unchanged_folder_is_not_read_again(registry, tmp_path, monkeypatch):
    write(user(tmp_path), "summary.yaml", recipe_yaml())
    first = registry.snapshot()
    import cookbook_ext.recipes.registry as module

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged file was read again")

    monkeypatch.setattr(module, "load_recipe_file", refuse)
    assert registry.snapshot() is first


# -- broken files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("id: x\nversion: 1.0.0\ntitle: [unclosed\n", 4, "Not valid YAML"),
        (recipe_yaml(version="1.0"), 2, "version"),
        (recipe_yaml().replace("title: Summary", "title: Summary\ncolour: red"), 4, "colour"),
        (recipe_yaml(inputs="n:\n  type: number\n  min: 5\n  max: 1"), 6, "min"),
        (recipe_yaml(inputs="c:\n  type: choice"), 6, "choices"),
        (recipe_yaml(inputs="n:\n  type: number\n  default: lots"), 6, "number"),
        (recipe_yaml(inputs="complexity:\n  type: choice\n  choices: [expert]"), 1, "complexity"),
        (recipe_yaml(body="line one\n{% for x in %}\n"), 16, "syntax"),
        (recipe_yaml(body="Use {{ colour }}"), 15, "colour"),
        ("a: &x [1]\nb: *x\n", 2, "aliases"),
        ("id: x\nid: y\n", 2, "twice"),
        ("- just\n- a list\n", 1, "mapping"),
        ("", 1, "empty"),
    ],
    ids=[
        "yaml",
        "semver",
        "unknown-key",
        "min-max",
        "choices",
        "default-type",
        "complexity",
        "jinja-syntax",
        "undeclared-name",
        "alias",
        "duplicate-key",
        "not-a-mapping",
        "empty",
    ],
)
def test_a_broken_file_is_reported_with_its_line_and_the_others_keep_working(
    registry, tmp_path, text, line, message
):
    write(user(tmp_path), "good.yaml", recipe_yaml("good"))
    bad = write(user(tmp_path), "bad.yaml", text)
    listing = registry.list()
    assert [r["id"] for r in listing["recipes"]][-1] == "good"
    [error] = listing["errors"]
    assert error["file"] == str(bad)
    assert error["line"] == line, error
    assert message.lower() in error["message"].lower(), error


def test_a_ten_megabyte_file_is_refused_unread(registry, tmp_path):
    big = write(user(tmp_path), "big.yaml", recipe_yaml("big") + "# " + "x" * (10 * 1024 * 1024) + "\n")
    [error] = registry.list()["errors"]
    assert error["file"] == str(big) and "10.0 MB" in error["message"] and "256 kB" in error["message"]
    with pytest.raises(Invalid) as err:
        registry.get("big")  # the id the file would have had: its error, not "unknown"
    assert err.value.code == "recipe_broken" and "10.0 MB" in err.value.message


def test_the_same_id_and_version_twice_in_one_folder_is_reported(registry, tmp_path):
    write(user(tmp_path), "a.yaml", recipe_yaml())
    write(user(tmp_path), "b.yaml", recipe_yaml())
    [error] = registry.list()["errors"]
    assert error["file"].endswith("b.yaml") and "a.yaml" in error["message"]
    assert registry.get("summary").path.name == "a.yaml"


def test_a_default_that_is_not_a_model_id_is_a_file_error_not_a_crash(registry, tmp_path):
    write(user(tmp_path), "m.yaml", recipe_yaml(inputs="m:\n  type: hf_model\n  default: ../etc/passwd"))
    [error] = registry.list()["errors"]
    assert error["line"] == 6 and "Hugging Face model id" in error["message"]
