"""Start a real Jupyter server with Cookbook enabled, as a subprocess on 127.0.0.1, for benchmarks.

    with JupyterServer(tmp, cookbook={"anthropic_base_url": fake.base_url},
                       env={"ANTHROPIC_API_KEY": "sk-ant-bench-..."}) as server:
        server.get("cookbook/status")

The server gets a config folder of its own (JUPYTER_CONFIG_DIR) holding every setting, a random
token, and a log file under the temporary folder. On exit it shuts down every kernel through the
REST API, asks the server to stop (POST api/shutdown), and terminates, then kills, its process
group if it lingers, so no kernel outlives the benchmark.

With COOKBOOK_SLOW_CALLBACK_MS=N in the environment, the server logs every event-loop callback
that ran for N ms or more, with the stack the loop was in at that moment (a watchdog thread
samples it), to its log (keep it with `load.py --keep`).
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
from pathlib import Path
from typing import Any

import httpx

# Run in the server process before Jupyter: times every asyncio callback (Handle._run) and, for
# the slow ones, prints the main thread's stack as a watchdog saw it while the callback ran.
_SLOW_CALLBACK_PRELUDE = r"""
import asyncio.events, os, runpy, sys, threading, time, traceback

limit = float(os.environ["COOKBOOK_SLOW_CALLBACK_MS"]) / 1000
state = {"start": 0.0, "stacks": [], "thread": None}
original = asyncio.events.Handle._run


def timed(self):
    state["thread"] = threading.get_ident()
    state["stacks"] = []
    state["start"] = started = time.perf_counter()
    try:
        return original(self)
    finally:
        state["start"] = 0.0
        took = time.perf_counter() - started
        if took >= limit:
            where = "".join(
                f"  -- sample at {at * 1000:.0f} ms\n" + "".join(stack) for at, stack in state["stacks"]
            )
            sys.stderr.write(
                f"SLOW-CALLBACK {took * 1000:.0f} ms at {time.time():.3f}: {self!r:.300}\n{where}"
            )


def watch():
    # Up to 6 samples of the loop thread's stack, every limit/2, while one callback runs.
    while True:
        time.sleep(limit / 4)
        started = state["start"]
        if not started:
            continue
        elapsed = time.perf_counter() - started
        stacks = state["stacks"]
        if len(stacks) < 6 and elapsed >= limit / 2 * (len(stacks) + 1):
            frame = sys._current_frames().get(state["thread"])
            if frame is not None and state["start"] == started:
                stacks.append((elapsed, traceback.format_stack(frame)[-10:]))


asyncio.events.Handle._run = timed
threading.Thread(target=watch, name="slow-callback-watchdog", daemon=True).start()
sys.argv = ["jupyter_server"]
runpy.run_module("jupyter_server", run_name="__main__", alter_sys=True)
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterServer:
    def __init__(
        self,
        tmp: Path,
        *,
        cookbook: dict[str, Any] | None = None,
        server: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        self.tmp = Path(tmp)
        self.root_dir = self.tmp / "root"
        self.data_dir = self.tmp / "data"
        self.config_dir = self.tmp / "config"
        self.runtime_dir = self.tmp / "runtime"
        self.log_path = self.tmp / "server.log"
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.cookbook = {"data_dir": str(self.data_dir), **(cookbook or {})}
        self.server = server or {}
        self.extra_env = env or {}
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self.client: httpx.Client | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> JupyterServer:
        for folder in (self.root_dir, self.data_dir, self.config_dir, self.runtime_dir):
            folder.mkdir(parents=True, exist_ok=True)
        config = {
            "ServerApp": {
                "ip": "127.0.0.1",
                "port": self.port,
                "port_retries": 0,
                "open_browser": False,
                "allow_root": True,
                "root_dir": str(self.root_dir),
                "jpserver_extensions": {"cookbook_ext": True},
                **self.server,
            },
            "IdentityProvider": {"token": self.token},
            "CookbookApp": self.cookbook,
        }
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(config, indent=2))
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.config_dir),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self._log_file = open(self.log_path, "wb")
        command = [sys.executable, "-m", "jupyter_server"]
        if env.get("COOKBOOK_SLOW_CALLBACK_MS"):
            command = [sys.executable, "-c", _SLOW_CALLBACK_PRELUDE]
        self.proc = subprocess.Popen(
            command,
            cwd=self.root_dir,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kernels included, for the final kill
        )
        self.client = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=httpx.Timeout(30.0))
        self._wait_ready()
        return self

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def _wait_ready(self) -> None:
        assert self.proc is not None and self.client is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the Jupyter server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if self.client.get("api/status", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"the Jupyter server did not answer in {self.start_timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def running_kernels(self) -> list[dict[str, Any]]:
        assert self.client is not None
        return list(self.client.get("api/kernels", timeout=10.0).json())

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.poll() is None and self.client is not None:
                try:
                    for kernel in self.running_kernels():
                        self.client.delete(f"api/kernels/{kernel['id']}", timeout=15.0)
                except (httpx.HTTPError, ValueError):
                    pass
                try:
                    self.client.post("api/shutdown", timeout=10.0)
                except httpx.HTTPError:
                    pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    proc.wait(timeout=10)
            # Anything left in the server's process group (a kernel the server lost track of).
            self._signal_group(signal.SIGKILL)
        finally:
            if self.client is not None:
                self.client.close()
            if self._log_file is not None:
                self._log_file.close()
            self.proc = None

    def _signal_group(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # the group this object started (start_new_session)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> JupyterServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests --------------------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> Any:
        assert self.client is not None
        response = self.client.get(path, **kwargs)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any], **kwargs: Any) -> Any:
        assert self.client is not None
        response = self.client.post(path, json=body, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text[:500]}")
        return response.json()
