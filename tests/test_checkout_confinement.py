"""A stored checkout is re-checked on every read, and .git stays out of reach through links.

- A local checkout replaced by a link to somewhere else after it was ingested is refused, by
  `GET repos/{id}/files` and by the agent's read tools alike.
- `.git` is refused on the resolved path too: a link `dotgit -> .git` (or `cfg -> .git/config`)
  inside the repository does not serve `.git/config`; links out of the checkout are refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from cookbook_ext.errors import Forbidden
from cookbook_ext.ingest import list_repo_files, read_repo_file
from cookbook_ext.ingest.scan import walk_files
from tests.fakes.repos import make_local_repo
from tests.fakes.scripted_provider import ScriptedProvider, call, turn

GIT_CONFIG = "[remote]\n\turl = https://user:hunter2@example.com/x.git\n"


def _with_git_links(repo: Path) -> Path:
    (repo / ".git").mkdir(exist_ok=True)
    (repo / ".git" / "config").write_text(GIT_CONFIG)
    os.symlink(".git", repo / "dotgit")
    os.symlink(".git/config", repo / "cfg")
    os.symlink("examples/../.git", repo / "sneaky")
    return repo


async def _json(jp_fetch, *parts, **kw):
    return json.loads((await jp_fetch("cookbook", *parts, **kw)).body)


async def _refused(jp_fetch, repo_id: str, path: str) -> dict:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "repos", repo_id, "files", params={"path": path})
    assert err.value.code == 403, err.value.response.body
    body = err.value.response.body.decode()
    assert "hunter2" not in body and "outside secret" not in body
    return json.loads(body)


# -- GET repos/{id}/files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["dotgit/config", "cfg", "sneaky/config", "dotgit", ".git/config", ".GIT/config"]
)
async def test_links_into_git_are_refused(jp_fetch, jp_root_dir, path):
    _with_git_links(make_local_repo(jp_root_dir))
    repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model"}))
    payload = await _refused(jp_fetch, repo["id"], path)
    assert ".git" in payload["message"]
    ok = await _json(jp_fetch, "repos", repo["id"], "files", params={"path": "README.md"})
    assert ok["content"].startswith("# tiny-model")


async def test_a_checkout_replaced_by_a_link_is_refused(jp_fetch, jp_root_dir, tmp_path):
    repo_dir = make_local_repo(jp_root_dir)
    repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model"}))
    assert (await _json(jp_fetch, "repos", repo["id"], "files", params={"path": "README.md"}))["content"]

    outside = tmp_path / "not-yours"
    outside.mkdir()
    (outside / "README.md").write_text("outside secret\n")
    shutil.move(repo_dir, tmp_path / "moved-away")
    os.symlink(outside, repo_dir)
    payload = await _refused(jp_fetch, repo["id"], "README.md")
    assert payload["message"].startswith("This repository's checkout is no longer inside")


async def test_a_checkout_that_is_gone_is_not_found(jp_fetch, jp_root_dir):
    repo_dir = make_local_repo(jp_root_dir)
    repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model"}))
    shutil.rmtree(repo_dir)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "repos", repo["id"], "files", params={"path": "README.md"})
    assert err.value.code == 404 and "ingest it again" in json.loads(err.value.response.body)["message"]


# -- the file functions themselves -----------------------------------------------------------------


def test_the_file_functions_refuse_git_through_links(tmp_path):
    repo = _with_git_links(make_local_repo(tmp_path))
    for path in ("dotgit/config", "cfg", "sneaky/config"):
        with pytest.raises(Forbidden):
            read_repo_file(repo, path)
    for folder in ("dotgit", "sneaky"):
        with pytest.raises(Forbidden):
            list_repo_files(repo, folder)
    listed = list_repo_files(repo)
    assert "cfg" not in listed and not any(p.startswith(("dotgit", "sneaky", ".git")) for p in listed)
    states = {rel: state for rel, _, state in walk_files(repo)}
    assert states["cfg"] == "symlink"  # the ingester does not read it either


def test_within_is_checked_on_every_read(tmp_path):
    root = tmp_path / "root"
    repo = make_local_repo(root)
    assert read_repo_file(repo, "README.md", within=[root])["content"]
    assert list_repo_files(repo, within=[root])
    elsewhere = tmp_path / "elsewhere"
    shutil.move(repo, elsewhere)
    os.symlink(elsewhere, repo)
    with pytest.raises(Forbidden):
        read_repo_file(repo, "README.md", within=[root])
    with pytest.raises(Forbidden):
        list_repo_files(repo, within=[root])
    assert read_repo_file(repo, "README.md")["content"]  # without `within`: only the path inside


# -- the agent's read tools ------------------------------------------------------------------------


class SwappingProvider(ScriptedProvider):
    """Reads once, then the checkout is swapped for a link elsewhere and it reads again."""

    seen: list[SwappingProvider] = []
    repo_dir: Path
    outside: Path

    def __init__(self) -> None:
        super().__init__(
            [
                turn(call("read_file_from_repo", path="README.md")),
                self._swap_and_read,
                turn(call("finish", summary="done")),
            ]
        )
        SwappingProvider.seen.append(self)

    def _swap_and_read(self, messages):
        shutil.move(self.repo_dir, self.repo_dir.with_name("moved-away"))
        os.symlink(self.outside, self.repo_dir)
        return turn(
            call("read_file_from_repo", path="README.md"),
            call("list_files_in_repo"),
            call("search_repo", query="outside"),
        )

    def results(self, index: int) -> list[str]:
        """The tool_result texts the provider was sent before its turn `index`."""
        blocks = self.calls[index][-1]["content"]
        return [json.dumps(b["content"]) for b in blocks if b.get("type") == "tool_result"]


@pytest.fixture
def swapping(cookbook_config, jp_root_dir, tmp_path):
    SwappingProvider.seen = []
    SwappingProvider.repo_dir = make_local_repo(jp_root_dir)
    SwappingProvider.outside = tmp_path / "not-yours"
    SwappingProvider.outside.mkdir()
    (SwappingProvider.outside / "README.md").write_text("outside secret\n")
    cookbook_config["provider_classes"] = {"offline": f"{__name__}.SwappingProvider"}
    cookbook_config["allowed_providers"] = ["offline"]
    return SwappingProvider.seen


async def test_the_agents_read_tools_recheck_the_checkout(swapping, jp_fetch):
    repo = await _json(jp_fetch, "repos", method="POST", body=json.dumps({"source": "tiny-model"}))
    body = {"repo_id": repo["id"], "prompt": "read it", "provider": "offline"}
    gen = await _json(jp_fetch, "generations", method="POST", body=json.dumps(body))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 150
    after, done = 0, False
    while not done:
        assert loop.time() < deadline, "the generation did not finish in time"
        page = await _json(
            jp_fetch, "generations", gen["id"], "events", params={"after": after, "timeout": 5}
        )
        if page["events"]:
            after = page["events"][-1]["seq"]
        done = page["done"]
    [provider] = swapping
    [first] = provider.results(1)
    assert "tiny-model" in first  # before the swap: read
    after_swap = provider.results(2)
    assert len(after_swap) == 3
    for text in after_swap:
        assert "no longer inside" in text and "outside secret" not in text
