"""A private GitHub repository's setup cell: the clone takes its token from the kernel's
environment (the secret the user granted), the notebook holds only the variable's name. A real
git smart-HTTP server (git http-backend behind a small HTTP server on 127.0.0.1) that answers 401
without the right Basic credentials."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cookbook_ext.portable import GITHUB_TOKEN_ENV, RepoLocation, locate_repo, setup_code
from tests.fakes.repos import git

TOKEN = "ghp_" + "T0k3n" * 7


class PrivateGit(BaseHTTPRequestHandler):
    """git http-backend for the repositories under `root`, behind Basic auth for x-access-token."""

    root: Path
    seen: list[str | None]

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def _serve(self):
        auth = self.headers.get("Authorization")
        self.seen.append(auth)
        expected = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
        if auth != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-access-token",
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=True
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def private_repo(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "secret_lib.py").write_text("VALUE = 'private code'\n")
    git("init", "-q", str(work))
    git("add", "-A", cwd=work)
    git("commit", "-qm", "one", cwd=work)
    commit = git("rev-parse", "HEAD", cwd=work)
    served = tmp_path / "served"
    served.mkdir()
    git("clone", "-q", "--bare", str(work), str(served / "private.git"))
    handler = type("Handler", (PrivateGit,), {"root": served, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/private.git", commit, handler.seen
    finally:
        server.shutdown()
        server.server_close()


def run_cell(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # No credential helper or askpass of this machine's: only what the cell sets up.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_", "GH_"))}
    clean.update(HOME=str(cwd), GIT_CONFIG_NOSYSTEM="1", GIT_ASKPASS="", SSH_ASKPASS="", **env)
    return subprocess.run(
        [sys.executable, "-c", code.replace("globals().get", "{}.get")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean,
        check=False,
    )


def test_a_private_repository_is_cloned_with_the_granted_token_and_the_notebook_names_it_only(
    tmp_path: Path, private_repo
) -> None:
    url, commit, seen = private_repo
    location = RepoLocation(
        path="private-x", clone_url=url, commit=commit, clone_dir="private-x", token_env="GITHUB_TOKEN"
    )
    code = setup_code(location) + "from secret_lib import VALUE\nprint(VALUE)\n"
    assert TOKEN not in code and "GITHUB_TOKEN" in code
    notebook = tmp_path / "nb"
    notebook.mkdir()

    done = run_cell(code, notebook, {"GITHUB_TOKEN": TOKEN})

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "private code"
    assert git("-C", str(notebook / "private-x"), "rev-parse", "HEAD") == commit
    assert any(a and a.startswith("Basic ") for a in seen)  # it went through the auth
    # The token is in no file the clone left (git's config holds no credential).
    for path in (notebook / "private-x" / ".git").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_without_the_token_the_clone_fails_and_says_so(tmp_path: Path, private_repo) -> None:
    url, commit, _ = private_repo
    location = RepoLocation(
        path="private-x", clone_url=url, commit=commit, clone_dir="private-x", token_env="GITHUB_TOKEN"
    )
    done = run_cell(setup_code(location), tmp_path, {})
    assert done.returncode != 0
    assert "RuntimeError: git -C " in done.stderr


def test_a_public_repository_asks_for_no_token() -> None:
    repo = {"kind": "github", "owner": "o", "repo": "r", "commit": "a" * 40, "metadata": {"private": False}}
    public = locate_repo(repo, root_dir=Path("/tmp"), notebook_path=None, github_url="https://github.com")
    assert public is not None and public.token_env is None
    assert "credential." not in setup_code(public)
    private = locate_repo(
        {**repo, "metadata": {"private": True}},
        root_dir=Path("/tmp"),
        notebook_path=None,
        github_url="https://github.com",
    )
    assert private is not None and private.token_env == GITHUB_TOKEN_ENV
    assert RepoLocation.from_dict(private.to_dict()) == private
    # A name that is not an environment variable's never reaches the shell helper.
    assert RepoLocation.from_dict({**private.to_dict(), "token_env": "X; rm -rf ~"}).token_env is None
