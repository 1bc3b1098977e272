"""Ingested repositories: ingest a GitHub URL or a folder under the Jupyter root, list and read
them, trust them (at their commit), and confine every user-given path to the root.

Light on imports on purpose: `jupyter cookbook ingest` builds only this and the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from traitlets import Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from .errors import BadRequest, Forbidden, NotFound
from .ingest.options import IngestOptions
from .store import AsyncStore
from .workers import Workers


class RepositoryManager(LoggingConfigurable):
    github_url = Unicode(
        IngestOptions.github_url, config=True, help="GitHub (or GitHub Enterprise) web/git URL."
    )
    github_api_url = Unicode(IngestOptions.github_api_url, config=True, help="GitHub REST API base URL.")
    allowed_hosts = List(
        Unicode(),
        default_value=list(IngestOptions.allowed_hosts),
        config=True,
        help="Hosts accepted in a repository URL.",
    )
    max_repo_mb = Float(
        IngestOptions.max_repo_mb, config=True, help="Largest repository checkout accepted, in MB."
    )
    max_files = Integer(IngestOptions.max_files, config=True, help="Most files accepted in a repository.")
    clone_timeout = Float(IngestOptions.clone_timeout, config=True, help="Seconds a clone may take.")
    context_budget = Integer(
        IngestOptions.budget_tokens, config=True, help="Token budget of the context pack."
    )

    def __init__(
        self,
        *,
        store: AsyncStore,
        root_dir: Path,
        data_dir: Path,
        secret: Callable[[str], str | None],
        workers: Workers,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.root_dir = Path(root_dir).resolve()
        self.data_dir = Path(data_dir)
        self._secret = secret  # resolves GITHUB_TOKEN
        self._workers = workers
        self._trust_changed: list[Callable[[str, bool], None]] = []

    # -- ingestion --------------------------------------------------------------------------------

    def options(self, budget: int | None = None) -> IngestOptions:
        return IngestOptions(
            root_dir=self.root_dir,
            cache_dir=self.data_dir / "cache",
            github_url=self.github_url,
            github_api_url=self.github_api_url,
            allowed_hosts=tuple(self.allowed_hosts),
            github_token=self._secret("GITHUB_TOKEN"),
            max_repo_mb=self.max_repo_mb,
            max_files=self.max_files,
            clone_timeout=self.clone_timeout,
            budget_tokens=budget or self.context_budget,
        )

    def check_source(self, source: str, ref: str | None) -> None:
        """A clear 4xx for a source that cannot be ingested, before any I/O (blocking: cheap)."""
        from .ingest import parse_source

        parse_source(source, ref, self.options())

    def ingest_sync(
        self, source: str, ref: str | None = None, *, trust: bool = False, budget: int | None = None
    ) -> dict[str, Any]:
        from .ingest import ingest, parse_source

        options = self.options(budget)
        parse_source(source, ref, options)  # fast, clear 4xx before any I/O
        result = ingest(source, ref=ref, options=options).to_dict()
        saved = self.store.sync.save_repo(result)
        if trust:  # trusted at exactly the commit just ingested
            saved = self.store.sync.set_repo_trust(saved["id"], True)
        return saved

    async def ingest(self, source: str, ref: str | None = None, *, trust: bool = False) -> dict[str, Any]:
        return await self._workers.run_io(self.ingest_sync, source, ref, trust=trust)

    async def list(self) -> list[dict[str, Any]]:
        return [repo_summary(r) for r in await self.store.list_repos()]

    async def get(self, repo_id: str) -> dict[str, Any]:
        return await self.store.get_repo(repo_id)

    async def read_file(self, repo_id: str, path: str) -> dict[str, Any]:
        from .ingest.files import read_repo_file

        repo = await self.store.get_repo(repo_id)
        return await self._workers.run(
            read_repo_file, Path(repo["checkout"]), path, within=self.checkout_roots()
        )

    def checkout_roots(self) -> tuple[Path, ...]:
        """Where a stored checkout may live: a folder of the Jupyter root, or the clone cache.
        Every read re-checks it (the folder may have been replaced by a link since)."""
        return (self.root_dir, self.data_dir / "cache")

    # -- trust ------------------------------------------------------------------------------------

    def on_trust_changed(self, callback: Callable[[str, bool], None]) -> None:
        """Call `callback(repo_id, trusted)` when the user trusts a repository or stops."""
        self._trust_changed.append(callback)

    async def set_trust(self, repo_id: str, trusted: bool) -> dict[str, Any]:
        repo = await self.store.set_repo_trust(repo_id, trusted)
        for callback in self._trust_changed:
            callback(repo_id, trusted)
        return repo

    # -- paths ------------------------------------------------------------------------------------

    def for_notebook(self, repo: dict[str, Any], notebook_path: str | None) -> dict[str, Any]:
        """The repository as a generation's engine sees it when the notebook is saved at
        `notebook_path` (under the root; None: at the root): with `location`, where the notebook
        finds it on any machine (portable.RepoLocation), and a local folder's `source` relative
        to the root, since it goes into the notebook's provenance."""
        from .portable import locate_repo

        view = dict(repo)
        location = locate_repo(
            repo, root_dir=self.root_dir, notebook_path=notebook_path, github_url=self.github_url
        )
        if location is not None:
            view["location"] = location.to_dict()
        checkout = repo.get("checkout")
        if repo.get("kind") == "local" and checkout:
            inside = Path(checkout).resolve()
            if inside == self.root_dir or self.root_dir in inside.parents:
                view["source"] = inside.relative_to(self.root_dir).as_posix() or "."
        return view

    def confined_path(self, path: str, *, what: str) -> Path:
        """A user-given path resolved inside the Jupyter root dir (symlinks followed)."""
        return confined_path(self.root_dir, path, what=what)


def confined_path(root_dir: Path, path: str, *, what: str) -> Path:
    """`path` resolved inside `root_dir` (symlinks followed): 403 outside it, 404 missing."""
    if "\x00" in path:
        raise BadRequest(f"{what} contains a NUL character.")
    root = root_dir.resolve()
    shown = path if len(path) <= 200 else path[:199] + "…"
    try:
        candidate = (root / path).resolve()
        inside = candidate == root or root in candidate.parents
        exists = inside and candidate.exists()
    except (OSError, ValueError, RuntimeError):  # a name too long, a symlink loop
        raise NotFound(f"{what} {shown!r} cannot be opened under the Jupyter root folder.") from None
    if not inside:
        raise Forbidden(f"{what} must be inside the Jupyter root folder.")
    if not exists:
        raise NotFound(f"{what} {shown!r} does not exist under the Jupyter root folder.")
    return candidate


def names_a_path(text: str) -> bool:
    """Whether a use_my_data topic is meant as a file or folder (then it is confined like
    data_path) rather than a subject: absolute, ~, ./, ../, a '..' segment, or one word with a
    folder separator or a file extension."""
    t = text.strip()
    if not t or "\n" in t or "\r" in t:
        return False
    if t.startswith(("/", "~", ".", "\\")) or (len(t) > 2 and t[1] == ":" and t[2] in "/\\"):
        return True
    parts = t.replace("\\", "/").split("/")
    if ".." in parts:
        return True
    if any(c.isspace() for c in t):
        return False
    if len(parts) > 1:
        return True
    stem, dot, ext = t.rpartition(".")
    return bool(dot and stem and 1 <= len(ext) <= 8 and ext.isalnum())


_SUMMARY_KEYS = (
    "id",
    "source",
    "kind",
    "url",
    "owner",
    "repo",
    "ref",
    "commit",
    "name",
    "metadata",
    "stats",
    "dependencies",
    "license",
    "hf_ids",
    "warnings",
    "trusted",
    "trusted_at",
    "created_at",
    "updated_at",
)


def repo_summary(repo: dict[str, Any]) -> dict[str, Any]:
    """What lists and the panel need: the ingestion result without the bulky parts."""
    out = {k: repo.get(k) for k in _SUMMARY_KEYS}
    out["examples"] = [{k: e.get(k) for k in ("path", "title", "kind")} for e in repo.get("examples", [])]
    out["readmes"] = [{"path": r.get("path")} for r in repo.get("readmes", [])]
    out["notebooks"] = [{"path": n.get("path")} for n in repo.get("notebooks", [])]
    out["files_count"] = len(repo.get("files", []))
    ctx = repo.get("context") or {}
    out["context"] = {k: ctx.get(k) for k in ("total_tokens", "budget", "sections")}
    return out
