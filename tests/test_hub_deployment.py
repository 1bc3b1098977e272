"""Cookbook on a real JupyterHub: the same REST API, per-user data, and the hub's authentication.

Starts JupyterHub (DummyAuthenticator with a shared password, SimpleLocalProcessSpawner, the
configurable-http-proxy from tests/hub/node_modules) on free 127.0.0.1 ports, creates two users
through the hub's REST API, starts their single-user servers (each with its own home folder, Jupyter
data folder and root folder), and calls Cookbook under /user/<name>/ as each user. Every process
the test starts is stopped at the end, also when the test fails.

Needs: `pip install -e .[test]` (jupyterhub) and `npm ci --prefix tests/hub` (configurable-http-proxy).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

HERE = Path(__file__).resolve().parent
HUB_FILES = HERE / "hub"
CONFIG = HUB_FILES / "jupyterhub_config.py"
CHP = HUB_FILES / "node_modules" / ".bin" / "configurable-http-proxy"
VENV_BIN = Path(sys.executable).parent
JUPYTERHUB = VENV_BIN / "jupyterhub"
SINGLEUSER = VENV_BIN / "jupyterhub-singleuser"

HUB_START_TIMEOUT = 60.0
SPAWN_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0  # a local ingestion is the slowest call
USERS = ("alice", "bob")

pytestmark = pytest.mark.timeout(180)


# -- prerequisites --------------------------------------------------------------------------------


def _require_prerequisites() -> None:
    if not CHP.exists():
        if shutil.which("npm") is None or shutil.which("node") is None:
            pytest.skip(
                "configurable-http-proxy is not installed and Node.js/npm are unavailable, so no "
                "JupyterHub proxy can run here (install Node 20 + npm, then `npm ci --prefix tests/hub`)"
            )
        pytest.fail(
            f"{CHP} is missing: run `npm ci --prefix tests/hub` (scripts/test.sh does) before pytest",
            pytrace=False,
        )
    for exe in (JUPYTERHUB, SINGLEUSER):
        if not exe.exists():
            pytest.fail(
                f"{exe} is missing: run `pip install -e '.[test]'` (the test extra has jupyterhub)",
                pytrace=False,
            )


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# -- process bookkeeping -----------------------------------------------------------------------------


def _pids_with_marker(marker: str) -> list[int]:
    """Processes whose environment carries this run's marker: the hub, its proxy, the user servers
    (and anything they started). Finds them even after the hub died and they were re-parented."""
    needle = f"COOKBOOK_HUB_MARKER={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env:
            found.append(int(entry))
    return found


def _kill_groups(pids: list[int], sig: int) -> None:
    own_group = os.getpgrp()
    for pid in pids:
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue
        try:
            if pgid != own_group:  # every process here runs in a session of its own
                os.killpg(pgid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _alive(p)]
    return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# -- the hub -------------------------------------------------------------------------------------------


@dataclass
class Hub:
    url: str  # public URL, through configurable-http-proxy
    token: str  # the cookbook-test service's token (admin of users and servers)
    password: str
    users_dir: Path
    log: Path
    process: subprocess.Popen

    def api(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        headers["Authorization"] = f"token {token or self.token}"
        kw.setdefault("timeout", REQUEST_TIMEOUT)
        return requests.request(method, f"{self.url}/hub/api/{path}", headers=headers, **kw)

    def user_call(self, method: str, user: str, path: str, token: str | None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"token {token}"
        kw.setdefault("timeout", REQUEST_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, f"{self.url}/user/{user}/{path}", headers=headers, **kw)

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no hub log)"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    _require_prerequisites()
    hub_dir = tmp_path / "hub"
    users_dir = hub_dir / "users"
    for user in USERS:
        (users_dir / user / "work").mkdir(parents=True)
    port, hub_port, proxy_api_port = _free_ports(3)
    marker = secrets.token_hex(8)
    token = secrets.token_hex(32)
    password = secrets.token_urlsafe(12)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JUPYTER", "COOKBOOK_", "CONFIGPROXY", "PYTEST", "ANTHROPIC", "OPENAI"))
        and key not in ("HF_TOKEN", "GITHUB_TOKEN")
    }
    env.update(
        PATH=f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        HOME=str(hub_dir),
        COOKBOOK_HUB_DIR=str(hub_dir),
        COOKBOOK_HUB_PORT=str(port),
        COOKBOOK_HUB_API_PORT=str(hub_port),
        COOKBOOK_PROXY_API_PORT=str(proxy_api_port),
        COOKBOOK_HUB_TOKEN=token,
        COOKBOOK_HUB_PASSWORD=password,
        COOKBOOK_CHP=str(CHP),
        COOKBOOK_SINGLEUSER=str(SINGLEUSER),
        COOKBOOK_HUB_MARKER=marker,
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    log = hub_dir / "jupyterhub.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(JUPYTERHUB), "-f", str(CONFIG)],
            cwd=hub_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    the_hub = Hub(f"http://127.0.0.1:{port}", token, password, users_dir, log, process)
    try:
        deadline = time.monotonic() + HUB_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterHub exited with {process.returncode}:\n{the_hub.log_tail()}")
            try:
                # Through the proxy: answers once both the proxy and the hub are up.
                if the_hub.api("GET", "", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"JupyterHub did not answer within {HUB_START_TIMEOUT:.0f} s:\n{the_hub.log_tail()}"
                )
            time.sleep(0.2)
        yield the_hub
    finally:
        _stop_everything(process, marker)


def _stop_everything(process: subprocess.Popen, marker: str) -> None:
    """SIGTERM the hub (it stops the user servers and the proxy), then kill whatever is left."""
    if process.poll() is None:
        _kill_groups([process.pid], signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    left = _pids_with_marker(marker)
    if process.poll() is None:
        left.append(process.pid)
    if left:
        _kill_groups(left, signal.SIGTERM)
        left = _wait_gone(left, 5)
    if left:
        _kill_groups(left, signal.SIGKILL)
        _wait_gone(left, 5)
    if process.poll() is None:
        process.kill()
    process.wait(timeout=5)


def _start_server(hub: Hub, user: str) -> None:
    r = hub.api("POST", f"users/{user}/server")
    assert r.status_code in (201, 202), (r.status_code, r.text)
    deadline = time.monotonic() + SPAWN_TIMEOUT
    while True:
        model = hub.api("GET", f"users/{user}").json()
        server = (model.get("servers") or {}).get("")
        if server and server.get("ready"):
            return
        if not server or (not server.get("pending") and not server.get("ready")):
            pytest.fail(f"{user}'s server failed to start: {model}\n{hub.log_tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{user}'s server did not start within {SPAWN_TIMEOUT:.0f} s\n{hub.log_tail()}")
        time.sleep(0.2)


def _user_token(hub: Hub, user: str) -> str:
    r = hub.api(
        "POST",
        f"users/{user}/tokens",
        json={
            "note": "cookbook deployment test",
            "expires_in": 600,
            "scopes": [f"access:servers!user={user}"],
        },
    )
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()["token"]


def _make_tiny_repo(folder: Path) -> None:
    (folder / "examples").mkdir(parents=True)
    (folder / "README.md").write_text(
        "# tiny-summarizer\n\nSummarise text with `acme/tiny-summarizer`.\n\n"
        "```python\nfrom tiny import summarize\nprint(summarize('Hallo Welt'))\n```\n"
    )
    (folder / "tiny.py").write_text("def summarize(text):\n    return text[:10]\n")
    (folder / "requirements.txt").write_text("numpy\n")
    (folder / "examples" / "quickstart.py").write_text(
        "from tiny import summarize\nprint(summarize('abc'))\n"
    )


# -- the test -----------------------------------------------------------------------------------------


def test_cookbook_on_jupyterhub(hub: Hub) -> None:
    # Two users, created through the hub's REST API with the service's admin token.
    r = hub.api("POST", "users", json={"usernames": list(USERS)})
    assert r.status_code == 201, (r.status_code, r.text)
    _make_tiny_repo(hub.users_dir / "alice" / "work" / "tiny-repo")
    with ThreadPoolExecutor(len(USERS)) as pool:
        list(pool.map(lambda u: _start_server(hub, u), USERS))
    tokens = {user: _user_token(hub, user) for user in USERS}
    alice, bob = tokens["alice"], tokens["bob"]

    # Status answers under /user/<name>/ exactly as on a laptop: offline by default, no key.
    for user, token in tokens.items():
        r = hub.user_call("GET", user, "cookbook/status", token)
        assert r.status_code == 200, (user, r.status_code, r.text[:500])
        status = r.json()
        assert status["default_provider"] == "offline"
        assert status["api_key_configured"] is False
        assert {p["name"] for p in status["providers"]} >= {"anthropic", "openai", "offline"}

    # The hub's authentication guards Cookbook: no token, a wrong token, another user's token.
    for token in (None, "not-a-real-token", bob):
        r = hub.user_call("GET", "alice", "cookbook/status", token)
        assert r.status_code != 200, (token, r.status_code, r.text[:300])
        assert r.status_code in (302, 401, 403), (r.status_code, r.text[:300])
        assert "default_provider" not in r.text
        if r.status_code == 302:
            assert "/hub/" in r.headers.get("Location", ""), r.headers
    r = hub.user_call("PUT", "alice", "cookbook/secrets/HF_TOKEN", bob, json={"value": "hf_from_bob_12345"})
    assert r.status_code == 403, (r.status_code, r.text[:300])

    # Each user's server keeps its own data: alice's secret is invisible to bob.
    r = hub.user_call(
        "PUT", "alice", "cookbook/secrets/HF_TOKEN", alice, json={"value": "hf_alice_secret_value"}
    )
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert "hf_alice_secret_value" not in r.text
    r = hub.user_call("GET", "alice", "cookbook/secrets", alice)
    assert r.status_code == 200, r.text[:500]
    assert [s["name"] for s in r.json()["secrets"]] == ["HF_TOKEN"]
    assert "hf_alice_secret_value" not in r.text
    r = hub.user_call("GET", "bob", "cookbook/secrets", bob)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["secrets"] == []
    alice_data = hub.users_dir / "alice" / "home" / ".local" / "share" / "jupyter" / "cookbook"
    bob_data = hub.users_dir / "bob" / "home" / ".local" / "share" / "jupyter" / "cookbook"
    assert (alice_data / "cookbook.db").exists() and (bob_data / "cookbook.db").exists()

    # Ingest a folder under alice's root directory (a path relative to that root, as the panel sends).
    r = hub.user_call("POST", "alice", "cookbook/repos", alice, json={"source": "tiny-repo"})
    assert r.status_code == 201, (r.status_code, r.text[:500])
    repo = r.json()
    assert repo["kind"] == "local" and repo["files_count"] >= 4, repo
    assert any(e["path"].endswith("quickstart.py") for e in repo["examples"]), repo["examples"]
    r = hub.user_call("GET", "alice", f"cookbook/repos/{repo['id']}/files", alice, params={"path": "tiny.py"})
    assert r.status_code == 200 and "def summarize" in r.text, r.text[:300]
    r = hub.user_call("GET", "alice", "cookbook/repos", alice)
    assert [x["id"] for x in r.json()["repos"]] == [repo["id"]]
    # Bob's server has its own root: alice's folder is outside it, and bob has no repositories.
    alice_repo = str(hub.users_dir / "alice" / "work" / "tiny-repo")
    r = hub.user_call("POST", "bob", "cookbook/repos", bob, json={"source": alice_repo})
    assert r.status_code == 403, (r.status_code, r.text[:300])
    r = hub.user_call("POST", "bob", "cookbook/repos", bob, json={"source": "tiny-repo"})
    assert r.status_code == 404, (r.status_code, r.text[:300])
    assert hub.user_call("GET", "bob", "cookbook/repos", bob).json()["repos"] == []

    # A browser: log in with the form, load one page (which sets the server's cookie), then the
    # panel's API calls work with the cookie alone, including writes with the XSRF token.
    browser = requests.Session()
    login = browser.get(f"{hub.url}/hub/login", timeout=REQUEST_TIMEOUT)
    xsrf = re.search(r'name="_xsrf"[^>]*value="([^"]+)"', login.text)
    form = {"username": "alice", "password": "wrong-password"}
    if xsrf:
        form["_xsrf"] = xsrf.group(1)
    r = browser.post(f"{hub.url}/hub/login", data=form, timeout=REQUEST_TIMEOUT, allow_redirects=False)
    assert r.status_code == 403 or "/user/alice" not in r.headers.get("Location", ""), r.status_code
    form["password"] = hub.password
    r = browser.post(
        f"{hub.url}/hub/login?next=/user/alice/lab", data=form, timeout=REQUEST_TIMEOUT, allow_redirects=False
    )
    assert r.status_code == 302, (r.status_code, r.text[:300])
    # Logged in to the hub, but no page of alice's server loaded yet: no cookie of that server,
    # so an API call is refused (BUILD-NOTES: a fresh browser needs one page load first).
    r = browser.get(f"{hub.url}/user/alice/cookbook/status", timeout=REQUEST_TIMEOUT, allow_redirects=False)
    assert r.status_code in (302, 401, 403) and "default_provider" not in r.text, (
        r.status_code,
        r.text[:300],
    )
    page = browser.get(f"{hub.url}/user/alice/lab", timeout=REQUEST_TIMEOUT)
    assert page.status_code == 200 and urlparse(page.url).path == "/user/alice/lab", (
        page.status_code,
        page.url,
    )
    # The page tells the front end its base URL (the panel's API client builds every URL on it)
    # and serves Cookbook's front-end bundle under that prefix.
    config = json.loads(
        re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page.text, re.S
        ).group(1)
    )
    assert config["baseUrl"] == "/user/alice/", config["baseUrl"]
    if (Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "cookbook-ext" / "package.json").exists():
        ext = next((e for e in config.get("federated_extensions", []) if e["name"] == "cookbook-ext"), None)
        assert ext, [e["name"] for e in config.get("federated_extensions", [])]
        bundle = browser.get(
            f"{hub.url}{config['fullLabextensionsUrl']}/cookbook-ext/{ext['load']}", timeout=REQUEST_TIMEOUT
        )
        assert bundle.status_code == 200 and bundle.url.startswith(f"{hub.url}/user/alice/"), bundle.url
    r = browser.get(f"{hub.url}/user/alice/cookbook/secrets", timeout=REQUEST_TIMEOUT, allow_redirects=False)
    assert r.status_code == 200 and [s["name"] for s in r.json()["secrets"]] == ["HF_TOKEN"], r.text[:300]
    server_xsrf = browser.cookies.get("_xsrf", path="/user/alice/") or browser.cookies.get("_xsrf")
    assert server_xsrf, browser.cookies
    r = browser.put(
        f"{hub.url}/user/alice/cookbook/secrets/GITHUB_TOKEN",
        json={"value": "ghp_browser_value_123"},
        headers={"X-XSRFToken": server_xsrf},
        timeout=REQUEST_TIMEOUT,
        allow_redirects=False,
    )
    assert r.status_code == 200, (r.status_code, r.text[:300])
    # The browser's hub login does not open bob's server.
    r = browser.get(f"{hub.url}/user/bob/cookbook/secrets", timeout=REQUEST_TIMEOUT, allow_redirects=False)
    assert r.status_code != 200 and "secrets" not in r.text, (r.status_code, r.text[:300])
