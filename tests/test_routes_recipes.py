"""Recipes over REST: what GET cookbook/recipes serves (the user's and the admin's files too, broken
ones reported), a generation from a recipe's typed inputs, what it records of the recipe, and
running it again while its version is there and after it is gone."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from tests.test_recipe_files import recipe_yaml
from tests.test_routes_generations import _drain, _ingest, _json

SUMMARY = recipe_yaml("summary", "1.2.0")


@pytest.fixture
def user_recipes(tmp_path) -> Path:
    """The server's user recipe folder (<data_dir>/recipes; root conftest's data_dir)."""
    folder = tmp_path / "cookbook-data" / "recipes"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def admin_recipes(tmp_path, cookbook_config) -> Path:
    folder = tmp_path / "admin-recipes"
    folder.mkdir()
    cookbook_config["recipe_paths"] = [str(folder)]  # the deprecated c.CookbookApp spelling
    return folder


def _started(events: list[dict]) -> dict:
    return next(e["data"] for e in events if e["type"] == "started")


async def _post(jp_fetch, body):
    return await _json(jp_fetch, "generations", method="POST", body=json.dumps(body))


async def _refused(jp_fetch, body) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    return err.value.code, json.loads(err.value.response.body)


async def test_recipes_lists_the_builtins_the_users_and_the_admins_and_reports_broken_files(
    admin_recipes, user_recipes, jp_fetch
):
    (user_recipes / "summary.yaml").write_text(SUMMARY)
    (user_recipes / "broken.yaml").write_text("id: broken\nversion: 1\n")
    (admin_recipes / "quickstart.yaml").write_text(recipe_yaml("quickstart", "2.0.0", title="House style"))
    listing = await _json(jp_fetch, "recipes")
    by_id = {r["id"]: r for r in listing["recipes"]}
    assert set(by_id) == {"quickstart", "deep_dive", "ab_arena", "use_my_data", "summary"}
    assert by_id["summary"]["source"] == "user" and by_id["summary"]["version"] == "1.2.0"
    assert by_id["quickstart"]["source"] == "admin" and by_id["quickstart"]["title"] == "House style"
    assert by_id["quickstart"]["versions"] == ["2.0.0", "1.0.0"]
    [error] = listing["errors"]
    assert error["file"] == str(user_recipes / "broken.yaml") and error["line"] == 2
    assert "version" in error["message"]


async def test_a_generation_from_a_recipes_inputs_records_its_id_version_and_hash(
    jp_fetch, jp_root_dir, user_recipes
):
    (user_recipes / "summary.yaml").write_text(SUMMARY)
    repo = await _ingest(jp_fetch, jp_root_dir)
    started = await _post(
        jp_fetch,
        {
            "repo_id": repo["id"],
            "prompt": "greet",
            "template": "summary",
            "inputs": {"sentences": 4},
            "provider": "offline",
        },
    )
    events = await _drain(jp_fetch, started["id"])
    rendered = "Summarise in 4 sentences: greet"
    digest = hashlib.sha256(rendered.encode()).hexdigest()
    request = _started(events)["request"]
    assert request["instructions"] == rendered and request["inputs"] == {"sentences": 4}

    expected = {"id": "summary", "version": "1.2.0", "sha256": digest, "source": "user"}
    detail = await _json(jp_fetch, "generations", started["id"])
    assert detail["recipe"] == expected
    assert detail["request"]["template_version"] == "1.2.0"
    [listed] = (await _json(jp_fetch, "generations"))["generations"]
    assert listed["recipe"] == expected
    nb = nbformat.reads(
        (await jp_fetch("cookbook", "generations", started["id"], "notebook")).body.decode(), 4
    )
    recipe = nb.metadata["cookbook"]["recipe"]
    assert {k: recipe[k] for k in ("id", "version", "sha256")} == {
        k: expected[k] for k in ("id", "version", "sha256")
    }
    assert recipe["inputs"] == {"sentences": 4} and recipe["template"] == "summary"


async def test_running_again_uses_the_same_version_and_says_when_it_is_gone(
    jp_fetch, jp_root_dir, user_recipes
):
    path = user_recipes / "summary.yaml"
    path.write_text(SUMMARY)
    repo = await _ingest(jp_fetch, jp_root_dir)
    first = await _post(jp_fetch, {"repo_id": repo["id"], "prompt": "greet", "template": "summary"})
    await _drain(jp_fetch, first["id"])
    stored = (await _json(jp_fetch, "generations", first["id"]))["request"]
    assert stored["template_version"] == "1.2.0"

    again = await _post(jp_fetch, stored)  # "run again": the stored request as it is
    await _drain(jp_fetch, again["id"])
    assert (await _json(jp_fetch, "generations", again["id"]))["recipe"]["version"] == "1.2.0"

    path.write_text(recipe_yaml("summary", "2.0.0"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    before = await _json(jp_fetch, "generations")
    code, body = await _refused(jp_fetch, stored)
    assert code == 409 and body["code"] == "recipe_version_unavailable"
    assert "1.2.0" in body["message"] and "2.0.0" in body["message"]
    assert body["details"]["available"] == ["2.0.0"]
    assert await _json(jp_fetch, "generations") == before


@pytest.mark.parametrize(
    ("extra", "status", "field"),
    [
        ({"inputs": {"sentences": "three"}}, 422, "inputs.sentences"),
        ({"inputs": {"sentences": 99}}, 422, "inputs.sentences"),
        ({"inputs": {"colour": "red"}}, 422, "inputs.colour"),
        ({"inputs": {"prompt": "something else"}}, 422, "inputs.prompt"),
        ({"template_version": "9.9.9"}, 409, None),
        ({"template_version": "one"}, 422, None),
        ({"template": "no-such-recipe"}, 404, None),
    ],
)
async def test_bad_recipe_inputs_are_refused_and_nothing_is_stored(
    jp_fetch, jp_root_dir, user_recipes, extra, status, field
):
    (user_recipes / "summary.yaml").write_text(SUMMARY)
    repo = await _ingest(jp_fetch, jp_root_dir)
    code, body = await _refused(
        jp_fetch, {"repo_id": repo["id"], "prompt": "p", "template": "summary", **extra}
    )
    assert code == status, body
    assert body["message"]
    if field:
        assert body["details"]["field"] == field and body["message"].startswith(field)
    assert (await _json(jp_fetch, "generations"))["generations"] == []


async def test_ab_arena_takes_its_second_model_from_the_typed_compare_with_input(jp_fetch, jp_root_dir):
    repo = await _ingest(jp_fetch, jp_root_dir)
    started = await _post(
        jp_fetch,
        {
            "repo_id": repo["id"],
            "prompt": "compare",
            "template": "ab_arena",
            "inputs": {"compare_with": "acme/other"},
            "provider": "offline",
        },
    )
    events = await _drain(jp_fetch, started["id"])
    request = _started(events)["request"]
    assert request["compare_with"] == "acme/other"  # the offline provider's arena reads it here
    assert "Contender B is acme/other" in request["instructions"]
    assert request["offline"]["arena"] is True
    stored = (await _json(jp_fetch, "generations", started["id"]))["request"]
    assert stored["inputs"] == {"compare_with": "acme/other"}


async def test_the_builtins_top_level_fields_still_work(jp_fetch, jp_root_dir):
    repo = await _ingest(jp_fetch, jp_root_dir)
    started = await _post(
        jp_fetch,
        {
            "repo_id": repo["id"],
            "prompt": "compare",
            "template": "ab_arena",
            "compare_with": "acme/other",
            "complexity": "intermediate",
            "provider": "offline",
        },
    )
    events = await _drain(jp_fetch, started["id"])
    request = _started(events)["request"]
    assert request["complexity"] == "intermediate" and "Contender B is acme/other" in request["instructions"]
    assert (await _json(jp_fetch, "generations", started["id"]))["recipe"]["id"] == "ab_arena"


MISBEHAVING = {
    "sneaky": ('instructions: "{{ prompt.__class__.__mro__ }}"', "template_forbidden", "unsafe"),
    "forever": (
        'instructions: "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"',
        "template_timeout",
        "longer than",
    ),
}


@pytest.mark.parametrize("name", ["sneaky", "forever", "big"])
async def test_a_recipe_that_misbehaves_is_a_clear_422_naming_its_file(
    jp_fetch, jp_serverapp, jp_root_dir, user_recipes, name
):
    jp_serverapp.web_app.settings["cookbook_recipes"].render_timeout = 0.3
    if name == "big":
        with open(user_recipes / "big.yaml", "wb") as f:
            f.truncate(10 * 1024 * 1024)
        code, words = "recipe_broken", "10.0 MB"
    else:
        line, code, words = MISBEHAVING[name]
        head = f"id: {name}\nversion: 1.0.0\ntitle: T\ninputs:\n  prompt: {{type: text, required: true}}\n"
        (user_recipes / f"{name}.yaml").write_text(head + line + "\n")
    repo = await _ingest(jp_fetch, jp_root_dir)
    status, body = await _refused(jp_fetch, {"repo_id": repo["id"], "prompt": "p", "template": name})
    assert (status, body["code"]) == (422, code)
    assert words in body["message"] and str(user_recipes / f"{name}.yaml") in body["message"]
    if name != "big":
        assert body["details"]["line"] == 6
