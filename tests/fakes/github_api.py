"""A GitHub REST API stand-in on 127.0.0.1, for tests and benchmarks, driven through PyGithub.

It serves `GET /repos/{owner}/{repo}` (and `/topics`) for public and private repositories, with GitHub's
conventions: a private repository is a 404 unless the request carries a valid token, a bad token is a
401, an exhausted rate limit a 403. `prefix="/api/v3"` makes it answer like GitHub Enterprise Server.

    with FakeGitHub() as gh:
        gh.add_repo("octo", "hello", topics=["demo"])
        Github(base_url=gh.url).get_repo("octo/hello")
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes.loopback import LoopbackServer

DEFAULT_TOKEN = "ghp_fake_token_for_tests"
_DOCS = "https://docs.github.com/rest"
_LICENSE_NAMES = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License 2.0",
    "BSD-3-Clause": 'BSD 3-Clause "New" or "Revised" License',
    "GPL-3.0": "GNU General Public License v3.0",
    "NOASSERTION": "Other",
}


@dataclass
class GitHubRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        return value.strip() if scheme.lower() in ("token", "bearer") and value.strip() else None


@dataclass
class FakeRepo:
    owner: str
    name: str
    description: str | None = None
    topics: list[str] = field(default_factory=list)
    license: str | None = None  # an SPDX id
    stars: int = 0
    default_branch: str = "main"
    private: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitHub(LoopbackServer):
    """The fake API; use it as a context manager, or call start() and stop()."""

    thread_name = "fake-github"

    def __init__(
        self, *, prefix: str = "", tokens: Iterable[str] = (DEFAULT_TOKEN,), html_host: str = "github.com"
    ) -> None:
        super().__init__()
        self.prefix = prefix.rstrip("/")
        self.html_host = html_host
        self.repos: dict[str, FakeRepo] = {}
        self.valid_tokens: set[str] = set(tokens)
        self.fail_with: int | None = None  # answer every request with this status
        self.rate_limited = False  # answer like GitHub once the rate limit is used up
        self.delay: float = 0.0  # seconds to wait before answering (for timeouts)
        self.requests: list[GitHubRequest] = []
        self._lock = threading.Lock()

    def start(self) -> FakeGitHub:
        self._serve(_Handler, github=self)
        return self

    @property
    def url(self) -> str:
        """The API's base URL, what PyGithub takes as base_url."""
        if self._port is None:
            raise RuntimeError("the fake GitHub API has not been started")
        return f"http://127.0.0.1:{self._port}{self.prefix}"

    def add_repo(self, owner: str, name: str, **fields: Any) -> FakeRepo:
        repo = FakeRepo(owner=owner, name=name, **fields)
        self.repos[repo.full_name.lower()] = repo
        return repo

    # ------------------------------------------------------------------------------------------- serving

    def handle(self, handler: _Handler) -> None:
        path = unquote(urlsplit(handler.path).path)
        request = GitHubRequest(
            method=handler.command, path=path, headers={k.lower(): v for k, v in handler.headers.items()}
        )
        with self._lock:
            self.requests.append(request)
        if self.delay:
            self._release.wait(self.delay)
        if self.fail_with is not None:
            handler.send_json(self.fail_with, {"message": "Server Error", "documentation_url": _DOCS})
            return
        auth = handler.headers.get("authorization")
        if auth is not None and request.token not in self.valid_tokens:
            handler.send_json(
                401, {"message": "Bad credentials", "documentation_url": _DOCS, "status": "401"}
            )
            return
        if self.rate_limited:
            reset = int(time.time()) + 600
            handler.send_json(
                403,
                {
                    "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                    "Authenticated requests get a higher rate limit.)",
                    "documentation_url": _DOCS,
                },
                {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
            )
            return
        if not path.startswith(f"{self.prefix}/repos/"):
            self._not_found(handler)
            return
        parts = path[len(self.prefix) + len("/repos/") :].split("/")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "topics"):
            self._not_found(handler)
            return
        repo = self.repos.get(f"{parts[0]}/{parts[1]}".lower())
        if repo is None or (repo.private and request.token is None):
            self._not_found(handler)
            return
        if len(parts) == 3:
            handler.send_json(200, {"names": list(repo.topics)})
        else:
            handler.send_json(200, self._repo_json(repo))

    def _not_found(self, handler: _Handler) -> None:
        handler.send_json(404, {"message": "Not Found", "documentation_url": _DOCS, "status": "404"})

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        api = self.url
        owner = {
            "login": repo.owner,
            "id": zlib.crc32(repo.owner.encode()),
            "type": "Organization",
            "url": f"{api}/users/{repo.owner}",
            "html_url": f"https://{self.html_host}/{repo.owner}",
        }
        license_json = None
        if repo.license is not None:
            license_json = {
                "key": repo.license.lower(),
                "name": _LICENSE_NAMES.get(repo.license, repo.license),
                "spdx_id": repo.license,
                "url": None if repo.license == "NOASSERTION" else f"{api}/licenses/{repo.license.lower()}",
                "node_id": "MDc6TGljZW5zZTA=",
            }
        return {
            "id": zlib.crc32(repo.full_name.encode()),
            "node_id": "R_kgDOFake",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "owner": owner,
            "html_url": f"https://{self.html_host}/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": f"{api}/repos/{repo.full_name}",
            "clone_url": f"https://{self.html_host}/{repo.full_name}.git",
            "stargazers_count": repo.stars,
            "watchers_count": repo.stars,
            "forks_count": 0,
            "open_issues_count": 0,
            "default_branch": repo.default_branch,
            "topics": list(repo.topics),
            "license": license_json,
            "archived": False,
            "disabled": False,
            "created_at": "2024-01-02T03:04:05Z",
            "updated_at": "2024-06-07T08:09:10Z",
            "pushed_at": "2024-06-07T08:09:10Z",
        }


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so a stopped server is unreachable at once.
    protocol_version = "HTTP/1.0"
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self.server.github.handle(self)  # type: ignore[attr-defined]

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass
