"""The recipe catalogue against a real HTTP server on 127.0.0.1: install, update and remove packs;
checksums, path escapes, code and links refused; an index that is not JSON; a catalogue that is
down while the installed recipes keep working; where packs may come from."""

from __future__ import annotations

import json
import os

import pytest
from tornado.httpclient import HTTPClientError

from cookbook_ext.errors import BadRequest, CookbookError, Forbidden, NotFound
from cookbook_ext.recipes import RecipeRegistry
from cookbook_ext.recipes.catalog import check_url
from tests.fakes.catalog_server import FakeCatalog
from tests.test_recipe_files import recipe_yaml

README = "# Writing pack\n\nRecipes for writing.\n"


@pytest.fixture
def catalog():
    with FakeCatalog() as server:
        yield server


def registry_for(tmp_path, catalog, **config) -> RecipeRegistry:
    return RecipeRegistry(data_dir=tmp_path / "data", catalog_urls=[catalog.url()], **config)


def publish_writing(catalog, version="1.0.0", title="Summary", **options):
    files = {"summary.yaml": recipe_yaml("summary", version, title=title), "README.md": README}
    return catalog.publish(
        "writing", version, {**files, **options.pop("files", {})}, recipes=["summary"], **options
    )


def packs_folder(tmp_path):
    return tmp_path / "data" / "recipes" / "packs"


def refused(fn, *args) -> CookbookError:
    with pytest.raises(CookbookError) as err:
        fn(*args)
    return err.value


def nothing_installed(tmp_path) -> bool:
    folder = packs_folder(tmp_path)
    return not folder.exists() or os.listdir(folder) == []


# -- install, update, remove ------------------------------------------------------------------------


def test_a_listed_pack_is_available_then_installed_with_its_version(tmp_path, catalog):
    publish_writing(catalog)
    registry = registry_for(tmp_path, catalog)
    state = registry.catalog.state()
    assert state["catalogs"] == [{"url": catalog.url(), "ok": True, "error": None, "packs": 1}]
    [pack] = state["packs"]
    assert (pack["id"], pack["state"], pack["available_version"], pack["installed_version"]) == (
        "writing",
        "available",
        "1.0.0",
        None,
    )

    change = registry.catalog.install("writing")
    assert change["changed"] and change["state"] == "installed" and change["installed_version"] == "1.0.0"
    manifest = json.loads((packs_folder(tmp_path) / "writing" / "pack.json").read_text())
    assert manifest["version"] == "1.0.0" and manifest["recipes"] == ["summary"]
    assert (packs_folder(tmp_path) / "writing" / "README.md").read_text() == README
    recipe = registry.get("summary")
    assert (recipe.origin.kind, recipe.origin.pack, recipe.version) == ("pack", "writing", "1.0.0")
    with pytest.raises(CookbookError) as err:
        registry.catalog.install("writing")
    assert err.value.status == 409


def test_publishing_a_new_version_shows_an_update_and_update_installs_it(tmp_path, catalog):
    publish_writing(catalog)
    registry = registry_for(tmp_path, catalog)
    registry.catalog.install("writing")
    publish_writing(catalog, "1.1.0", title="Summary, better")
    [pack] = registry.catalog.state()["packs"]
    assert (pack["state"], pack["installed_version"], pack["available_version"]) == (
        "update",
        "1.0.0",
        "1.1.0",
    )

    change = registry.catalog.update("writing")
    assert change["changed"] and change["installed_version"] == "1.1.0"
    assert registry.get("summary").spec.title == "Summary, better"
    assert registry.catalog.update("writing")["changed"] is False
    assert [n for n in os.listdir(packs_folder(tmp_path))] == ["writing"]  # no staging or old folder left


def test_a_new_pack_in_the_index_is_seen_on_the_next_read_without_a_release(tmp_path, catalog):
    publish_writing(catalog)
    registry = registry_for(tmp_path, catalog)
    assert [p["id"] for p in registry.catalog.state()["packs"]] == ["writing"]
    catalog.publish("vision", "0.1.0", {"ocr.yaml": recipe_yaml("ocr", "0.1.0")}, recipes=["ocr"])
    assert [p["id"] for p in registry.catalog.state()["packs"]] == ["writing", "vision"]


def test_remove_takes_the_packs_recipes_away(tmp_path, catalog):
    publish_writing(catalog)
    registry = registry_for(tmp_path, catalog)
    registry.catalog.install("writing")
    registry.catalog.remove("writing")
    assert nothing_installed(tmp_path)
    with pytest.raises(NotFound):
        registry.get("summary")
    assert refused(registry.catalog.remove, "writing").status == 404


# -- what is refused ---------------------------------------------------------------------------------


def test_a_checksum_mismatch_installs_nothing(tmp_path, catalog):
    publish_writing(catalog, sha256="0" * 64)
    registry = registry_for(tmp_path, catalog)
    error = refused(registry.catalog.install, "writing")
    assert (error.status, error.code) == (
        502,
        "checksum_mismatch",
    ) and "nothing was installed" in error.message
    assert nothing_installed(tmp_path)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"files": {"../escape.yaml": recipe_yaml("escape")}}, "leaves the pack"),
        ({"files": {"a/../../escape.md": "x"}}, "leaves the pack"),
        ({"files": {"/etc/cron.d/x.md": "x"}}, "leaves the pack"),
        ({"files": {"setup.py": "import os"}}, "never code"),
        ({"files": {"install.sh": "#!/bin/sh\nrm -rf ~"}}, "never code"),
        ({"files": {"notes.md": "x"}, "modes": {"notes.md": 0o755}}, "executable"),
        ({"links": {"evil.md": "/etc/passwd"}}, "symbolic link"),
        ({"files": {".hidden.yaml": recipe_yaml("hidden")}}, "hidden"),
        ({"files": {"pack.json": "{}"}}, "never code"),
        ({"files": {"other.yaml": recipe_yaml("other")}}, "holds"),
        ({"files": {"broken.yaml": "id: broken\n"}}, "broken.yaml"),
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "python",
        "shell",
        "exec-bit",
        "symlink",
        "hidden",
        "manifest",
        "unlisted-recipe",
        "invalid-recipe",
    ],
)
def test_an_unsafe_pack_is_refused_and_nothing_is_written(tmp_path, catalog, options, words):
    publish_writing(catalog, **options)
    registry = registry_for(tmp_path, catalog)
    error = refused(registry.catalog.install, "writing")
    assert (error.status, error.code) == (502, "unsafe_pack")
    assert words in error.message, error.message
    assert nothing_installed(tmp_path)
    assert not (tmp_path / "data" / "escape.yaml").exists() and not (tmp_path / "escape.yaml").exists()


def test_an_index_that_is_not_json_is_reported_and_installs_nothing(tmp_path, catalog):
    catalog.set_index(b"<html>not a catalogue</html>")
    registry = registry_for(tmp_path, catalog)
    [info] = registry.catalog.state()["catalogs"]
    assert info["ok"] is False and "not JSON" in info["error"]
    error = refused(registry.catalog.install, "writing")
    assert (error.status, error.code) == (502, "catalog_not_json")


def test_when_the_catalogue_is_down_the_installed_recipes_keep_working(tmp_path, catalog):
    publish_writing(catalog)
    registry = registry_for(tmp_path, catalog)
    registry.catalog.install("writing")
    catalog.stop()
    state = registry.catalog.state()
    assert state["catalogs"][0]["ok"] is False and "cannot be reached" in state["catalogs"][0]["error"]
    [pack] = state["packs"]
    assert (pack["state"], pack["installed_version"], pack["listed"]) == ("installed", "1.0.0", False)
    error = refused(registry.catalog.update, "writing")
    assert error.status == 502 and "keep working" in error.message
    assert registry.get("summary").version == "1.0.0"
    assert registry.prepare("summary", {"prompt": "p"}).instructions == "Summarise in 3 sentences: p"


def test_allowed_catalogs_restricts_where_indexes_and_packs_come_from(tmp_path, catalog):
    with FakeCatalog() as elsewhere:
        outside = elsewhere.publish(
            "writing", "1.0.0", {"summary.yaml": recipe_yaml("summary")}, recipes=["summary"]
        )
        catalog.publish(
            "writing",
            "1.0.0",
            {"summary.yaml": recipe_yaml("summary")},
            recipes=["summary"],
            url=elsewhere.url("/" + outside["url"]),
            sha256=outside["sha256"],
        )
        registry = registry_for(tmp_path, catalog, allowed_catalogs=[catalog.url("/")])
        error = refused(registry.catalog.install, "writing")
        assert (error.status, error.code) == (403, "catalog_not_allowed")
        assert elsewhere.requests == []  # refused before it was asked

        only_elsewhere = registry_for(tmp_path, catalog, allowed_catalogs=[elsewhere.url("/")])
        [info] = only_elsewhere.catalog.state()["catalogs"]
        assert info["ok"] is False and "allowed" in info["error"]
        assert nothing_installed(tmp_path)


def test_a_redirect_is_checked_like_the_url_it_came_from(tmp_path, catalog):
    catalog.redirects["/index.json"] = "http://169.254.169.254/latest/meta-data"
    registry = registry_for(tmp_path, catalog, allowed_catalogs=[catalog.url("/")])
    [info] = registry.catalog.state()["catalogs"]
    assert info["ok"] is False and "allowed" in info["error"]


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///etc/passwd", BadRequest),
        ("ftp://example.org/index.json", BadRequest),
        ("https://user:secret@example.org/index.json", BadRequest),
        ("https:///index.json", BadRequest),
        ("https://example.org/a b", BadRequest),
        ("https://evil.example/index.json", Forbidden),
        ("https://hub.example.org.evil.example/cookbook/index.json", Forbidden),
        ("https://hub.example.org/cookbookx/index.json", Forbidden),
    ],
)
def test_only_http_urls_without_credentials_under_an_allowed_prefix_are_fetched(url, error):
    with pytest.raises(error):
        check_url(url, allowed=["https://hub.example.org/cookbook/"], what="catalogue index")
    assert check_url(
        "https://hub.example.org/cookbook/packs/a.zip",
        allowed=["https://hub.example.org/cookbook/"],
        what="pack",
    )


# -- over REST ---------------------------------------------------------------------------------------


@pytest.fixture
def served_catalog(catalog, cookbook_config):
    cookbook_config["catalog_urls"] = [catalog.url()]  # the deprecated c.CookbookApp spelling
    return catalog


async def _json(jp_fetch, *parts, **kw):
    resp = await jp_fetch("cookbook", *parts, **kw)
    return resp.code, (json.loads(resp.body) if resp.body else None)


async def test_the_catalogue_over_rest_installs_updates_and_removes(served_catalog, jp_fetch):
    publish_writing(served_catalog)
    code, state = await _json(jp_fetch, "catalog")
    assert code == 200 and [p["state"] for p in state["packs"]] == ["available"]
    code, change = await _json(jp_fetch, "catalog", "writing", "install", method="POST", body="")
    assert code == 201 and change["installed_version"] == "1.0.0" and change["changed"] is True
    _, recipes = await _json(jp_fetch, "recipes")  # no restart: the panel's next refresh has it
    [summary] = [r for r in recipes["recipes"] if r["id"] == "summary"]
    assert (summary["source"], summary["pack"]) == ("pack", "writing")

    publish_writing(served_catalog, "1.1.0")
    code, change = await _json(jp_fetch, "catalog", "writing", "update", method="POST", body="")
    assert code == 200 and change["installed_version"] == "1.1.0"
    code, _ = await _json(jp_fetch, "catalog", "writing", method="DELETE")
    assert code == 204
    _, recipes = await _json(jp_fetch, "recipes")
    assert "summary" not in [r["id"] for r in recipes["recipes"]]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", ["catalog", "nope", "install"], 404, "pack_not_found"),
        ("POST", ["catalog", "writing", "update"], 409, "pack_not_installed"),
        ("DELETE", ["catalog", "writing"], 404, "pack_not_installed"),
        ("POST", ["catalog", "Bad%20Name", "install"], 400, "bad_pack_id"),
    ],
)
async def test_catalogue_requests_that_cannot_be_done_are_clear_errors(
    served_catalog, jp_fetch, method, path, status, code
):
    publish_writing(served_catalog)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", *path, method=method, **({"body": ""} if method == "POST" else {}))
    body = json.loads(err.value.response.body)
    assert (err.value.code, body["code"]) == (status, code) and body["message"]
