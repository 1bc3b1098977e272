"""A recipe catalogue on 127.0.0.1: an index (index.json) and pack .zip files, which a test edits
while it runs (publishing a pack is editing the index), redirects, and stops (a catalogue down)."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler
from typing import Any

from .loopback import LoopbackServer


def make_pack(
    files: dict[str, str | bytes], *, modes: dict[str, int] | None = None, links: dict[str, str] | None = None
) -> bytes:
    """A .zip of `files` (name -> content); `modes` sets a member's Unix mode bits, `links` adds
    symbolic links (name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            archive.writestr(info, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o777 | 0o120000) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


class FakeCatalog(LoopbackServer):
    thread_name = "fake-catalog"

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []

    def start(self) -> FakeCatalog:
        catalog = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                with catalog._lock:
                    catalog.requests.append(path)
                    body = catalog.files.get(path)
                    target = catalog.redirects.get(path)
                if target is not None:
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._serve(Handler)
        return self

    def url(self, path: str = "/index.json") -> str:
        return f"http://127.0.0.1:{self._port}{path}"

    def publish(
        self,
        pack_id: str,
        version: str,
        files: dict[str, str | bytes],
        *,
        recipes: list[str],
        sha256: str | None = None,
        url: str | None = None,
        **zip_options: Any,
    ) -> dict[str, Any]:
        """Serve a pack's .zip and list it in the index (replacing an entry of the same id)."""
        data = make_pack(files, **zip_options)
        name = f"/packs/{pack_id}-{version}.zip"
        entry = {
            "id": pack_id,
            "version": version,
            "description": f"The {pack_id} pack",
            "recipes": recipes,
            "url": url or name.lstrip("/"),  # relative to the index
            "sha256": sha256 or hashlib.sha256(data).hexdigest(),
        }
        with self._lock:
            self.files[name] = data
            self.entries = [e for e in self.entries if e["id"] != pack_id] + [entry]
            self.files["/index.json"] = json.dumps({"packs": self.entries}).encode()
        return entry

    def set_index(self, raw: bytes) -> None:
        with self._lock:
            self.files["/index.json"] = raw
