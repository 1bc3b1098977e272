"""The threaded HTTP server under the fake model APIs: replays a script, records every request.

Subclasses say how a reply is rendered (`render`) and how usage is simulated; this part serves,
records, waits out delays while watching for the client hanging up, and shuts down cleanly.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .script import RecordedRequest, Reply, ScriptEntry


class ScriptExhausted(AssertionError):
    pass


class FakeModelServer:
    """Base for `FakeAnthropic` and `FakeOpenAI`.

    `with Fake(script) as fake:` starts the server on 127.0.0.1 (a free port) and stops it on exit;
    `fake.base_url` is what the SDK takes, `fake.requests` what it sent, `fake.add(...)` appends
    replies, `fake.wait_for_requests(n)` blocks until n requests arrived.
    """

    # Where the SDK's base_url points, relative to the server root.
    url_prefix = ""

    def __init__(self, script: Iterable[ScriptEntry] = (), *, strict: bool = True) -> None:
        self._script: deque[ScriptEntry] = deque(script)
        self.strict = strict
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # requests the fake rejected as malformed (strict mode)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeModelServer:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake server is not running"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.url_prefix}"

    # -- script ----------------------------------------------------------------------------

    def add(self, *entries: ScriptEntry) -> None:
        with self._lock:
            self._script.extend(entries)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def aborted(self) -> list[RecordedRequest]:
        """Requests whose client hung up before the answer was sent."""
        return [r for r in self.requests if r.aborted]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.requests)} requests arrived, expected {count}")
                self._arrived.wait(left)

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter:04d}"

    # -- for subclasses --------------------------------------------------------------------

    def handles(self, method: str, path: str) -> bool:
        raise NotImplementedError

    def validate(self, request: RecordedRequest) -> Reply | None:
        """A 400 reply when a strict fake finds the request invalid, else None."""
        return None

    def render(self, reply: Reply, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def exhausted_reply(self) -> Reply:
        return Reply(
            status=500,
            message="fake server: the script has no reply left for this request",
            headers={"x-should-retry": "false"},
        )

    # -- serving ---------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> ScriptEntry | None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
            return self._script.popleft() if self._script else None

    def _respond(self, handler: _Handler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=method,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            raw=raw,
            body=body if isinstance(body, dict) else None,
        )
        if not self.handles(method, handler.path.split("?", 1)[0]):
            handler._send(
                404, {"content-type": "application/json"}, b'{"error": "no such route in the fake"}'
            )
            return
        entry = self._record(request)
        if entry is None:
            reply = self.exhausted_reply()
        elif callable(entry):
            reply = entry(request)
        else:
            reply = entry
        if self.strict and not reply.is_error and reply.body is None and not reply.hang_up:
            problem = self.validate(request)
            if problem is not None:
                self.errors.append(problem.message or "invalid request")
                reply = problem
        if reply.delay and not self._wait(handler.connection, reply.delay):
            request.aborted = True
            handler.close_connection = True
            return
        if reply.hang_up:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status, headers, payload = self.render(reply, request)
        handler._send(status, headers, payload)

    def _wait(self, conn: socket.socket, delay: float) -> bool:
        """Sleep `delay` seconds; False as soon as the client closes the connection."""
        deadline = time.monotonic() + delay
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if self._stopping.is_set():
                return False
            readable, _, _ = select.select([conn], [], [], min(left, 0.02))
            if readable:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
                # The client sent more bytes (pipelining); not a hang-up. Keep waiting.
                time.sleep(min(left, 0.02))


class _Handler(BaseHTTPRequestHandler):
    owner: FakeModelServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.owner._respond(self, "POST")

    def do_GET(self) -> None:
        self.owner._respond(self, "GET")

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def estimate_tokens(value: Any) -> int:
    """A stable stand-in for a tokenizer: about four characters a token."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return max(1, len(text) // 4)
