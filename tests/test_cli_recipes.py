"""`jupyter cookbook recipes ...` and `jupyter cookbook compare` as a user runs them, reading the
server's config files (an admin's catalogue, `c.CookbookApp.*` spellings too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.fakes.catalog_server import FakeCatalog
from tests.fakes.repos import make_local_repo
from tests.test_recipe_files import recipe_yaml

JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def run(args, tmp_path, *, config: str = "", timeout=240):
    config_dir = tmp_path / "config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "jupyter_server_config.py").write_text(config)
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "HF_HUB_OFFLINE": "1",
    }
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        env.pop(name, None)
    return subprocess.run(
        [JUPYTER, "cookbook", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
    )


def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "cookbook" / "recipes"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_recipes_list_shows_every_recipe_and_reports_broken_files(tmp_path):
    (user_folder(tmp_path) / "summary.yaml").write_text(recipe_yaml("summary", "1.2.0"))
    (user_folder(tmp_path) / "broken.yaml").write_text("id: broken\n")
    proc = run(["recipes", "list"], tmp_path)
    assert proc.returncode == 1, proc.stderr  # a broken file is worth a non-zero exit
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "quickstart",
        "deep_dive",
        "ab_arena",
        "use_my_data",
        "summary",
    ]
    assert "1.2.0" in lines[-1] and "user" in lines[-1]
    assert "broken.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_recipes_show_prints_inputs_and_instructions_and_json(tmp_path):
    proc = run(["recipes", "show", "ab_arena"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "input compare_with: string, optional" in proc.stdout and "Template: ab_arena" in proc.stdout
    shown = json.loads(run(["recipes", "show", "ab_arena", "--json"], tmp_path).stdout)
    assert shown["id"] == "ab_arena" and "{% if compare_with %}" in shown["instructions"]
    missing = run(["recipes", "show", "nope"], tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("error: Unknown template 'nope'")


def test_recipes_catalog_install_update_remove_from_the_admins_catalogue(tmp_path):
    with FakeCatalog() as catalog:
        catalog.publish("writing", "1.0.0", {"summary.yaml": recipe_yaml("summary")}, recipes=["summary"])
        config = f"c.CookbookApp.catalog_urls = [{catalog.url()!r}]\n"  # the server's own setting
        listed = run(["recipes", "catalog"], tmp_path, config=config)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split()[:2] == ["writing", "available"]

        installed = run(["recipes", "install", "writing"], tmp_path, config=config)
        assert installed.returncode == 0, installed.stderr
        assert installed.stdout.strip() == "writing: installed 1.0.0 (summary)"
        assert "pack writing" in run(["recipes", "list"], tmp_path).stdout

        catalog.publish(
            "writing", "1.1.0", {"summary.yaml": recipe_yaml("summary", "1.1.0")}, recipes=["summary"]
        )
        updated = run(["recipes", "update"], tmp_path, config=config)
        assert updated.returncode == 0, updated.stderr
        assert updated.stdout.strip() == "writing: updated to 1.1.0 (summary)"
        again = run(["recipes", "update", "writing"], tmp_path, config=config)
        assert again.stdout.strip() == "writing: up to date at 1.1.0 (summary)"

        catalog.stop()
        down = run(["recipes", "update"], tmp_path, config=config)
        assert down.returncode == 1 and "cannot be reached" in down.stderr and "keep working" in down.stderr
        assert "summary" in run(["recipes", "list"], tmp_path).stdout  # still installed, still served

    removed = run(["recipes", "remove", "writing"], tmp_path)
    assert removed.returncode == 0 and removed.stdout.strip() == "removed writing"
    gone = run(["recipes", "remove", "writing"], tmp_path)
    assert gone.returncode == 2 and "not installed" in gone.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["recipes"], "Name an action"),
        (["recipes", "frobnicate"], "Name an action"),
        (["recipes", "show"], "give one recipe id"),
        (["recipes", "install"], "give one pack id"),
        (["recipes", "install", "../x"], "not a pack id"),
    ],
)
def test_recipes_usage_errors_are_clear(tmp_path, args, words):
    proc = run(args, tmp_path)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


def test_compare_runs_each_provider_and_writes_each_notebook(tmp_path):
    make_local_repo(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    proc = run(
        [
            "compare",
            "tiny-model",
            "--prompt",
            "greet",
            "--run",
            "offline",
            "--run",
            "offline:second",
            "--trust",
            "--quiet",
            "--out-dir",
            str(out),
            "--json",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = json.loads(proc.stdout)
    assert [r["status"] for r in table["runs"]] == ["finished", "finished"]
    assert table["recipe"]["id"] == "quickstart" and table["recipe"]["version"] == "1.0.0"
    for run_ in table["runs"]:
        nb = nbformat.read(run_["notebook"], as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["cookbook"]["recipe"]["sha256"] == table["recipe"]["sha256"]
        assert run_["cells_count"] > 0 and run_["seconds_to_first_cell"] > 0


def test_compare_refuses_a_single_run_or_an_unknown_provider_before_starting(tmp_path):
    make_local_repo(tmp_path)
    one = run(["compare", "tiny-model", "--prompt", "p", "--run", "offline"], tmp_path)
    assert one.returncode == 2 and "at least 2" in one.stderr
    unknown = run(["compare", "tiny-model", "--prompt", "p", "--run", "offline", "--run", "skynet"], tmp_path)
    assert unknown.returncode == 2 and "runs[1] (skynet)" in unknown.stderr
    assert not list(tmp_path.glob("compare-*.ipynb"))
