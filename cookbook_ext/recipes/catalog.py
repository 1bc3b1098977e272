"""Recipe catalogues: indexes an administrator publishes (`c.RecipeRegistry.catalog_urls`), each a
JSON document listing packs of recipes; installing a pack downloads its .zip, checks it against the
index's sha256, refuses anything but data (YAML recipes and Markdown) and any path that escapes,
and unpacks it into the user's recipe folder with a manifest of its version.

Publishing a new pack is an edit of the index: users see it on their next refresh, with no
release of Cookbook. Everything here blocks (HTTP, files): callers run it off the event loop.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import threading
import time
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import BadRequest, Conflict, CookbookError, Forbidden, NotFound, Upstream, UpstreamTimeout
from .format import RECIPE_ID, SEMVER, semver_key
from .loader import RECIPE_SUFFIXES, _FileProblem, parse_recipe

if TYPE_CHECKING:
    from .registry import RecipeRegistry

MANIFEST = "pack.json"
PACK_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
DATA_SUFFIXES = (*RECIPE_SUFFIXES, ".md", ".markdown")
MAX_INDEX_BYTES = 1_000_000
MAX_PACK_FILES = 200
MAX_PACK_UNPACKED = 5 * 1024 * 1024
MAX_REDIRECTS = 3


class PackEntry(BaseModel):
    """One pack as an index lists it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(pattern=PACK_ID)
    version: str = Field(pattern=SEMVER)
    description: str = Field("", max_length=2000)
    recipes: list[str] = Field(default_factory=list, max_length=100)
    url: str = Field(min_length=1, max_length=2048)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class CatalogError(Upstream):
    """A catalogue or a pack that cannot be used (unreachable, not JSON, wrong checksum, unsafe)."""


def check_url(url: str, *, allowed: list[str], what: str) -> str:
    """`url` if Cookbook may fetch it: http(s), a host, no credentials, and under one of
    `allowed` (URL prefixes) when there are any. BadRequest / Forbidden say why not."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port out of range
    except ValueError:
        raise BadRequest(f"The {what} URL {_clip(url)!r} is not a valid URL.") from None
    del port
    if parts.scheme not in ("http", "https"):
        raise BadRequest(f"The {what} URL {_clip(url)!r} must be http or https.", code="bad_url")
    if not parts.hostname:
        raise BadRequest(f"The {what} URL {_clip(url)!r} has no host.", code="bad_url")
    if parts.username or parts.password or "@" in parts.netloc:
        raise BadRequest(f"The {what} URL must not carry credentials.", code="bad_url")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise BadRequest(f"The {what} URL contains spaces or control characters.", code="bad_url")
    if allowed and not any(_under(url, prefix) for prefix in allowed):
        raise Forbidden(
            f"The {what} URL {_clip(url)!r} is not under an allowed catalogue "
            "(c.RecipeRegistry.allowed_catalogs).",
            code="catalog_not_allowed",
        )
    return url


def _under(url: str, prefix: str) -> bool:
    u, p = urlsplit(url), urlsplit(prefix)
    if (u.scheme, (u.hostname or "").lower(), u.port) != (p.scheme, (p.hostname or "").lower(), p.port):
        return False
    base = p.path if p.path.endswith("/") else p.path + "/"
    return u.path == p.path or u.path.startswith(base) or p.path in ("", "/")


class Catalog:
    """The catalogues of one registry and the packs installed in its user folder."""

    def __init__(self, registry: RecipeRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()

    # -- reading indexes --------------------------------------------------------------------------

    @property
    def packs_folder(self) -> Path:
        folder = self.registry.packs_folder
        if folder is None:
            raise Conflict("This Cookbook has no user folder to install packs into.")
        return folder

    def _client(self) -> Any:
        import httpx

        # No proxy or .netrc from the environment: nothing but the URL decides where a request
        # goes, and no credentials travel with it. Redirects are followed by hand, each checked.
        return httpx.Client(timeout=self.registry.catalog_timeout, follow_redirects=False, trust_env=False)

    def _get(self, client: Any, url: str, *, limit: int, what: str) -> tuple[str, bytes]:
        """(final URL, body) of a GET, at most `limit` bytes; CatalogError / UpstreamTimeout."""
        import httpx

        allowed = list(self.registry.allowed_catalogs)
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(url, allowed=allowed, what=what)
            try:
                with client.stream(
                    "GET", url, headers={"Accept": "application/json, application/zip"}
                ) as resp:
                    if resp.is_redirect and resp.headers.get("location"):
                        url = urljoin(url, resp.headers["location"])
                        continue
                    if resp.status_code != 200:
                        raise CatalogError(
                            f"The {what} at {_clip(url)} answered HTTP {resp.status_code}.",
                            code="catalog_unreachable",
                        )
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise CatalogError(
                            f"The {what} at {_clip(url)} is larger than {limit // 1_000_000 or 1} MB.",
                            code="too_large",
                        )
                    body = bytearray()
                    for chunk in resp.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise CatalogError(
                                f"The {what} at {_clip(url)} is larger than {limit // 1_000_000 or 1} MB.",
                                code="too_large",
                            )
                    return url, bytes(body)
            except httpx.TimeoutException:
                raise UpstreamTimeout(
                    f"The {what} at {_clip(url)} did not answer in time.", code="catalog_timeout"
                ) from None
            except httpx.HTTPError as err:
                raise CatalogError(
                    f"The {what} at {_clip(url)} cannot be reached ({type(err).__name__}).",
                    code="catalog_unreachable",
                ) from None
        raise CatalogError(
            f"The {what} at {_clip(url)} redirects too many times.", code="catalog_unreachable"
        )

    def _read_index(self, client: Any, url: str) -> list[tuple[PackEntry, str]]:
        """Each pack of the index at `url`, with its absolute download URL."""
        final, body = self._get(client, url, limit=MAX_INDEX_BYTES, what="catalogue index")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise CatalogError(
                f"The catalogue index at {_clip(url)} is not JSON.", code="catalog_not_json"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("packs"), list):
            raise CatalogError(
                f'The catalogue index at {_clip(url)} is not {{"packs": [...]}}.', code="catalog_not_json"
            )
        out = []
        for i, raw in enumerate(data["packs"][:1000]):
            try:
                entry = PackEntry.model_validate(raw)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                self.registry.log.warning(
                    "Cookbook catalogue %s: packs[%d].%s: %s", url, i, where, first["msg"]
                )
                continue
            out.append((entry, urljoin(final, entry.url)))
        return out

    def indexes(self) -> tuple[list[dict[str, Any]], dict[str, tuple[PackEntry, str, str]]]:
        """(each catalogue's state, every pack by id -> (entry, download URL, catalogue URL)); the
        first catalogue listing a pack id provides it."""
        catalogs: list[dict[str, Any]] = []
        packs: dict[str, tuple[PackEntry, str, str]] = {}
        with self._client() as client:
            for url in self.registry.catalog_urls:
                try:
                    check_url(url, allowed=list(self.registry.allowed_catalogs), what="catalogue index")
                    entries = self._read_index(client, url)
                except CookbookError as err:
                    catalogs.append(
                        {"url": url, "ok": False, "error": err.message, "code": err.code, "packs": 0}
                    )
                    continue
                catalogs.append({"url": url, "ok": True, "error": None, "packs": len(entries)})
                for entry, download in entries:
                    packs.setdefault(entry.id, (entry, download, url))
        return catalogs, packs

    # -- installed packs --------------------------------------------------------------------------

    def installed(self) -> dict[str, dict[str, Any]]:
        """The packs in the user folder, by id: their manifests."""
        folder = self.registry.packs_folder
        out: dict[str, dict[str, Any]] = {}
        if folder is None or not folder.is_dir():
            return out
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                manifest = json.loads((Path(entry.path) / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                manifest = {
                    "id": entry.name,
                    "version": None,
                    "problem": "its pack.json is missing or broken",
                }
            if isinstance(manifest, dict):
                out[entry.name] = manifest
        return out

    def state(self) -> dict[str, Any]:
        """GET cookbook/catalog: the catalogues and every pack, installed or available, with its
        state: available (not installed), installed (up to date, or no catalogue lists it now) or
        update (a newer version is listed)."""
        catalogs, listed = self.indexes()
        installed = self.installed()
        packs = [self._describe(pid, listed.get(pid), installed.get(pid)) for pid in listed]
        packs += [
            self._describe(pid, None, manifest) for pid, manifest in installed.items() if pid not in listed
        ]
        return {"catalogs": catalogs, "packs": packs}

    @staticmethod
    def _describe(
        pack_id: str, listed: tuple[PackEntry, str, str] | None, manifest: dict[str, Any] | None
    ) -> dict[str, Any]:
        entry = listed[0] if listed else None
        have = (manifest or {}).get("version")
        if manifest is None:
            state = "available"
        elif entry is not None and have and semver_key(entry.version) > semver_key(str(have)):
            state = "update"
        else:
            state = "installed"
        return {
            "id": pack_id,
            "description": entry.description if entry else str((manifest or {}).get("description") or ""),
            "recipes": list(entry.recipes) if entry else list((manifest or {}).get("recipes") or []),
            "state": state,
            "installed_version": have,
            "available_version": entry.version if entry else None,
            "catalog": listed[2] if listed else (manifest or {}).get("catalog"),
            "listed": entry is not None,
        }

    # -- install, update, remove ------------------------------------------------------------------

    def install(self, pack_id: str) -> dict[str, Any]:
        """Install a pack that is not installed yet (409 if it is: update it)."""
        _check_pack_id(pack_id)
        if pack_id in self.installed():
            raise Conflict(
                f"The pack {pack_id} is installed already; update it instead.", code="pack_installed"
            )
        return self._fetch_and_install(pack_id, require_listed=True)

    def update(self, pack_id: str) -> dict[str, Any]:
        """Bring an installed pack to the version the catalogue lists (nothing changes when it is
        current, or when the catalogue cannot be reached: the installed recipes keep working)."""
        _check_pack_id(pack_id)
        manifest = self.installed().get(pack_id)
        if manifest is None:
            raise Conflict(
                f"The pack {pack_id} is not installed; install it first.", code="pack_not_installed"
            )
        return self._fetch_and_install(pack_id, require_listed=True, current=manifest)

    def update_all(self) -> list[dict[str, Any]]:
        return [self.update(pack_id) for pack_id in self.installed()]

    def remove(self, pack_id: str) -> None:
        _check_pack_id(pack_id)
        with self._lock:
            if pack_id not in self.installed():
                raise NotFound(f"The pack {pack_id} is not installed.", code="pack_not_installed")
            target = self.packs_folder / pack_id
            trash = self.packs_folder / f".removed-{pack_id}-{uuid.uuid4().hex[:8]}"
            os.replace(target, trash)
            shutil.rmtree(trash, ignore_errors=True)

    def _fetch_and_install(
        self, pack_id: str, *, require_listed: bool, current: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        catalogs, listed = self.indexes()
        found = listed.get(pack_id)
        if found is None:
            down = [c for c in catalogs if not c["ok"]]
            if current is not None and not down:
                raise NotFound(
                    f"No catalogue lists the pack {pack_id} any more; the installed version stays.",
                    code="pack_not_found",
                )
            if down and len(down) == len(catalogs):
                first = down[0]
                raise CatalogError(
                    f"The catalogue cannot be reached: {first['error']}"
                    + (" The installed recipes keep working." if current is not None else ""),
                    code=str(first.get("code") or "catalog_unreachable"),
                )
            if not catalogs:
                raise NotFound(
                    "No catalogue is configured (c.RecipeRegistry.catalog_urls).", code="pack_not_found"
                )
            raise NotFound(f"No catalogue lists a pack named {pack_id}.", code="pack_not_found")
        entry, download, catalog_url = found
        if current is not None and semver_key(entry.version) <= semver_key(str(current.get("version") or "")):
            return {**self._describe(pack_id, found, current), "changed": False}
        with self._client() as client:
            _final, data = self._get(
                client, download, limit=self.registry.max_pack_mb * 1024 * 1024, what="pack"
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256.lower():
            raise CatalogError(
                f"The pack {pack_id} {entry.version} does not match the catalogue's checksum "
                f"(sha256 {digest[:12]}…, expected {entry.sha256.lower()[:12]}…); nothing was installed.",
                code="checksum_mismatch",
            )
        files = unpack_checked(data, pack=pack_id, expect_recipes=entry.recipes)
        manifest = {
            "id": pack_id,
            "version": entry.version,
            "description": entry.description,
            "recipes": sorted(entry.recipes),
            "sha256": digest,
            "catalog": catalog_url,
            "url": download,
            "installed_at": time.time(),
        }
        with self._lock:
            self._write(pack_id, files, manifest)
        return {**self._describe(pack_id, found, manifest), "changed": True}

    def _write(self, pack_id: str, files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        """Unpack into a staging folder, then swap it in: the recipes are never half there."""
        folder = self.packs_folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = folder / f".staging-{pack_id}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(mode=0o700)
        try:
            for name, content in files.items():
                path = staging.joinpath(*PurePosixPath(name).parts)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            target = folder / pack_id
            old = None
            if target.exists():
                old = folder / f".old-{pack_id}-{uuid.uuid4().hex[:8]}"
                os.replace(target, old)
            os.replace(staging, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def unpack_checked(data: bytes, *, pack: str, expect_recipes: list[str]) -> dict[str, bytes]:
    """The pack's files by relative path, read into memory and checked: a zip, at most
    MAX_PACK_FILES files and MAX_PACK_UNPACKED bytes, no absolute or escaping path, no link, no
    executable, only YAML recipes and Markdown; every recipe valid; exactly the recipes the index
    names. CatalogError (nothing written) otherwise."""

    def unsafe(message: str) -> CatalogError:
        return CatalogError(
            f"The pack {pack} was refused: {message}; nothing was installed.", code="unsafe_pack"
        )

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise unsafe("it is not a .zip file") from None
    files: dict[str, bytes] = {}
    total = 0
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_PACK_FILES:
            raise unsafe(f"it has {len(infos)} entries, more than {MAX_PACK_FILES}")
        for info in infos:
            name = info.filename
            mode = (info.external_attr >> 16) & 0xFFFF
            shown = _clip(name)
            parts = PurePosixPath(name).parts
            if (
                not name
                or "\\" in name
                or "\x00" in name
                or name.startswith("/")
                or (len(name) > 1 and name[1] == ":")
                or any(p in ("..", ".") for p in parts)
            ):
                raise unsafe(f"the path {shown!r} leaves the pack's folder")
            if any(p.startswith(".") for p in parts):
                raise unsafe(f"the path {shown!r} is a hidden file")
            if stat.S_ISLNK(mode):
                raise unsafe(f"{shown!r} is a symbolic link")
            if info.is_dir():
                continue
            if mode & 0o111:
                raise unsafe(f"{shown!r} is executable")
            if not name.lower().endswith(DATA_SUFFIXES):
                raise unsafe(
                    f"{shown!r} is not a recipe (.yaml) or Markdown (.md) file: a pack holds data, never code"
                )
            if PurePosixPath(name).name == MANIFEST:
                raise unsafe(f"{shown!r} is reserved")
            with archive.open(info) as member:
                content = member.read(MAX_PACK_UNPACKED + 1 - total)
            total += len(content)
            if total > MAX_PACK_UNPACKED:
                raise unsafe(f"it unpacks to more than {MAX_PACK_UNPACKED // (1024 * 1024)} MB")
            if name in files:
                raise unsafe(f"{shown!r} appears twice")
            files[name] = content
    found: list[str] = []
    for name, content in files.items():
        if not name.lower().endswith(RECIPE_SUFFIXES):
            continue
        try:
            spec, _template = parse_recipe(content, filename=name)
        except _FileProblem as problem:
            line = f", line {problem.line}" if problem.line else ""
            raise unsafe(f"{name}{line}: {problem.message}") from None
        found.append(spec.id)
    if sorted(set(found)) != sorted(set(expect_recipes)):
        raise unsafe(
            f"the catalogue says it holds {', '.join(sorted(expect_recipes)) or 'no recipes'}, "
            f"but it holds {', '.join(sorted(found)) or 'none'}"
        )
    return files


def _check_pack_id(pack_id: str) -> None:
    import re

    if not re.fullmatch(PACK_ID, pack_id or ""):
        raise BadRequest(
            f"{_clip(pack_id)!r} is not a pack id (lower-case letters, digits, . _ -).", code="bad_pack_id"
        )


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["RECIPE_ID", "Catalog", "CatalogError", "PackEntry", "check_url", "unpack_checked"]
