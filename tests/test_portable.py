"""Portable notebooks: where a notebook finds its repository, the setup cell that gets it there
(run for real, against a real git repository), and model-card snippets pinned to a revision."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cookbook_ext.portable import (
    RepoLocation,
    locate_repo,
    notebook_folder,
    pin_revision,
    relative_to_notebook,
    setup_code,
    unpin_revision,
)
from tests.fakes.git_server import git

SHA = "0123456789abcdef0123456789abcdef01234567"


# -- locations -------------------------------------------------------------------------------------


def test_a_local_folder_is_relative_to_the_notebooks_folder(tmp_path: Path) -> None:
    (tmp_path / "repos" / "st").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    repo = {"kind": "local", "checkout": str(tmp_path / "repos" / "st")}

    at_root = locate_repo(repo, root_dir=tmp_path, notebook_path=None, github_url="https://github.com")
    in_work = locate_repo(repo, root_dir=tmp_path, notebook_path="work/nb.ipynb", github_url="x")

    assert at_root == RepoLocation(path="repos/st")
    assert in_work == RepoLocation(path="../repos/st")


def test_a_notebook_path_leaving_the_root_counts_as_the_root(tmp_path: Path) -> None:
    assert notebook_folder(tmp_path, "../../etc/nb.ipynb") == tmp_path.resolve()
    assert notebook_folder(tmp_path, "/nb.ipynb") == tmp_path.resolve()
    assert relative_to_notebook(tmp_path / "data.csv", root_dir=tmp_path, notebook_path="a/b/nb.ipynb") == (
        "../../data.csv"
    )


def test_a_github_repository_is_cloned_beside_the_notebook(tmp_path: Path) -> None:
    clone = tmp_path / "cache" / "clones" / "f00d"
    (clone / ".git").mkdir(parents=True)
    (clone / "examples").mkdir()
    repo = {"kind": "github", "owner": "acme", "repo": "demo", "commit": SHA, "checkout": str(clone)}
    sub = dict(repo, checkout=str(clone / "examples"))

    whole = locate_repo(repo, root_dir=tmp_path, notebook_path="w/nb.ipynb", github_url="https://gh.test/")
    folder = locate_repo(sub, root_dir=tmp_path, notebook_path=None, github_url="https://gh.test")

    assert whole == RepoLocation(
        path="demo-0123456", clone_url="https://gh.test/acme/demo.git", commit=SHA, clone_dir="demo-0123456"
    )
    assert folder is not None and folder.path == "demo-0123456/examples"


def test_a_github_record_without_a_full_commit_has_no_location(tmp_path: Path) -> None:
    repo = {"kind": "github", "owner": "acme", "repo": "demo", "commit": "abc", "checkout": str(tmp_path)}
    assert locate_repo(repo, root_dir=tmp_path, notebook_path=None, github_url="https://gh.test") is None


# -- the setup cell, run ------------------------------------------------------------------------------


def _run_cell(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The cell as a kernel runs it, in `cwd` (the notebook's folder), in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[str, str]:
    """A repository on a 'server' (a bare repository reached over file://): (URL, commit)."""
    work = tmp_path / "upstream"
    (work / "examples").mkdir(parents=True)
    (work / "tinylib.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    (work / "examples" / "data.txt").write_text("sample\n")
    git("init", "-q", "-b", "main", str(work))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "one", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work).strip()
    (work / "tinylib.py").write_text("def greet(name):\n    return 'changed later'\n")
    git("commit", "-qam", "two", cwd=work)
    git("clone", "-q", "--bare", str(work), str(tmp_path / "served.git"))
    return f"file://{tmp_path / 'served.git'}", first


def test_the_setup_cell_clones_the_pinned_commit_once_and_works_from_it(
    tmp_path: Path, upstream: tuple[str, str]
) -> None:
    url, commit = upstream
    location = RepoLocation(path="demo-x/examples", clone_url=url, commit=commit, clone_dir="demo-x")
    notebook = tmp_path / "elsewhere" / "notebooks"
    notebook.mkdir(parents=True)
    code = (
        setup_code(location)
        + "from tinylib import greet\nprint(greet('you'), open('data.txt').read().strip())\n"
    )

    first = _run_cell(code.replace("globals().get", "{}.get"), notebook)
    again = _run_cell(code.replace("globals().get", "{}.get"), notebook)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["Working in demo-x/examples", "hello you sample"]
    head = git("-C", str(notebook / "demo-x"), "rev-parse", "HEAD").strip()
    assert head == commit  # the pinned commit, not the branch's newer one
    assert again.returncode == 0 and again.stdout == first.stdout
    assert sorted(os.listdir(notebook)) == ["demo-x"]  # no partial clone left behind


def test_a_failed_clone_says_why_and_the_next_run_tries_again(
    tmp_path: Path, upstream: tuple[str, str]
) -> None:
    url, commit = upstream
    served = Path(url.removeprefix("file://"))
    missing = served.with_name("not-yet.git")
    location = RepoLocation(path="demo-x", clone_url=f"file://{missing}", commit=commit, clone_dir="demo-x")
    cell = setup_code(location).replace("globals().get", "{}.get")

    failed = _run_cell(cell, tmp_path)
    shutil.copytree(served, missing)  # the server is back
    retried = _run_cell(cell, tmp_path)

    assert failed.returncode != 0
    assert "RuntimeError: git -C " in failed.stderr and "fetch failed:" in failed.stderr
    assert retried.returncode == 0, retried.stderr
    assert git("-C", str(tmp_path / "demo-x"), "rev-parse", "HEAD").strip() == commit


def test_a_server_that_serves_only_branches_still_gives_the_pinned_commit(
    tmp_path: Path, upstream: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, commit = upstream  # an older commit than the branch's tip
    served = Path(url.removeprefix("file://"))
    git("-C", str(served), "config", "uploadpack.allowReachableSHA1InWant", "false")
    git("-C", str(served), "config", "uploadpack.allowAnySHA1InWant", "false")
    # Protocol v0, where such a server refuses a commit that is not a branch's tip.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "protocol.version")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "0")
    probe = tmp_path / "probe"
    git("init", "-q", str(probe))
    refused = subprocess.run(
        ["git", "fetch", "-q", "--depth", "1", url, commit],
        cwd=probe,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "does not allow request for unadvertised object" in refused.stderr  # what the fallback is for
    location = RepoLocation(path="demo-x", clone_url=url, commit=commit, clone_dir="demo-x")

    done = _run_cell(setup_code(location).replace("globals().get", "{}.get"), tmp_path)

    assert done.returncode == 0, done.stderr
    assert git("-C", str(tmp_path / "demo-x"), "rev-parse", "HEAD").strip() == commit


def test_the_local_setup_cell_finds_the_repository_relative_to_the_notebook(tmp_path: Path) -> None:
    (tmp_path / "repos" / "st").mkdir(parents=True)
    (tmp_path / "repos" / "st" / "mod.py").write_text("X = 42\n")
    (tmp_path / "work").mkdir()
    code = setup_code(RepoLocation(path="../repos/st")).replace("globals().get", "{}.get")

    found = _run_cell(code + "import mod\nprint(mod.X)\n", tmp_path / "work")
    missing = _run_cell(code, tmp_path)

    assert found.stdout.splitlines() == ["Working in ../repos/st", "42"]
    assert "FileNotFoundError: The repository is not at ../repos/st (relative to this notebook)" in (
        missing.stderr
    )


def test_the_setup_cell_holds_no_absolute_path() -> None:
    location = RepoLocation(
        path="st-0123456", clone_url="https://x/a/st.git", commit=SHA, clone_dir="st-0123456"
    )
    for code in (setup_code(location), setup_code(RepoLocation(path="../st"))):
        literals = [n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant)]
        assert [v for v in literals if isinstance(v, str) and v.startswith(("/", "~"))] == []


# -- model revisions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "pinned"),
    [
        (
            'model = SentenceTransformer("acme/m")',
            f'model = SentenceTransformer("acme/m", revision="{SHA}")',
        ),
        (
            'p = pipeline("summarization", model="acme/m")',
            f'p = pipeline("summarization", model="acme/m", revision="{SHA}")',
        ),
        (
            'm = AutoModel.from_pretrained(\n    "acme/m",  # the model\n    torch_dtype="auto",\n)',
            'm = AutoModel.from_pretrained(\n    "acme/m",  # the model\n'
            f'    torch_dtype="auto", revision="{SHA}",\n)',
        ),
        (
            'path = hf_hub_download(repo_id="acme/m", filename="config.json")',
            f'path = hf_hub_download(repo_id="acme/m", filename="config.json", revision="{SHA}")',
        ),
        ('t = AutoTokenizer.from_pretrained("acme/m", revision="v2")', None),  # already pinned
        ('t = AutoTokenizer.from_pretrained("other/m")', None),  # another model
        ("t = AutoTokenizer.from_pretrained(name, **options)", None),
        ('print("acme/m")', None),  # not a loading call
        (
            'x = f("é", SentenceTransformer("acme/m"))',
            f'x = f("é", SentenceTransformer("acme/m", revision="{SHA}"))',
        ),
    ],
)
def test_card_snippets_are_pinned_where_the_library_takes_a_revision(code: str, pinned: str | None) -> None:
    assert pin_revision(code, "acme/m", SHA) == (pinned or code)


def test_pinning_needs_a_full_commit_and_code_that_parses() -> None:
    code = 'm = SentenceTransformer("acme/m")'
    assert pin_revision(code, "acme/m", "main") == code
    assert pin_revision(code, "acme/m", None) == code
    assert pin_revision("m = SentenceTransformer('acme/m'", "acme/m", SHA).endswith("'acme/m'")


def test_unpin_takes_back_exactly_what_pin_added() -> None:
    code = 'm = SentenceTransformer("acme/m")\nn = CrossEncoder("acme/m")'
    assert unpin_revision(pin_revision(code, "acme/m", SHA), SHA) == code


# -- what a model-backed provider is told ----------------------------------------------------------


def test_the_model_is_told_where_the_repository_is_relative_to_the_notebook(tmp_path: Path) -> None:
    from cookbook_ext.agent.prompt import build_opening_message
    from cookbook_ext.agent.types import GenerationRequest

    location = RepoLocation(
        path="st-0123456", clone_url="https://x/a/st.git", commit=SHA, clone_dir="st-0123456"
    )
    repo = {
        "name": "st",
        "checkout": str(tmp_path / "cache" / "clones" / "k"),
        "location": location.to_dict(),
    }
    request = GenerationRequest(prompt="semantic search", data_path="../data/notes.csv")

    message = build_opening_message(request, repo, None)
    texts = [block["text"] for block in message["content"]]

    assert all(str(tmp_path) not in text for text in texts)
    request_text = texts[-1]
    assert "The repository is in `st-0123456` relative to the notebook's folder" in request_text
    assert "run unchanged on another machine" in request_text
    assert setup_code(location) in request_text
    assert "DATA_PATH (relative to the notebook's folder, NOTEBOOK_DIR): ../data/notes.csv" in request_text
    # The setup cell is Cookbook's own text: outside the repository's untrusted block.
    untrusted = [t for t in texts if t.startswith("<untrusted_data")]
    assert untrusted and all("REPO_COMMIT" not in t for t in untrusted)
