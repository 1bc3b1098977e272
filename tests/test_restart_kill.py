"""A real server killed (SIGKILL) in the middle of a generation, then started again on its data.

A `jupyter server` subprocess runs Cookbook with the scripted test provider of the browser tests
(ui-tests/cookbook_test_provider.py), whose generation stops at a gate (a file this test never
creates) right after its first code cell is validated. Once that `cell_validated` event is
readable from the events endpoint (events are readable only once stored), the server is killed
without a chance to clean up, and a second server starts on the same data folder: the generation
is `interrupted`, and the validated cell, with its output, is in the generation and in its
notebook download. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

UI_TESTS = Path(__file__).resolve().parents[1] / "ui-tests"
START_TIMEOUT = 120.0  # a loaded 2-core machine needs a while to import JupyterLab's server
EVENT_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0

CONFIG = """
c.ServerApp.jpserver_extensions = {{"cookbook_ext": True}}
c.ServerApp.open_browser = False
c.ServerApp.port_retries = 0
c.CookbookApp.data_dir = {data_dir!r}
c.CookbookApp.approval_mode = "never"
c.CookbookApp.default_provider = "offline"
c.CookbookApp.provider_classes = {{
    "anthropic": "cookbook_ext.agent.providers.anthropic.AnthropicProvider",
    "openai": "cookbook_ext.agent.providers.openai.OpenAIProvider",
    "offline": "cookbook_test_provider.ScriptedProvider",
}}
c.CookbookApp.hf_endpoint = "http://127.0.0.1:9"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of the processes whose parent is `pid` (its kernels)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append((int(entry.name), fields[19]))
    return found


def _alive(pid: int, started: str) -> bool:
    """The same process (not a reused pid), and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] == started and fields[0] != "Z"


class Server:
    """One `jupyter server` process on a fixed port, token, root and configuration folder."""

    def __init__(self, tmp: Path, port: int, token: str, env: dict[str, str]):
        self.tmp, self.port, self.token, self.env = tmp, port, token, env
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.orphans: list[tuple[int, str]] = []  # a killed server's kernels, to check they exit

    def start(self) -> None:
        self.runs += 1
        self.log_path = self.tmp / f"server-{self.runs}.log"
        args = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.tmp / 'root'}",
        ]
        if os.geteuid() == 0:
            args.append("--ServerApp.allow_root=True")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                self.call("GET", "api/status", timeout=5)
                return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {START_TIMEOUT:.0f} s\n{self.log_tail()}")
            time.sleep(0.1)  # polling interval while the server starts

    def call(
        self, method: str, path: str, body: dict | None = None, timeout: float = 30
    ) -> tuple[int, bytes]:
        req = urllib.request.Request(
            f"{self.base}/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def json(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        code, raw = self.call(method, path, body, timeout)
        assert code < 300, (method, path, code, raw[:500])
        return json.loads(raw)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    root = tmp_path / "root"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "README.md").write_text("# demo\n\n```python\nprint('demo')\n```\n")
    (root / "gates").mkdir()
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.py").write_text(
        CONFIG.format(data_dir=str(tmp_path / "cookbook-data"))
    )
    env = {
        **os.environ,  # with the root conftest's PIP_NO_INDEX / PIP_INDEX_URL: kernels inherit them
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(UI_TESTS), os.environ.get("PYTHONPATH", "")) if p),
        "COOKBOOK_TEST_GATE_ROOT": str(root),
        "HF_HUB_OFFLINE": "1",
    }
    srv = Server(tmp_path, _free_port(), secrets.token_hex(16), env)
    try:
        yield srv
    finally:
        srv.stop()
        # The killed server's kernel notices its parent is gone and exits (ipykernel's parent
        # poller); make sure it did, by pid, before the test's folders go away.
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(_alive(*p) for p in srv.orphans) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid, started in srv.orphans:
            if _alive(pid, started):
                os.kill(pid, signal.SIGKILL)


def _wait_for_validated_code_cell(srv: Server, gen_id: str) -> list[dict]:
    """Long-poll the events until a code cell's `cell_validated` is stored; all events so far."""
    events: list[dict] = []
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        after = events[-1]["seq"] if events else 0
        page = srv.json("GET", f"cookbook/generations/{gen_id}/events?after={after}&timeout=5")
        events += page["events"]
        for e in page["events"]:
            if e["type"] == "cell_validated" and e["data"]["cell"]["cell_type"] == "code":
                return events
        if page["done"]:
            pytest.fail(f"the generation ended before validating a code cell: {events[-3:]}")
    pytest.fail(f"no code cell was validated within {EVENT_TIMEOUT:.0f} s: {events[-3:]}\n{srv.log_tail()}")


def test_a_killed_server_leaves_an_interrupted_generation_with_its_validated_cell(server):
    server.start()
    # Three code cells, held at a gate after the first: the gate never opens.
    body = {
        "source": "demo",
        "prompt": "[scripted cells=3 delay=0 gate=gates/restart hold=1]",
        "provider": "offline",
    }
    gen_id = server.json("POST", "cookbook/generations", body)["id"]
    events = _wait_for_validated_code_cell(server, gen_id)
    validated = [e["data"]["cell"] for e in events if e["type"] == "cell_validated"]
    code = [c for c in validated if c["cell_type"] == "code"]
    assert [c["source"] for c in code] == ["print('cell 1', 1 * 1)"]
    assert code[0]["outputs"][0]["text"] == "cell 1 1\n"
    assert server.json("GET", f"cookbook/generations/{gen_id}")["status"] == "running"

    server.orphans = _children(server.proc.pid)
    server.kill()
    server.start()

    state = server.json("GET", f"cookbook/generations/{gen_id}")
    assert state["status"] == "interrupted", state.get("message")
    assert [c["source"] for c in state["cells"]] == [c["source"] for c in validated]
    [kept] = [c for c in state["cells"] if c["cell_type"] == "code"]
    assert kept["outputs"][0]["text"] == "cell 1 1\n"

    # Everything stored before the kill is still there, and the stream is closed.
    page = server.json("GET", f"cookbook/generations/{gen_id}/events?after=0&timeout=0")
    assert page["done"] is True
    assert [e["seq"] for e in page["events"][: len(events)]] == [e["seq"] for e in events]

    code_, raw = server.call("GET", f"cookbook/generations/{gen_id}/notebook")
    assert code_ == 200
    nb = nbformat.reads(raw.decode(), as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells] == [c["source"] for c in validated]
    [cell] = [c for c in nb.cells if c.cell_type == "code"]
    assert cell.outputs[0]["text"] == "cell 1 1\n"
