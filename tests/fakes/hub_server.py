"""A Hugging Face Hub stand-in on 127.0.0.1, for tests and benchmarks.

It speaks just enough of the Hub for `HfApi(endpoint=...)` and `hf_hub_download(..., endpoint=...)`:
model info (per revision, with file sizes), model search and file resolution, with the Hub's conventions
for private, gated and missing repositories. Requests are recorded; switches make it fail, hang or vanish.

    with FakeHub() as hub:
        hub.add_model("acme/tiny", readme="# Tiny\\n...", files={"model.safetensors": 1234})
        HfApi(endpoint=hub.url).model_info("acme/tiny")
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from tests.fakes.loopback import LoopbackServer

DEFAULT_TOKEN = "hf_fake_token_for_tests"
# The Hub lets anyone read these files of a gated repository; everything else needs an accepted request.
UNGATED_FILES = frozenset({"README.md", ".gitattributes"})
_SORT_FIELDS = {
    "downloads": "downloads",
    "likes": "likes",
    "lastModified": "lastModified",
    "createdAt": "createdAt",
    "trendingScore": "trendingScore",
}
_LIST_DEFAULT_FIELDS = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)


@dataclass
class HubRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass
class FakeModel:
    id: str
    readme: str | None = None
    files: dict[str, bytes | int] = field(default_factory=dict)  # int: a large (LFS) file of that size
    gated: bool | str = False
    private: bool = False
    downloads: int = 0
    likes: int = 0
    trending_score: int = 0
    pipeline_tag: str | None = None
    library_name: str | None = None
    tags: list[str] = field(default_factory=list)
    card_data: dict[str, Any] | None = None
    safetensors_total: int | None = None
    created_at: str = "2024-01-02T03:04:05.000Z"
    last_modified: str = "2024-06-07T08:09:10.000Z"
    revisions: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit

    @property
    def sha(self) -> str:
        return self.revisions["main"]

    def all_files(self) -> dict[str, bytes | int]:
        files: dict[str, bytes | int] = {
            ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
        }
        if self.readme is not None:
            files["README.md"] = self.readme.encode()
        files.update(self.files)
        return files

    def resolved_card_data(self) -> dict[str, Any] | None:
        if self.card_data is not None:
            return self.card_data
        if not self.readme or not self.readme.startswith("---"):
            return None
        end = self.readme.find("\n---", 3)
        if end < 0:
            return None
        data = yaml.safe_load(self.readme[3:end])
        return json.loads(json.dumps(data, default=str)) if isinstance(data, dict) else None


class FakeHub(LoopbackServer):
    """The fake Hub; use it as a context manager, or call start() and stop()."""

    thread_name = "fake-hub"

    def __init__(self, *, tokens: Iterable[str] = (DEFAULT_TOKEN,)) -> None:
        super().__init__()
        self.models: dict[str, FakeModel] = {}
        self.valid_tokens: set[str] = set(tokens)
        self.granted: dict[str, set[str]] = {}  # token -> gated model ids it may download
        self.fail_with: int | None = None  # answer every request with this status
        self.delay: float = 0.0  # seconds to wait before answering (for timeouts)
        self.requests: list[HubRequest] = []
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeHub:
        self._serve(_Handler, hub=self)
        return self

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fake Hub has not been started")
        return f"http://127.0.0.1:{self._port}"

    # ---------------------------------------------------------------------------------------------- data

    def add_model(self, model_id: str, **fields: Any) -> FakeModel:
        revisions = dict(fields.pop("revisions", {}))
        revisions.setdefault("main", hashlib.sha1(model_id.encode()).hexdigest())
        model = FakeModel(id=model_id, revisions=revisions, **fields)
        self.models[model_id.lower()] = model
        return model

    def grant(self, token: str, model_id: str) -> None:
        self.granted.setdefault(token, set()).add(model_id)

    def requests_to(self, path_prefix: str) -> list[HubRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------------------------------- serving

    def handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        segments = [unquote(s) for s in split.path.split("/")[1:]]
        request = HubRequest(
            method=handler.command,
            path="/" + "/".join(segments),
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
        )
        with self._lock:
            self.requests.append(request)
        if self.delay:
            self._release.wait(self.delay)
        if self.fail_with is not None:
            handler.send_json(self.fail_with, {"error": "The fake Hub is failing on purpose."})
            return

        token = request.token
        if token is not None and token not in self.valid_tokens:
            handler.send_json(
                401,
                {"error": "Invalid credentials in Authorization header"},
                {"X-Error-Message": "Invalid credentials in Authorization header"},
            )
            return
        if segments[:2] == ["api", "models"]:
            if len(segments) == 2:
                self._list_models(handler, request)
            else:
                self._model_info(handler, request, segments[2:])
            return
        for index in (1, 2):
            if len(segments) > index + 2 and segments[index] == "resolve":
                self._resolve(handler, request, "/".join(segments[:index]), segments[index + 1], segments)
                return
        handler.send_json(404, {"error": "Not Found"})

    def _find(self, handler: _Handler, request: HubRequest, model_id: str) -> FakeModel | None:
        model = self.models.get(model_id.lower())
        if model is None or (model.private and request.token is None):
            # Like the Hub: without a token a missing and a private repository look the same (401).
            status = 404 if request.token else 401
            handler.send_json(
                status,
                {"error": "Repository not found"},
                {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
            )
            return None
        return model

    def _commit(self, handler: _Handler, model: FakeModel, revision: str | None) -> str | None:
        revision = revision or "main"
        if revision in model.revisions:
            return model.revisions[revision]
        if revision in model.revisions.values():
            return revision
        handler.send_json(
            404,
            {"error": f"Invalid rev id: {revision}"},
            {"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {revision}"},
        )
        return None

    def _model_info(self, handler: _Handler, request: HubRequest, rest: list[str]) -> None:
        revision = None
        if len(rest) >= 3 and rest[-2] == "revision":
            revision, rest = rest[-1], rest[:-2]
        if not 1 <= len(rest) <= 2:
            handler.send_json(404, {"error": "Not Found"})
            return
        model = self._find(handler, request, "/".join(rest))
        if model is None:
            return
        sha = self._commit(handler, model, revision)
        if sha is None:
            return
        blobs = request.query.get("blobs", ["false"])[0].lower() == "true"
        handler.send_json(200, self._model_json(model, sha, blobs=blobs))

    def _model_json(self, model: FakeModel, sha: str, *, blobs: bool) -> dict[str, Any]:
        siblings = []
        for path, content in model.all_files().items():
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                if isinstance(content, int):
                    oid = hashlib.sha256(path.encode()).hexdigest()
                    sibling.update(
                        blobId=hashlib.sha1(path.encode()).hexdigest(),
                        size=content,
                        lfs={"sha256": oid, "size": content, "pointerSize": 134},
                    )
                else:
                    sibling.update(blobId=hashlib.sha1(content).hexdigest(), size=len(content))
            siblings.append(sibling)
        data: dict[str, Any] = {
            "_id": hashlib.md5(model.id.encode()).hexdigest()[:24],
            "id": model.id,
            "modelId": model.id,
            "author": model.id.split("/")[0] if "/" in model.id else None,
            "sha": sha,
            "lastModified": model.last_modified,
            "createdAt": model.created_at,
            "private": model.private,
            "gated": model.gated,
            "disabled": False,
            "downloads": model.downloads,
            "likes": model.likes,
            "trendingScore": model.trending_score,
            "library_name": model.library_name,
            "tags": list(model.tags),
            "pipeline_tag": model.pipeline_tag,
            "siblings": siblings,
            "spaces": [],
        }
        card_data = model.resolved_card_data()
        if card_data is not None:
            data["cardData"] = card_data
        if model.safetensors_total is not None:
            data["safetensors"] = {
                "parameters": {"F32": model.safetensors_total},
                "total": model.safetensors_total,
            }
        return {k: v for k, v in data.items() if v is not None}

    def _list_models(self, handler: _Handler, request: HubRequest) -> None:
        query = request.query
        search = query.get("search", [""])[0].lower()
        task = query.get("pipeline_tag", [None])[0]
        filters = query.get("filter", [])
        author = query.get("author", [None])[0]
        models = [
            m
            for m in self.models.values()
            if (not m.private or request.token)
            and search in m.id.lower()
            and (task is None or m.pipeline_tag == task)
            and (author is None or m.id.startswith(f"{author}/"))
            and all(f in m.tags or f in (m.pipeline_tag, m.library_name) for f in filters)
        ]
        sort = _SORT_FIELDS.get(query.get("sort", [""])[0])
        if sort is not None:
            models.sort(key=lambda m: self._model_json(m, m.sha, blobs=False)[sort], reverse=True)
        limit = int(query.get("limit", ["1000"])[0])
        expand = query.get("expand", []) + query.get("expand[]", [])
        fields = ("_id", "id", *expand) if expand else _LIST_DEFAULT_FIELDS
        items = []
        for model in models[:limit]:
            full = self._model_json(model, model.sha, blobs=False)
            items.append({f: full[f] for f in fields if f in full})
        handler.send_json(200, items)

    def _resolve(
        self, handler: _Handler, request: HubRequest, model_id: str, revision: str, segments: list[str]
    ) -> None:
        model = self._find(handler, request, model_id)
        if model is None:
            return
        sha = self._commit(handler, model, revision)
        if sha is None:
            return
        path = "/".join(segments[len(model_id.split("/")) + 2 :])
        if (
            model.gated
            and path not in UNGATED_FILES
            and model.id not in self.granted.get(request.token or "", ())
        ):
            status = 403 if request.token else 401
            message = f"Access to model {model.id} is restricted. You must have access to it."
            handler.send_json(
                status, {"error": message}, {"X-Error-Code": "GatedRepo", "X-Error-Message": message}
            )
            return
        content = model.all_files().get(path)
        if content is None:
            handler.send_json(
                404,
                {"error": "Entry not found"},
                {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"},
            )
            return
        headers = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes"}
        if isinstance(content, int):
            etag = hashlib.sha256(path.encode()).hexdigest()
            headers.update({"ETag": f'"{etag}"', "X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(content)})
            body = bytes(content)
            content_type = "application/octet-stream"
        else:
            headers["ETag"] = f'"{hashlib.sha1(content).hexdigest()}"'
            body = content
            content_type = "text/plain; charset=utf-8"
        handler.send_body(200, body, content_type, headers)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so a stopped server is unreachable at once.
    protocol_version = "HTTP/1.0"
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self.server.hub.handle(self)  # type: ignore[attr-defined]

    do_HEAD = do_GET

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers or {})

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass
