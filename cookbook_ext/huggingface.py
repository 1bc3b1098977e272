"""Hugging Face Hub access: model metadata with its model card (cached, with a stale fallback) and search.

Everything goes through huggingface_hub's own client, session and error types, so an `endpoint` (a mirror,
or a fake server in the tests) and HF_HUB_OFFLINE behave as they do for the rest of the Hugging Face stack.
When the Hub is unreachable or switched off and Cookbook has no copy of its own, a model's card, config
and revision come from the local Hugging Face cache (huggingface_hub's cache API), marked `from_cache`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, Protocol
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi, ModelInfo, get_session, get_token, hf_hub_url, try_to_load_from_cache
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

from cookbook_ext.errors import (
    AuthRequired,
    BadRequest,
    CookbookError,
    Forbidden,
    NotFound,
    Upstream,
    UpstreamTimeout,
)
from cookbook_ext.markdown import atx_heading, headings, split_sections, unclosed_fence

__all__ = [
    "HubClient",
    "MemoryModelCache",
    "ModelCache",
    "default_hf_token",
    "read_local_cache",
    "split_model_card",
    "validate_model_id",
]

logger = logging.getLogger(__name__)

LIBRARY_NAME = "cookbook_ext"

# The Hub's own limits: a namespace and a name of at most 96 characters each, word characters, '-' and '.',
# neither starting nor ending with '-' or '.', and no '--' or '..' (which the Hub reserves).
_ID_PART = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$")
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$")
_TASK = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

MAX_QUERY_LENGTH = 200
MAX_SEARCH_LIMIT = 100
MAX_FILES = 1000
# A model card is read for its prose and snippets; anything past this is not worth holding in memory.
MAX_README_BYTES = 512 * 1024
MAX_CARD_DATA_VALUE_CHARS = 20_000

CARD_LIMITS = {
    "text": 40_000,
    "description": 2_000,
    "usage": 8_000,
    "limitations": 3_000,
    "citation": 2_000,
}

# Our names for the Hub's sort keys (huggingface_hub's own spellings, and the Hub's).
_SORT_KEYS = {
    "downloads": "downloads",
    "likes": "likes",
    "last_modified": "lastModified",
    "lastModified": "lastModified",
    "created_at": "createdAt",
    "createdAt": "createdAt",
    "trending_score": "trendingScore",
    "trendingScore": "trendingScore",
}
# Ask for exactly what a search result shows: the Hub's default listing has no lastModified.
_SEARCH_EXPAND = ("downloads", "likes", "pipeline_tag", "library_name", "tags", "lastModified")


# --------------------------------------------------------------------------------------------------- cache


class ModelCache(Protocol):
    """Where model metadata is kept between fetches; the server backs this with its store."""

    def get(self, key: str) -> tuple[dict, float] | None:
        """The cached data and when it was fetched (epoch seconds), or None."""
        ...

    def put(self, key: str, data: dict) -> None:
        """Keep `data` as fetched now."""
        ...


class MemoryModelCache:
    """A bounded in-process ModelCache, for tests and the CLI.

    Values are stored as JSON so a caller mutating a result cannot change what the next caller sees.
    """

    def __init__(self, *, max_entries: int = 512, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[dict, float] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
        raw, fetched_at = entry
        return json.loads(raw), fetched_at

    def put(self, key: str, data: dict) -> None:
        raw = json.dumps(data)
        with self._lock:
            self._entries[key] = (raw, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# ---------------------------------------------------------------------------------------------- validation


def validate_model_id(model_id: str) -> str:
    """Return `model_id` if it is a Hub model id ("owner/name", or a legacy "name"); BadRequest otherwise."""
    if not isinstance(model_id, str) or not model_id:
        raise BadRequest("A Hugging Face model id is required, like 'owner/name'.")
    shown = _shorten(model_id)
    if len(model_id) > 96 * 2 + 1:
        raise BadRequest(f"'{shown}' is too long to be a Hugging Face model id.")
    parts = model_id.split("/")
    if len(parts) > 2:
        raise BadRequest(
            f"'{shown}' is not a Hugging Face model id: use 'owner/name' "
            "(a URL or a path inside a repository is not an id)."
        )
    for part in parts:
        if not _ID_PART.fullmatch(part) or "--" in part or ".." in part:
            raise BadRequest(
                f"'{shown}' is not a valid Hugging Face model id: use 'owner/name', with letters, digits, "
                "'-', '_' and '.' only."
            )
    if model_id.endswith(".git"):
        raise BadRequest(f"'{shown}' is not a valid Hugging Face model id: drop the '.git'.")
    return model_id


def _validate_revision(revision: str | None) -> str | None:
    if revision is None:
        return None
    if (
        not isinstance(revision, str)
        or not _REVISION.fullmatch(revision)
        or ".." in revision
        or "//" in revision
        or revision.endswith("/")
    ):
        raise BadRequest(
            f"'{_shorten(str(revision))}' is not a valid revision: use a branch, a tag or a commit hash."
        )
    return revision


def _validate_search(query: str, task: str | None, limit: int, sort: str) -> tuple[str, str | None, str]:
    if not isinstance(query, str):
        raise BadRequest("The search query must be text.")
    query = query.strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise BadRequest(f"The search query is too long: at most {MAX_QUERY_LENGTH} characters.")
    if _CONTROL_CHARS.search(query):
        raise BadRequest("The search query contains control characters.")
    if task is not None and (not isinstance(task, str) or not _TASK.fullmatch(task)):
        raise BadRequest(
            f"'{_shorten(str(task))}' is not a Hugging Face task: "
            "use a pipeline tag such as 'text-generation'."
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise BadRequest(f"The search limit must be a whole number from 1 to {MAX_SEARCH_LIMIT}.")
    hub_sort = _SORT_KEYS.get(sort) if isinstance(sort, str) else None
    if hub_sort is None:
        choices = ", ".join(k for k in _SORT_KEYS if "_" in k or k in ("downloads", "likes"))
        raise BadRequest(f"Models can be sorted by {choices}; not by '{_shorten(str(sort))}'.")
    return query, task, hub_sort


def _validate_endpoint(endpoint: str) -> str:
    # A configuration mistake, not a user's request: ValueError, for whoever wires the client.
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{_shorten(endpoint)!r} is not a Hugging Face Hub address: use an http(s) URL.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("The Hugging Face Hub address must not carry credentials, a query or a fragment.")
    return endpoint.rstrip("/")


def _shorten(value: str, limit: int = 80) -> str:
    value = _CONTROL_CHARS.sub("?", value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def default_hf_token() -> str | None:
    """The token huggingface_hub itself would use (HF_TOKEN, or a `hf auth login`), for wiring a HubClient."""
    return get_token()


# --------------------------------------------------------------------------------------------------- client


class HubClient:
    """Blocking access to the Hub; call it off the event loop.

    `token=None` means anonymous: the client never picks up a token on its own, so what it can see is
    exactly what its creator decided (see `default_hf_token`).
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        cache: ModelCache | None = None,
        ttl: float = 3600.0,
        timeout: float = 15.0,
        local_cache_dir: str | Path | None = None,
        use_local_cache: bool = True,
    ) -> None:
        if ttl < 0:
            raise ValueError("ttl must not be negative")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        # token=False tells huggingface_hub not to fall back to a token found in the environment.
        self._api = HfApi(endpoint=endpoint, token=token or False, library_name=LIBRARY_NAME)
        self._endpoint = _validate_endpoint(self._api.endpoint)
        self._api.endpoint = self._endpoint
        self._token = token or None
        self._cache = cache
        self._ttl = ttl
        self._timeout = timeout
        # The Hugging Face cache to fall back on (None: huggingface_hub's own, HF_HUB_CACHE or HF_HOME).
        self._local_cache_dir = local_cache_dir
        self._use_local_cache = use_local_cache

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def has_token(self) -> bool:
        return self._token is not None

    # ------------------------------------------------------------------------------------------ model info

    def model_info(self, model_id: str, *, revision: str | None = None, refresh: bool = False) -> dict:
        """Metadata, files and the split model card of one model; from the cache while it is fresh.

        When the Hub cannot be reached (or HF_HUB_OFFLINE is set) and a cached copy exists, that copy comes
        back with `stale: True`; without one, what the local Hugging Face cache holds for the model (card,
        config, revision, file names) comes back with `stale` and `from_cache` true and a `message`.
        """
        model_id = validate_model_id(model_id)
        revision = _validate_revision(revision)
        key = f"{model_id}@{revision or 'main'}"

        cached = self._cache_get(key)
        if cached is not None and cached[0].get("private") and self._token is None:
            # A private model someone else fetched with a token stays invisible without one.
            cached = None
        if cached is not None and not refresh and time.time() - cached[1] < self._ttl:
            return self._answer(model_id, cached[0], cached[1], stale=False)

        try:
            data = self._fetch_model(model_id, revision)
        except (Upstream, UpstreamTimeout) as err:
            if cached is None:
                local = self._from_local_cache(model_id, revision, err)
                if local is None:
                    raise
                return local
            logger.warning("Hugging Face Hub unavailable for %s (%s); serving the cached copy", model_id, err)
            return self._answer(model_id, cached[0], cached[1], stale=True)
        self._cache_put(key, data)
        # The cache stamps what it keeps; answer with that stamp so later (cached) answers match this one.
        stored = self._cache_get(key)
        fetched_at = stored[1] if stored is not None else time.time()
        return self._answer(model_id, data, fetched_at, stale=False)

    def _answer(self, model_id: str, data: dict, fetched_at: float, *, stale: bool) -> dict:
        self._require_access(data.get("id", model_id), data.get("gated"))
        return {**data, "fetched_at": fetched_at, "stale": stale, "from_cache": False}

    def _from_local_cache(self, model_id: str, revision: str | None, err: CookbookError) -> dict | None:
        """The model as the local Hugging Face cache has it, when the Hub failed with `err`; None when
        the cache holds nothing of it (or is switched off)."""
        if not self._use_local_cache:
            return None
        try:
            found = read_local_cache(model_id, revision, cache_dir=self._local_cache_dir)
        except Exception:  # a damaged cache is no reason to hide the Hub's own error
            logger.warning("Could not read the local Hugging Face cache for %s", model_id, exc_info=True)
            return None
        if found is None:
            return None
        why = "HF_HUB_OFFLINE is set" if err.code == "hub_offline" else "the Hub could not be reached"
        logger.info("Hugging Face Hub unavailable for %s (%s); using the local cache", model_id, err.code)
        return {
            **found,
            "stale": True,
            "from_cache": True,
            "message": f"from local cache ({why}): the card, config and revision cached on this machine",
        }

    def _require_access(self, model_id: str, gated: Any) -> None:
        # The Hub shows a gated model's card to anyone, but its weights only to accepted users: without a
        # token, nothing generated from this model could run, so say so before any work starts.
        if gated and self._token is None:
            raise AuthRequired(
                f"'{model_id}' is a gated model: accept its conditions at {self._endpoint}/{model_id}, "
                "then add an HF_TOKEN (a Hugging Face access token) to Cookbook's secrets.",
                code="hf_gated",
                details={"model_id": model_id, "gated": gated},
            )

    def _fetch_model(self, model_id: str, revision: str | None) -> dict:
        try:
            info = self._api.model_info(
                model_id, revision=revision, files_metadata=True, timeout=self._timeout
            )
        except Exception as exc:
            self._raise_hub_error(exc, model_id=model_id, revision=revision)
        if not isinstance(getattr(info, "id", None), str):
            raise Upstream("The Hugging Face Hub answered with model data Cookbook could not read.")
        self._require_access(info.id, info.gated)

        names = [s.rfilename for s in info.siblings] if info.siblings is not None else None
        readme = ""
        if names is None or "README.md" in names:
            readme = self._fetch_readme(model_id, info.sha or revision or "main")
        return _model_dict(info, readme)

    def _fetch_readme(self, model_id: str, revision: str) -> str:
        url = hf_hub_url(model_id, "README.md", revision=revision, endpoint=self._endpoint)
        headers = build_hf_headers(token=self._token or False, library_name=LIBRARY_NAME)
        try:
            with get_session().stream("GET", url, headers=headers, timeout=self._timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    hf_raise_for_status(response)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= MAX_README_BYTES:
                        break
        except RemoteEntryNotFoundError:
            return ""
        except HfHubHTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return ""
            self._raise_hub_error(exc, model_id=model_id, revision=revision)
        except Exception as exc:
            self._raise_hub_error(exc, model_id=model_id, revision=revision)
        return b"".join(chunks)[:MAX_README_BYTES].decode("utf-8", errors="replace")

    # ---------------------------------------------------------------------------------------------- search

    def search(
        self, query: str, *, task: str | None = None, limit: int = 20, sort: str = "downloads"
    ) -> list[dict]:
        """Models matching `query` (and the pipeline tag `task`), most downloaded (or `sort`) first."""
        query, task, hub_sort = _validate_search(query, task, limit, sort)
        # The same request HfApi.list_models sends, made once with our timeout: list_models has no timeout
        # and retries with back-off for about 20 s, too long for a search box.
        params: dict[str, Any] = {"sort": hub_sort, "limit": limit, "expand": list(_SEARCH_EXPAND)}
        if query:
            params["search"] = query
        if task:
            params["pipeline_tag"] = task
        headers = build_hf_headers(token=self._token or False, library_name=LIBRARY_NAME)
        try:
            response = get_session().get(
                f"{self._endpoint}/api/models", params=params, headers=headers, timeout=self._timeout
            )
            hf_raise_for_status(response)
            items = response.json()
            if not isinstance(items, list):
                raise ValueError("model search did not answer with a list")
            models = [ModelInfo(**{"siblings": None, **item}) for item in items[:limit]]
        except Exception as exc:
            self._raise_hub_error(exc, model_id=None, revision=None)
        return [_search_result(info) for info in models]

    # ---------------------------------------------------------------------------------------------- errors

    def _raise_hub_error(self, exc: Exception, *, model_id: str | None, revision: str | None) -> NoReturn:
        """Raise what huggingface_hub raised as a domain error the user can act on; re-raise the unknown."""
        mapped = self._hub_error(exc, model_id=model_id, revision=revision)
        if mapped is None:
            raise exc
        raise mapped from exc

    def _hub_error(
        self, exc: Exception, *, model_id: str | None, revision: str | None
    ) -> CookbookError | None:
        hub = urlsplit(self._endpoint).netloc
        subject = f"'{model_id}'" if model_id else "the model search"
        if isinstance(exc, CookbookError):
            return exc
        if isinstance(exc, OfflineModeIsEnabled):
            return Upstream(
                "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE is set); "
                "unset it to look models up.",
                code="hub_offline",
            )
        if isinstance(exc, GatedRepoError):
            if self._token is None:
                return AuthRequired(
                    f"{subject} is a gated model: accept its conditions at {self._endpoint}/{model_id}, "
                    "then add an HF_TOKEN (a Hugging Face access token) to Cookbook's secrets.",
                    code="hf_gated",
                )
            return Forbidden(
                f"{subject} is a gated model and the HF_TOKEN in use has not been granted access: request "
                f"access at {self._endpoint}/{model_id}, then try again.",
                code="hf_gated",
            )
        if isinstance(exc, RepositoryNotFoundError):
            status = exc.response.status_code if exc.response is not None else 404
            if status == 401 and self._token is None:
                return AuthRequired(
                    f"Model {subject} was not found on the Hugging Face Hub, or it is private. Check the id; "
                    "if it is private, add an HF_TOKEN (a Hugging Face access token) to Cookbook's secrets.",
                    code="hf_not_found_or_private",
                )
            return NotFound(
                f"Model {subject} was not found on the Hugging Face Hub"
                + (" (or the HF_TOKEN in use cannot see it)." if self._token else ".")
            )
        if isinstance(exc, RevisionNotFoundError):
            return NotFound(
                f"Revision '{revision}' of model {subject} was not found on the Hugging Face Hub."
            )
        if isinstance(exc, HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else 0
            if status == 401:
                return AuthRequired(
                    "The Hugging Face Hub rejected the HF_TOKEN: it may be invalid or expired. "
                    "Replace it in Cookbook's secrets.",
                    code="hf_bad_token",
                )
            if status == 403:
                return Forbidden(
                    f"The Hugging Face Hub refused access to {subject}. "
                    "Check that the HF_TOKEN in use may read it."
                )
            if status == 429:
                return Upstream(
                    "The Hugging Face Hub is rate-limiting requests; try again in a minute.",
                    code="rate_limited",
                )
            if status >= 500:
                return Upstream(f"The Hugging Face Hub ({hub}) had an error ({status}); try again later.")
            return Upstream(f"The Hugging Face Hub ({hub}) answered unexpectedly ({status}) for {subject}.")
        if isinstance(exc, httpx2.TimeoutException):
            return UpstreamTimeout(
                f"The Hugging Face Hub ({hub}) did not answer within {self._timeout:g} seconds; "
                "try again later."
            )
        if isinstance(exc, (httpx2.TransportError, ConnectionError)):
            return Upstream(
                f"The Hugging Face Hub ({hub}) could not be reached. Check the network connection "
                "(and HF_ENDPOINT, if set) and try again."
            )
        if isinstance(exc, (ValueError, KeyError, TypeError)):
            return Upstream(f"The Hugging Face Hub ({hub}) answered with data Cookbook could not read.")
        return None

    # ----------------------------------------------------------------------------------------------- cache

    def _cache_get(self, key: str) -> tuple[dict, float] | None:
        if self._cache is None:
            return None
        try:
            return self._cache.get(key)
        except Exception:
            # A broken cache must not turn a reachable Hub into an error.
            logger.warning("Model cache read failed for %s", key, exc_info=True)
            return None

    def _cache_put(self, key: str, data: dict) -> None:
        if self._cache is None:
            return
        try:
            self._cache.put(key, data)
        except Exception:
            logger.warning("Model cache write failed for %s", key, exc_info=True)


# ------------------------------------------------------------------------------------------ local cache

MAX_CONFIG_BYTES = 1024 * 1024
_CONFIG_KEEP_CHARS = 2_000  # per value, for a config too large to keep whole
_FRONT_MATTER_KEYS = ("library_name", "pipeline_tag", "license", "tags", "language", "base_model", "datasets")


def read_local_cache(
    model_id: str, revision: str | None = None, *, cache_dir: str | Path | None = None
) -> dict | None:
    """What the local Hugging Face cache holds for `model_id` at `revision` (default "main"): the model
    dict of `model_info` (id, sha, card, card data from the card's front matter, library and task where
    the card names them, the cached files) plus `config` (config.json) and `fetched_at` (when the
    revision was cached). None when nothing of the model is cached. Reads files only, no network."""
    model_id = validate_model_id(model_id)
    ref = _validate_revision(revision) or "main"
    folder = Path(cache_dir if cache_dir is not None else hf_constants.HF_HUB_CACHE)
    snapshot: Path | None = None
    for name in ("README.md", "config.json"):
        path = try_to_load_from_cache(model_id, name, cache_dir=folder, revision=ref)
        if isinstance(path, str):
            snapshot = Path(path).parent
            break
    repo_folder = folder / repo_folder_name(repo_id=model_id, repo_type="model")
    if snapshot is None:  # neither file: the revision's snapshot may still hold others (weights)
        ref_file = repo_folder / "refs" / ref
        sha = ref_file.read_text(errors="replace").strip() if ref_file.is_file() else ref
        candidate = repo_folder / "snapshots" / sha
        if not sha or "/" in sha or sha.startswith(".") or not candidate.is_dir():
            return None
        snapshot = candidate
    sha = snapshot.name
    files = _snapshot_files(snapshot)
    readme = _read_capped(snapshot / "README.md", MAX_README_BYTES)
    config = _read_config(snapshot / "config.json")
    card_data = _front_matter_fields(readme)
    tags = [t for t in card_data.get("tags") or [] if isinstance(t, str)]
    library = card_data.get("library_name")
    if not isinstance(library, str):
        names = {f["path"] for f in files}
        if "config_sentence_transformers.json" in names or "modules.json" in names:
            library = "sentence-transformers"
        elif isinstance(config, dict) and ("model_type" in config or "architectures" in config):
            library = "transformers"
        else:
            library = None
    stamp = repo_folder / "refs" / ref
    fetched_at = (stamp if stamp.is_file() else snapshot).stat().st_mtime
    pipeline_tag = card_data.get("pipeline_tag")
    return {
        "id": model_id,
        "author": model_id.split("/")[0] if "/" in model_id else None,
        "sha": sha,
        "created_at": None,
        "last_modified": None,
        "downloads": 0,
        "likes": 0,
        "tags": tags,
        "pipeline_tag": pipeline_tag if isinstance(pipeline_tag, str) else None,
        "library_name": library,
        "gated": False,  # not known offline; the cached files are there to load
        "private": False,
        "license": _license(card_data.get("license"), tags),
        "card_data": card_data,
        "card": split_model_card(readme),
        "config": config,
        "files": files[:MAX_FILES],
        "files_truncated": len(files) > MAX_FILES,
        "parameters": None,
        "fetched_at": fetched_at,
    }


def _snapshot_files(snapshot: Path) -> list[dict]:
    """The files of a cached snapshot (links into the blob store), by path, with their sizes."""
    out: list[dict] = []
    for dirpath, dirnames, filenames in os.walk(snapshot):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                size = path.stat().st_size  # follows the link to the blob
            except OSError:
                continue  # a link whose blob is gone
            out.append({"path": path.relative_to(snapshot).as_posix(), "size": size})
            if len(out) > MAX_FILES:
                return out
    return out


def _read_capped(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _read_config(path: Path) -> dict | None:
    text = _read_capped(path, MAX_CONFIG_BYTES + 1)
    if not text or len(text) > MAX_CONFIG_BYTES:
        return None
    try:
        config = json.loads(text)
    except ValueError:
        return None
    if not isinstance(config, dict):
        return None
    if len(text) <= MAX_CARD_DATA_VALUE_CHARS:
        return config
    # A large config (a long label map): the values small enough to show.
    return {k: v for k, v in config.items() if len(json.dumps(v, default=str)) <= _CONFIG_KEEP_CHARS}


def _front_matter_fields(readme: str) -> dict[str, Any]:
    """The card's front-matter fields a notebook uses (library, task, licence, tags, ...), read line by
    line: plain `key: value` scalars and lists (`[a, b]` or `- a` lines). No YAML parser, so nothing in
    a card can expand in memory; anything else is left out."""
    match = _FRONT_MATTER.match(readme)
    if not match or not match.group(1):
        return {}
    out: dict[str, Any] = {}
    key: str | None = None
    for raw in match.group(1).splitlines()[:500]:
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace() and not line.startswith("-"):
            name, sep, value = line.partition(":")
            key = name.strip() if sep and name.strip() in _FRONT_MATTER_KEYS else None
            value = value.strip()
            if key is None or not value:
                continue
            if value.startswith("[") and value.endswith("]"):
                out[key] = [_scalar(v) for v in value[1:-1].split(",") if v.strip()]
            else:
                out[key] = _scalar(value)
            key = None
        elif key is not None and line.lstrip().startswith("- "):
            items = out.setdefault(key, [])
            if isinstance(items, list) and len(items) < 200:
                items.append(_scalar(line.lstrip()[2:]))
    return out


def _scalar(text: str) -> str:
    return text.strip().strip("'\"")[:200]


# ----------------------------------------------------------------------------------------- result shaping


def _model_dict(info: ModelInfo, readme: str) -> dict:
    siblings = info.siblings or []
    files = [{"path": s.rfilename, "size": s.lfs.size if s.lfs else s.size} for s in siblings[:MAX_FILES]]
    card_data = _json_safe(info.card_data.to_dict()) if info.card_data is not None else {}
    if not isinstance(card_data, dict):
        card_data = {}
    card_data = {
        k: v for k, v in card_data.items() if len(json.dumps(v, default=str)) <= MAX_CARD_DATA_VALUE_CHARS
    }
    parameters = None
    if info.safetensors is not None:
        parameters = info.safetensors.total
    elif isinstance(info.gguf, dict) and isinstance(info.gguf.get("total"), int):
        parameters = info.gguf["total"]
    gated = info.gated if info.gated in ("auto", "manual") else bool(info.gated)
    return {
        "id": info.id,
        "author": info.author or (info.id.split("/")[0] if "/" in info.id else None),
        "sha": info.sha,
        "created_at": info.created_at.isoformat() if info.created_at else None,
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "downloads": info.downloads or 0,
        "likes": info.likes or 0,
        "tags": list(info.tags or []),
        "pipeline_tag": info.pipeline_tag,
        "library_name": info.library_name,
        "gated": gated,
        "private": bool(info.private),
        "license": _license(card_data.get("license"), info.tags),
        "card_data": card_data,
        "card": split_model_card(readme),
        "files": files,
        "files_truncated": len(siblings) > MAX_FILES,
        "parameters": parameters if isinstance(parameters, int) else None,
    }


def _search_result(info: ModelInfo) -> dict:
    return {
        "id": info.id,
        "downloads": info.downloads or 0,
        "likes": info.likes or 0,
        "pipeline_tag": info.pipeline_tag,
        "library_name": info.library_name,
        "license": _license(None, info.tags),
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
    }


def _license(card_license: Any, tags: list[str] | None) -> str | None:
    if isinstance(card_license, list) and card_license and isinstance(card_license[0], str):
        return card_license[0]
    if isinstance(card_license, str) and card_license:
        return card_license
    for tag in tags or []:
        if isinstance(tag, str) and tag.startswith("license:") and len(tag) > len("license:"):
            return tag[len("license:") :]
    return None


def _json_safe(value: Any) -> Any:
    # Card metadata is user-written YAML: dates and other oddities become strings.
    return json.loads(json.dumps(value, default=str))


# -------------------------------------------------------------------------------------------- model cards

_FRONT_MATTER = re.compile(
    r"\A\ufeff?[ \t]*---[ \t]*\r?\n(.*?\r?\n)?[ \t]*(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S
)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
# What the Hub's card templates (and the Trainer's generated cards) leave where nobody wrote anything.
_PLACEHOLDER = re.compile(
    r"^\s*(?:[-*]\s*)?(?:\*\*[^*]*\*\*\s*:?\s*)?\[?More Information Needed\]?\.?\s*$", re.I
)

_CITATION_TITLE = re.compile(r"\b(citation|cite|citing|bibtex)\b")
_LIMITATIONS_TITLE = re.compile(
    r"\b(limitations?|bias(es)?|risks?|out[- ]of[- ]scope|caveats?|ethical considerations|known issues)\b"
)
_USAGE_TITLE = re.compile(
    r"\b(usage|how to use|how-to|how to get started|getting started|get started|quick ?start|quick-start"
    r"|examples?|inference|use with|using with|using the model|sample code|code snippets?)\b"
)


def split_model_card(readme: str) -> dict[str, str]:
    """Split a model card into its text (without YAML front matter) and the parts a notebook needs.

    `description` is what comes before the first usage, limitations or citation heading (or else the first
    section); `usage`, `limitations` and `citation` gather the sections titled like them, with their
    subsections and code. Each part is capped in length.
    """
    text = _FRONT_MATTER.sub("", readme, count=1).replace("\r\n", "\n").strip()

    # Each section is tagged with its kind; subsections inherit the kind of the section they sit in.
    tagged: list[tuple[int, str | None, list[str]]] = []
    capture: tuple[str, int] | None = None
    for section in split_sections(text):
        level, title, lines = section.level, section.heading, section.lines
        if level == 0:
            tagged.append((0, None, lines))
            continue
        if capture is not None and level > capture[1]:
            tagged.append((level, capture[0], lines))
            continue
        kind = _classify(title)
        capture = (kind, level) if kind is not None else None
        tagged.append((level, kind, lines))

    first_classified = next((i for i, (_, kind, _) in enumerate(tagged) if kind), len(tagged))
    description = _clean([line for _, _, lines in tagged[:first_classified] for line in lines])
    if not _has_prose(description):
        description = _clean(_first_unclassified_block(tagged))
    if not _has_prose(description):
        description = ""

    def gather(kind: str) -> str:
        return _clean([line for _, k, lines in tagged if k == kind for line in lines])

    return {
        "text": _cap(text, CARD_LIMITS["text"]),
        "description": _cap(description, CARD_LIMITS["description"]),
        "usage": _cap(gather("usage"), CARD_LIMITS["usage"]),
        "limitations": _cap(gather("limitations"), CARD_LIMITS["limitations"]),
        "citation": _cap(gather("citation"), CARD_LIMITS["citation"]),
    }


def _first_unclassified_block(tagged: list[tuple[int, str | None, list[str]]]) -> list[str]:
    """The first section that is neither usage, limitations nor citation, with its subsections."""
    for index, (level, kind, lines) in enumerate(tagged):
        if level == 0 or kind is not None:
            continue
        block = list(lines)
        for sub_level, sub_kind, sub_lines in tagged[index + 1 :]:
            if sub_level <= level or sub_kind is not None:
                break
            block.extend(sub_lines)
        return block
    return []


def _classify(title: str) -> str | None:
    plain = re.sub(r"[*_`\[\]()]", " ", title).lower()
    if _CITATION_TITLE.search(plain):
        return "citation"
    if _LIMITATIONS_TITLE.search(plain):
        return "limitations"
    if _USAGE_TITLE.search(plain):
        return "usage"
    return None


def _clean(lines: list[str]) -> str:
    """Without HTML comments, template placeholders, and the headings they leave empty."""
    text = _HTML_COMMENT.sub("", "\n".join(lines))
    kept = [line.rstrip() for line in text.split("\n") if not _PLACEHOLDER.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(_drop_empty_headings(kept))).strip()


def _drop_empty_headings(lines: list[str]) -> list[str]:
    # heading level of each line, None for content (code included)
    levels = [heading.level if heading else None for heading in headings(lines)]
    kept: list[str] = []
    following: int | None = None  # what comes next: None the end, 0 content, n a heading of level n
    for line, level in zip(reversed(lines), reversed(levels), strict=True):
        if not line.strip():
            kept.append(line)
        elif level is None:
            kept.append(line)
            following = 0
        elif following == 0 or (following is not None and following > level):
            kept.append(line)
            following = level
    return kept[::-1]


def _has_prose(text: str) -> bool:
    return any(line.strip() and atx_heading(line) is None for line in text.split("\n"))


def _cap(text: str, limit: int) -> str:
    """At most about `limit` characters, cut at a line break, with any open code fence closed."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if "\n" in cut[limit // 2 :]:
        cut = cut[: cut.rfind("\n")]
    fence = unclosed_fence(cut)
    if fence is not None:
        cut += "\n" + fence.marker
    return cut.rstrip() + "\n\n…"
