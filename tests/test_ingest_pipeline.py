"""ingest() end to end: local folders, GitHub repositories over git HTTP with API metadata, hostile input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cookbook_ext.errors import AuthRequired, TooLarge, Upstream
from cookbook_ext.ingest import IngestOptions, IngestResult, ingest, list_repo_files, read_repo_file
from tests.fakes.git_server import GitServer, git_server  # noqa: F401
from tests.fakes.github_api import DEFAULT_TOKEN, FakeGitHub
from tests.fakes.repos import make_repo_script

METADATA = {
    "description": "Tiny things",
    "topics": ["tiny"],
    "license": "MIT",
    "stars": 3,
    "default_branch": "main",
    "private": False,
}
LIVE_TOKEN = "hf_" + "L" * 34

RESULT_KEYS = set(
    """source kind url owner repo ref commit checkout name metadata files stats readmes examples notebooks
    dependencies license hf_ids context warnings""".split()
)

REPO_FILES: dict[str, str] = {
    "README.md": (
        "# Tiny\n\nA tiny model ([acme/tiny](https://huggingface.co/acme/tiny)).\n\n"
        "## Quick start\n\n```python\nfrom tiny import Model\nm = Model.from_pretrained('acme/tiny')\n```\n"
    ),
    "requirements.txt": "torch>=2.1\nnumpy\n",
    "pyproject.toml": '[project]\nname = "tiny"\nrequires-python = ">=3.10"\ndependencies = ["numpy"]\n',
    "LICENSE": "MIT License\n\nPermission is hereby granted, free of charge, to any person...\n",
    "examples/quickstart.py": (
        '"""Run the tiny model."""\nfrom tiny import Model\nprint(Model.from_pretrained("acme/tiny"))\n'
    ),
    "notebooks/intro.ipynb": json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "source": "import tiny",
                    "outputs": [{"output_type": "stream", "text": "x"}],
                }
            ]
        }
    ),
    "src/tiny/__init__.py": "VERSION = '1'\n",
    ".gitignore": "build/\n",
    "build/junk.py": "junk = True\n",
}


@pytest.fixture
def options(tmp_path: Path) -> IngestOptions:
    root = tmp_path / "root"
    root.mkdir()
    return IngestOptions(
        root_dir=root,
        cache_dir=tmp_path / "cache",
        clone_timeout=30,
        github_api_url="http://127.0.0.1:9",  # never the internet; tests that want metadata set a fake
    )


@pytest.fixture
def metadata_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the GitHub metadata module with a stub that records its calls."""
    calls: list[dict[str, Any]] = []

    def fetch_repo_metadata(
        owner: str, repo: str, *, token: str | None, api_url: str, timeout: float = 20
    ) -> dict:
        calls.append({"owner": owner, "repo": repo, "token": token, "api_url": api_url})
        return dict(METADATA)

    stub = types.ModuleType("cookbook_ext.ingest.github")
    stub.fetch_repo_metadata = fetch_repo_metadata  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cookbook_ext.ingest.github", stub)
    return calls


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def test_local_folder_is_ingested_completely(options: IngestOptions) -> None:
    write_tree(options.root_dir / "tiny", REPO_FILES)
    result = ingest("tiny", options=options)
    data = result.to_dict()
    assert RESULT_KEYS <= set(data)
    json.dumps(data)  # serialisable
    assert (data["kind"], data["name"], data["url"], data["commit"]) == ("local", "tiny", None, None)
    assert data["checkout"] == str((options.root_dir / "tiny").resolve())
    paths = {f["path"]: f["kind"] for f in data["files"]}
    assert paths["build/"] == "ignored" and "build/junk.py" not in paths
    assert data["readmes"][0]["path"] == "README.md"
    assert data["readmes"][0]["code_blocks"][0]["lang"] == "python"
    assert data["examples"][0]["kind"] == "readme"
    assert {e["path"] for e in data["examples"]} >= {"examples/quickstart.py", "notebooks/intro.ipynb"}
    assert data["notebooks"] == [
        {"path": "notebooks/intro.ipynb", "cells": [{"type": "code", "source": "import tiny"}]}
    ]
    assert data["dependencies"]["python"] == ">=3.10"
    assert {p["name"] for p in data["dependencies"]["packages"]} == {"torch", "numpy"}
    assert data["license"] == "MIT"
    assert data["hf_ids"][0]["id"] == "acme/tiny" and data["hf_ids"][0]["where"][0] == "README.md"
    assert data["context"]["total_tokens"] <= data["context"]["budget"] == 24000
    stats = data["stats"]
    assert set(stats) >= {"files", "bytes", "read", "skipped", "seconds"}
    assert stats["files"] == len(data["files"]) and stats["read"] <= stats["files"]
    assert data["metadata"] == {}


def test_budget_option_shapes_the_context_pack(options: IngestOptions) -> None:
    write_tree(options.root_dir / "tiny", REPO_FILES)
    options.budget_tokens = 400
    pack = ingest("tiny", options=options).context
    assert pack["budget"] == 400 and pack["total_tokens"] <= 400


def test_local_git_checkout_reports_its_commit(options: IngestOptions) -> None:
    repo = options.root_dir / "tiny"
    write_tree(repo, REPO_FILES)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "x"], check=True, env=env)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout
    assert ingest("tiny", options=options).commit == head.strip()


def test_github_repository_is_cloned_and_described(
    options: IngestOptions,
    git_server: GitServer,  # noqa: F811
    metadata_calls: list[dict[str, Any]],
) -> None:
    sha = git_server.create_repo("acme", "tiny", REPO_FILES)
    options.github_url = git_server.url
    result = ingest("https://github.com/acme/tiny", options=options)
    assert isinstance(result, IngestResult)
    data = result.to_dict()
    assert (data["kind"], data["owner"], data["repo"], data["ref"], data["commit"]) == (
        "github",
        "acme",
        "tiny",
        "main",
        sha,
    )
    assert data["url"] == "https://github.com/acme/tiny"
    assert data["metadata"] == METADATA
    assert metadata_calls == [
        {"owner": "acme", "repo": "tiny", "token": None, "api_url": "http://127.0.0.1:9"}
    ]
    assert "Tiny things" in data["context"]["markdown"]
    checkout = Path(data["checkout"])
    assert checkout.is_relative_to(options.cache_dir) and (checkout / "README.md").exists()
    # The checkout is what the agent's file tools read.
    assert "examples/quickstart.py" in list_repo_files(checkout)
    assert read_repo_file(checkout, "requirements.txt")["content"] == "torch>=2.1\nnumpy\n"


def test_second_ingest_comes_from_the_cache(
    options: IngestOptions,
    git_server: GitServer,  # noqa: F811
    metadata_calls: list[dict[str, Any]],
) -> None:
    git_server.create_repo("acme", "tiny", REPO_FILES)
    options.github_url = git_server.url
    first = ingest("https://github.com/acme/tiny", options=options)
    second = ingest("https://github.com/acme/tiny", options=options)
    assert (first.cached, second.cached) == (False, True)
    assert first.checkout == second.checkout


def test_metadata_comes_from_the_github_api_through_pygithub(
    options: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "tiny", REPO_FILES)
    git_server.require_token("acme", "tiny", DEFAULT_TOKEN)
    with FakeGitHub() as api:
        api.add_repo(
            "acme",
            "tiny",
            description="From the fake API",
            topics=["demo"],
            license="Apache-2.0",
            stars=42,
            private=True,
        )
        options.github_url = git_server.url
        options.github_api_url = api.url
        options.github_token = DEFAULT_TOKEN
        result = ingest("https://github.com/acme/tiny", options=options)
    assert result.metadata["description"] == "From the fake API"
    assert result.metadata["stars"] == 42 and result.metadata["private"] is True
    assert result.license == "Apache-2.0"  # GitHub's answer wins over the LICENSE wording
    assert result.warnings == []


def test_metadata_failure_is_only_a_warning(
    options: IngestOptions,
    git_server: GitServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(*args: Any, **kwargs: Any) -> dict:
        raise Upstream("GitHub's API rate limit is used up; try again later.")

    stub = types.ModuleType("cookbook_ext.ingest.github")
    stub.fetch_repo_metadata = failing  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cookbook_ext.ingest.github", stub)
    git_server.create_repo("acme", "tiny", REPO_FILES)
    options.github_url = git_server.url
    result = ingest("https://github.com/acme/tiny", options=options)
    assert result.metadata == {}
    assert any("rate limit" in w for w in result.warnings)


def test_private_repository_without_token_fails_cleanly(
    options: IngestOptions,
    git_server: GitServer,  # noqa: F811
    metadata_calls: list[dict[str, Any]],
) -> None:
    git_server.create_repo("acme", "secret", REPO_FILES)
    git_server.require_token("acme", "secret", DEFAULT_TOKEN)
    options.github_url = git_server.url
    with pytest.raises(AuthRequired, match="GITHUB_TOKEN"):
        ingest("https://github.com/acme/secret", options=options)
    assert not (options.cache_dir / "clones").exists() or os.listdir(options.cache_dir / "clones") == []


def test_local_folder_over_the_limits_is_too_large(options: IngestOptions) -> None:
    write_tree(options.root_dir / "tiny", REPO_FILES)
    options.max_files = 3
    with pytest.raises(TooLarge, match="The folder 'tiny' has more than 3 files"):
        ingest("tiny", options=options)


@pytest.fixture(scope="module")
def hostile_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-root")
    out = root / "hostile"
    subprocess.run(
        [
            sys.executable,
            str(make_repo_script()),
            str(out),
            "--hostile",
            "--files",
            "120",
            "--mb",
            "4",
            "--git",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def test_hostile_repository_is_survived(hostile_repo: Path, tmp_path: Path) -> None:
    options = IngestOptions(root_dir=hostile_repo.parent, cache_dir=tmp_path / "cache")
    marker = Path("/") / "etc" / "passwd"
    passwd_head = marker.read_text()[:30] if marker.exists() else "root:x:0:0"
    result = ingest("hostile", options=options)
    data = result.to_dict()
    blob = json.dumps(data)

    # the fake live tokens in config/settings.py never come out, in the pack or through file reads
    assert "Q" * 34 not in blob and "x" * 40 not in blob
    settings = read_repo_file(Path(data["checkout"]), "config/settings.py")
    assert settings["masked"] == 2 and "[REDACTED:huggingface]" in settings["content"]
    # the symlinks pointing outside are listed, not followed
    kinds = {f["path"]: f["kind"] for f in data["files"]}
    assert kinds["docs/passwd_link"] == "ignored" and kinds["docs/escape_dir"] == "ignored"
    assert passwd_head not in blob
    assert not any(p.startswith("docs/escape_dir/") for p in kinds)
    assert any("symbolic link" in w for w in data["warnings"])
    # the malformed notebook and pyproject are warnings; invalid UTF-8 and the long line are handled
    assert any("notebooks/broken.ipynb" in w for w in data["warnings"])
    assert any("examples/pyproject.toml" in w for w in data["warnings"])
    assert kinds["src/acme_models/minified.js"] == "too_large"
    assert "\ufffd" in read_repo_file(Path(data["checkout"]), "src/acme_models/latin1.py")["content"]
    # the injection paragraph stays out of the pack
    assert "ignore all previous instructions" not in data["context"]["markdown"].lower()
    assert data["context"]["total_tokens"] <= data["context"]["budget"]
    # setup.py files were parsed as data, never run (running examples/setup.py would rmtree "/")
    assert "examples/setup.py" in data["dependencies"]["files"]
    assert (hostile_repo / "examples" / "setup.py").exists() and (hostile_repo / "README.md").exists()
    assert data["dependencies"]["python"] == ">=3.9"
    assert data["hf_ids"][0]["id"] in ("acme-ai/tiny-llama-chat", "openlab/diffusion-xl-base")


def test_hostile_repository_cloned_over_git_is_survived(
    hostile_repo: Path,
    tmp_path: Path,
    git_server: GitServer,  # noqa: F811
    metadata_calls: list[dict[str, Any]],
) -> None:
    git_server.add_repo_from("acme", "hostile", hostile_repo)
    options = IngestOptions(root_dir=tmp_path, cache_dir=tmp_path / "cache", github_url=git_server.url)
    data = ingest("https://github.com/acme/hostile", options=options).to_dict()
    checkout = Path(data["checkout"])
    assert os.path.islink(checkout / "docs" / "passwd_link")
    with pytest.raises(Exception, match="outside the repository"):
        read_repo_file(checkout, "docs/passwd_link")
    assert "Q" * 34 not in json.dumps(data)
