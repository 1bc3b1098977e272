"""Generated notebooks hold no path of the server's machine and re-run somewhere else: a local
repository found relative to the notebook, a GitHub one cloned beside it at the pinned commit.

A real server, the offline provider, real kernels, a real git server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.fakes.fixtures_hub import local_network_only
from tests.fakes.git_server import GitServer, git_server  # noqa: F401
from tests.fakes.github_api import FakeGitHub
from tests.fakes.repos import EXAMPLE, README, TINYLIB, make_local_repo


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as github:
        github.add_repo("acme", "tiny-model")
        yield github


@pytest.fixture
def jp_server_config(jp_server_config, git_server: GitServer, fake_github: FakeGitHub):  # noqa: F811
    # GitHub is the fake git server (clones) and the fake REST API (metadata): never the internet.
    return {
        **jp_server_config,
        "RepositoryManager": {"github_url": git_server.url, "github_api_url": fake_github.url},
    }


async def _json(jp_fetch, *parts, **kw):
    resp = await jp_fetch("cookbook", *parts, **kw)
    return json.loads(resp.body)


async def _generate(jp_fetch, **body) -> tuple[str, list[dict], str, dict]:
    """Run an offline generation to its end: (id, events, the downloaded .ipynb, the engine's record)."""
    body = {"prompt": "greet someone", "provider": "offline", **body}
    gen_id = (await _json(jp_fetch, "generations", method="POST", body=json.dumps(body)))["id"]
    events: list[dict] = []
    after = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 240
    while loop.time() < deadline:
        page = await _json(jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 5})
        events += page["events"]
        after = events[-1]["seq"] if events else after
        if page["done"]:
            break
    else:
        raise AssertionError("the generation did not finish in time")
    assert events[-1]["type"] == "finished", events[-1]
    download = (await jp_fetch("cookbook", "generations", gen_id, "notebook")).body.decode()
    return gen_id, events, download, await _json(jp_fetch, "generations", gen_id)


def _server_paths(tmp_path: Path, jp_root_dir: Path) -> list[str]:
    """The server's own folders: the test's (the root, Cookbook's data dir and its clone cache
    are all in it), each as given and resolved."""
    data_dir = tmp_path / "cookbook-data"
    paths = {tmp_path, jp_root_dir, data_dir, data_dir / "cache" / "clones"}
    return sorted({str(p) for p in paths} | {str(p.resolve()) for p in paths})


def _assert_no_server_path(texts: list[str], forbidden: list[str]) -> None:
    for text in texts:
        for path in forbidden:
            assert path not in text, f"{path} is in the notebook:\n{text[:3000]}"


def _engine_output(events: list[dict], record: dict) -> list[str]:
    """What the engine handed out for the notebook: validated cells (events and record)."""
    cells = [e["data"]["cell"] for e in events if e["type"] == "cell_validated"] + record["cells"]
    return [json.dumps(cell) for cell in cells]


def _run_elsewhere(download: str, folder: Path) -> nbformat.NotebookNode:
    """The downloaded notebook run top to bottom in a fresh kernel, saved in `folder`."""
    nb = nbformat.reads(download, as_version=4)
    (folder / "cookbook.ipynb").write_text(download)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb


def _outputs(nb: nbformat.NotebookNode) -> str:
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


async def test_a_local_repository_is_found_relative_to_the_notebook(
    jp_fetch, jp_root_dir: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    make_local_repo(jp_root_dir)
    # The absolute path as the source: it must not reach the notebook's provenance either.
    body = {"source": str(jp_root_dir / "tiny-model"), "trust": True}
    repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps(body))

    _, events, download, record = await _generate(jp_fetch, repo_id=repo["id"])

    _assert_no_server_path([download, *_engine_output(events, record)], _server_paths(tmp_path, jp_root_dir))
    nb = nbformat.reads(download, as_version=4)
    setup = next(c.source for c in nb.cells if "REPO_DIR = " in c.source)
    assert 'REPO_DIR = (NOTEBOOK_DIR / "tiny-model").resolve()' in setup
    assert nb.metadata["cookbook"]["repo"]["source"] == "tiny-model"
    [verified] = [e["data"] for e in events if e["type"] == "verified"]
    assert verified["status"] == "passed"  # the fresh-kernel check ran it from the notebook's folder

    # Another machine: the notebook and the repository side by side, anywhere.
    elsewhere = tmp_path_factory.mktemp("another-machine")
    shutil.copytree(jp_root_dir / "tiny-model", elsewhere / "tiny-model")
    ran = _run_elsewhere(download, elsewhere)
    assert "Working in tiny-model" in _outputs(ran) and "hello cookbook" in _outputs(ran)


async def test_a_notebook_in_a_subfolder_reaches_the_repository_and_data_relatively(
    jp_fetch, jp_root_dir: Path, tmp_path: Path
) -> None:
    make_local_repo(jp_root_dir)
    (jp_root_dir / "data").mkdir()
    (jp_root_dir / "data" / "notes.csv").write_text("text,label\nhello,1\nbye,0\n")
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "nb.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    repo = await _json(
        jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model", "trust": True})
    )

    _, events, download, record = await _generate(
        jp_fetch,
        repo_id=repo["id"],
        template="use_my_data",
        data_path="data/notes.csv",
        notebook_path="work/nb.ipynb",
    )

    _assert_no_server_path([download, *_engine_output(events, record)], _server_paths(tmp_path, jp_root_dir))
    sources = "\n".join(c.source for c in nbformat.reads(download, as_version=4).cells)
    assert 'REPO_DIR = (NOTEBOOK_DIR / "../tiny-model").resolve()' in sources
    assert "DATA_PATH = NOTEBOOK_DIR / '../data/notes.csv'" in sources
    outputs = "\n".join(json.dumps(c.get("outputs", [])) for c in record["cells"])
    assert "Working in ../tiny-model" in outputs and "3 rows; header: ['text', 'label']" in outputs
    [verified] = [e["data"] for e in events if e["type"] == "verified"]
    assert verified["status"] == "passed"


async def test_a_github_repository_is_cloned_beside_the_notebook_at_its_commit(
    jp_fetch,
    jp_root_dir: Path,
    tmp_path: Path,
    git_server: GitServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    files = {"README.md": README, "tinylib.py": TINYLIB, "examples/summarise.py": EXAMPLE}
    commit = git_server.create_repo("acme", "tiny-model", {**files, "requirements.txt": "jsonschema>=4\n"})
    with local_network_only() as attempts:
        body = {"source": "https://github.com/acme/tiny-model", "trust": True}
        repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps(body))
        _, events, download, record = await _generate(jp_fetch, repo_id=repo["id"])
    assert not attempts

    _assert_no_server_path([download, *_engine_output(events, record)], _server_paths(tmp_path, jp_root_dir))
    nb = nbformat.reads(download, as_version=4)
    setup = next(c.source for c in nb.cells if "REPO_COMMIT = " in c.source)
    assert f'REPO_URL = "{git_server.url}/acme/tiny-model.git"' in setup
    assert f'REPO_COMMIT = "{commit}"' in setup
    assert f'CLONE_DIR = NOTEBOOK_DIR / "tiny-model-{commit[:7]}"' in setup
    # The generation's kernel started in the notebook's folder (the root) and cloned there.
    clone = jp_root_dir / f"tiny-model-{commit[:7]}"
    assert (clone / "tinylib.py").read_text() == TINYLIB
    [verified] = [e["data"] for e in events if e["type"] == "verified"]
    assert verified["status"] == "passed"

    # Another machine: only the notebook. Its setup cell clones the repository at the commit.
    git_server.commit_more("acme", "tiny-model", {"tinylib.py": "def greet(name):\n    return 'moved on'\n"})
    elsewhere = tmp_path_factory.mktemp("another-machine")
    ran = _run_elsewhere(download, elsewhere)
    assert "hello cookbook" in _outputs(ran)  # the pinned commit's code, not the branch's newer one
    assert (elsewhere / f"tiny-model-{commit[:7]}" / "tinylib.py").read_text() == TINYLIB


async def test_the_users_kernel_says_where_its_notebook_is(
    jp_fetch, jp_root_dir: Path, jp_serverapp, tmp_path: Path
) -> None:
    make_local_repo(jp_root_dir)
    (jp_root_dir / "work").mkdir()
    repo = await _json(
        jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model", "trust": True})
    )
    km = jp_serverapp.kernel_manager
    # A notebook's kernel: Jupyter starts it in the notebook's folder.
    kernel_id = await km.start_kernel(kernel_name="python3", path="work")
    try:
        _, events, download, record = await _generate(jp_fetch, repo_id=repo["id"], kernel_id=kernel_id)
    finally:
        await km.shutdown_kernel(kernel_id)

    _assert_no_server_path([download, *_engine_output(events, record)], _server_paths(tmp_path, jp_root_dir))
    sources = "\n".join(c.source for c in nbformat.reads(download, as_version=4).cells)
    assert 'REPO_DIR = (NOTEBOOK_DIR / "../tiny-model").resolve()' in sources
    assert "hello cookbook" in "\n".join(json.dumps(c.get("outputs", [])) for c in record["cells"])
