"""The lifecycle the small fake services share: a threaded HTTP server on 127.0.0.1 at a free port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """Subclasses pick the handler in `start()` (via `_serve`) and say how their URL reads.

    `_release` is what stalling handlers wait on; `stop()` sets it so no request outlives the
    server. `_port` survives `stop()`, so a test can aim at the now-closed port (connection refused).
    """

    thread_name = "fake-server"

    def __init__(self) -> None:
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def _serve(self, handler: type[BaseHTTPRequestHandler], **server_attrs: Any) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False
        for name, value in server_attrs.items():
            setattr(server, name, value)
        self._server = server
        self._port = server.server_address[1]
        self._release.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        """Close the listening socket: from now on the service is unreachable."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
