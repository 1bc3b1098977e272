"""A git smart-HTTP server on 127.0.0.1 for ingestion tests: real bare repositories, served by
`git http-backend` (CGI), with optional per-repository tokens and stalls.

    with GitServer(tmp_path / "srv") as srv:
        sha = srv.create_repo("acme", "models", {"README.md": "# hi"})
        srv.require_token("acme", "private", "s3cret")   # 401 unless Basic/Bearer carries it
        srv.stall("acme", "slow", on="fetch")            # hang the pack download (timeouts)
        options = IngestOptions(..., github_url=srv.url)
"""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.loopback import LoopbackServer

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "fake",
    "GIT_AUTHOR_EMAIL": "fake@example.invalid",
    "GIT_COMMITTER_NAME": "fake",
    "GIT_COMMITTER_EMAIL": "fake@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git for test setup; raises with stderr on failure."""
    env = {**os.environ, **_GIT_ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@dataclass
class GitRequest:
    method: str
    path: str
    query: str
    repo: str  # "owner/repo"
    authorization: str | None
    status: int = 0


class GitServer(LoopbackServer):
    """Bare repositories live in `root/<owner>/<repo>.git`; `url` is the `github_url` to use."""

    thread_name = "fake-git"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.requests: list[GitRequest] = []
        self._tokens: dict[str, str] = {}
        self._stalls: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> GitServer:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._serve(Handler)
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "the git server is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- repositories ----------------------------------------------------------------------

    def create_repo(
        self,
        owner: str,
        repo: str,
        files: Mapping[str, str | bytes],
        *,
        branch: str = "main",
        tags: tuple[str, ...] = (),
        symlinks: Mapping[str, str] | None = None,
    ) -> str:
        """Make a bare repository with one commit holding `files`; returns the commit SHA."""
        work = self.root / ".work" / owner / repo
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        git("init", "-q", "-b", branch, str(work))
        for rel, content in files.items():
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        for rel, target in (symlinks or {}).items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, work / rel)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "initial", cwd=work)
        for tag in tags:
            git("tag", "-a", tag, "-m", tag, cwd=work)
        return self.add_repo_from(owner, repo, work)

    def add_repo_from(self, owner: str, repo: str, work_tree: Path) -> str:
        """Serve a bare copy of an existing local repository; returns its HEAD commit."""
        bare = self.root / owner / f"{repo}.git"
        if bare.exists():
            shutil.rmtree(bare)
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "-q", "--bare", str(work_tree), str(bare))
        return git("-C", str(bare), "rev-parse", "HEAD").strip()

    def commit_more(self, owner: str, repo: str, files: Mapping[str, str]) -> str:
        """Add a commit to the repository's branch (from its work tree); returns the new SHA."""
        work = self.root / ".work" / owner / repo
        for rel, content in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(content)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "more", cwd=work)
        git("push", "-q", "--force", "--tags", str(self.root / owner / f"{repo}.git"), "HEAD", cwd=work)
        return git("-C", str(work), "rev-parse", "HEAD").strip()

    def require_token(self, owner: str, repo: str, token: str) -> None:
        self._tokens[f"{owner}/{repo}"] = token

    def stall(self, owner: str, repo: str, *, on: str = "fetch") -> None:
        """Hang requests for the repository until the server stops: `on` is "all" or "fetch"
        (only the pack download, so ref resolution still works)."""
        self._stalls[f"{owner}/{repo}"] = on

    def requests_for(self, repo: str) -> list[GitRequest]:
        with self._lock:
            return [r for r in self.requests if r.repo == repo]

    # -- serving ---------------------------------------------------------------------------

    def _authorized(self, repo: str, header: str | None) -> bool:
        token = self._tokens.get(repo)
        if token is None:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() == token
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return token in (password, user)
        return False

    def _should_stall(self, repo: str, method: str, body: bytes, encoding: str | None) -> bool:
        mode = self._stalls.get(repo)
        if mode is None:
            return False
        if mode == "all":
            return True
        if method != "POST":
            return False
        if encoding == "gzip":
            body = gzip.decompress(body)
        return b"command=fetch" in body or b"want " in body

    def _handle(self, handler: _Handler, method: str) -> None:
        path, _, query = handler.path.partition("?")
        parts = [p for p in path.split("/") if p]
        repo = "/".join(parts[:2]).removesuffix(".git") if len(parts) >= 2 else ""
        auth = handler.headers.get("Authorization")
        record = GitRequest(method, path, query, repo, auth)
        with self._lock:
            self.requests.append(record)
        body = handler._read_body()
        if not self._authorized(repo, auth):
            record.status = 401
            handler._send(401, {"WWW-Authenticate": 'Basic realm="fake-git"'}, b"authentication required\n")
            return
        if self._should_stall(repo, method, body, handler.headers.get("Content-Encoding")):
            self._release.wait(60)
            handler.close_connection = True
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        if handler.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = handler.headers["Git-Protocol"]
        if handler.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = handler.headers["Content-Encoding"]
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
        head, sep, payload = done.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = done.stdout.partition(b"\n\n")
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        record.status = status
        handler._send(status, headers, payload)


class _Handler(BaseHTTPRequestHandler):
    server_owner: GitServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server_owner._handle(self, "GET")

    def do_POST(self) -> None:
        self.server_owner._handle(self, "POST")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    """A running GitServer whose repositories live under the test's tmp_path."""
    with GitServer(tmp_path / "git-server") as server:
        yield server
