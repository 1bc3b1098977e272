"""Per-user secrets (API keys, tokens) encrypted at rest with Fernet.

The key comes from the deployment (`COOKBOOK_SECRETS_KEY` or the `secrets_key` setting) or from a
key file that only the user can read. Values go in and are used server-side; only names and a
masked hint ever come back out.

A key is made only when no encrypted secret exists yet. If the key file goes missing (or is
replaced, or the deployment's key changes) while secrets are stored, no new key is minted in its
place: the secrets that cannot be decrypted are listed as unreadable and skipped, everything that
does not need them keeps working, and `problem` says what happened and how to recover.
"""

from __future__ import annotations

import builtins
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from traitlets import Dict, Unicode
from traitlets.config import LoggingConfigurable

from .errors import BadRequest, Conflict, NotFound, TooLarge
from .store import Store
from .workers import Workers

log = logging.getLogger("cookbook_ext")

# Matched in full (fullmatch): "ABC\n" is not a name.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_VALUE_CHARS = 16384
# Environment variables a provider, GitHub or the Hub read when no stored secret is set.
WELL_KNOWN = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "HF_TOKEN", "GITHUB_TOKEN")


class KeyUnavailable(Exception):
    """The key cannot be used; `message` tells the user what happened and how to recover."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def read_key(path: Path) -> bytes:
    """The Fernet key in the key file (tightened to mode 0600), or KeyUnavailable if it is not one."""
    try:
        if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        log.warning("Cookbook could not make its secrets key file %s private (mode 0600)", path)
    try:
        key = path.read_bytes().strip()
    except OSError as err:
        raise KeyUnavailable(f"Cookbook cannot read its secrets key file {path}: {err.strerror}.") from err
    try:
        Fernet(key)
    except (ValueError, TypeError) as err:
        raise KeyUnavailable(
            f"Cookbook's secrets key file {path} does not hold a valid key (it was damaged or "
            "replaced). Restore the original file from a backup and restart the server, or delete "
            "the stored secrets and save them again."
        ) from err
    return key


def create_key(path: Path) -> bytes:
    """A new key file (mode 0600, parent 0700); never overwrites an existing one."""
    _private_dir(path.parent)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def load_or_create_key(path: Path) -> bytes:
    """Read the Fernet key file, creating it (mode 0600, parent 0700) on first use.

    Only for a store without secrets: with secrets stored, use `Secrets(key_file=...)`, which
    never mints a key that could not decrypt them."""
    if path.exists():
        return read_key(path)
    return create_key(path)


def mask_hint(value: str) -> str:
    # Enough to tell two keys apart, never enough to matter.
    if len(value) >= 16:
        return f"…{value[-4:]}"
    return "…"


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise BadRequest(
            "A secret name is a letter or underscore followed by letters, digits or underscores "
            "(at most 128), like HF_TOKEN."
        )
    return name


class Secrets:
    """Encrypt, store and read one server's secrets.

    `key`: the deployment's key (bytes), used as is. Without it, `key_file` is read, or created
    when no secret of `owner` is stored yet. A key that is missing or invalid while secrets exist
    leaves the store readable by name only (`problem` explains); nothing is overwritten.
    """

    def __init__(
        self,
        store: Store,
        key: bytes | None = None,
        defaults: dict[str, str] | None = None,
        *,
        key_file: Path | None = None,
        owner: str = "",
        key_source: str = "the secrets_key setting",
    ):
        self._store = store
        self._key_file = key_file
        self._key_source = key_source
        self._lock = threading.Lock()
        self._fernet: Fernet | None = None
        # Why there is no usable key (a message for the user), or None.
        self._key_problem: str | None = None
        # Values a deployment provides (c.CookbookApp.admin_secrets): used, never listed or returned.
        self._defaults = dict(defaults or {})
        if key is not None:
            try:
                self._fernet = Fernet(key)
            except (ValueError, TypeError):
                self._key_problem = (
                    f"The secrets key given by {key_source} is not a valid Fernet key, so stored "
                    "secrets cannot be read or saved. Set it to the key the secrets were saved "
                    "with (or a new one from Fernet.generate_key()) and restart the server."
                )
        elif key_file is not None:
            self._open_key_file(owner)
        else:
            raise ValueError("Secrets needs a key or a key file")
        if self._key_problem:
            log.error("Cookbook secrets: %s", self._key_problem)

    # -- the key ----------------------------------------------------------------------------------

    def _open_key_file(self, owner: str) -> None:
        assert self._key_file is not None
        path = self._key_file
        try:
            stored = self._store.list_secrets(owner)
            if path.exists():
                try:
                    self._fernet = Fernet(read_key(path))
                except KeyUnavailable:
                    if stored:
                        raise
                    # A damaged key that protects nothing: keep it aside, start a new one.
                    aside = path.with_name(f"{path.name}.invalid-{int(time.time())}")
                    os.replace(path, aside)
                    log.warning("Cookbook: the invalid secrets key file %s was moved to %s", path, aside)
                    self._fernet = Fernet(create_key(path))
                self._key_problem = None
                return
            if not stored:
                self._fernet = Fernet(create_key(path))
                self._key_problem = None
                return
        except KeyUnavailable as err:
            self._key_problem = err.message
            return
        except FileExistsError:  # made by someone else meanwhile
            self._open_key_file(owner)
            return
        except OSError as err:
            self._key_problem = f"Cookbook cannot use its secrets key file {path}: {err.strerror}."
            return
        names = ", ".join(str(s["name"]) for s in stored[:10])
        self._key_problem = (
            f"Cookbook's secrets key file {path} is missing, but {len(stored)} encrypted "
            f"secret(s) are stored ({names}). No new key was made: it could never decrypt them. "
            "Restore the key file from a backup (it is picked up without a restart); or delete "
            "those secrets and save them again (a new key is made once none is left)."
        )

    def _key(self, owner: str) -> Fernet | None:
        """The usable key, or None (see `problem`). Without one, the key file is tried again each
        time: a file restored meanwhile is picked up, and a new one is made once no stored secret
        needs the lost one."""
        if self._fernet is None and self._key_file is not None:
            with self._lock:
                if self._fernet is None:
                    self._open_key_file(owner)
        return self._fernet

    def problem(self, owner: str) -> str | None:
        """What is wrong with the key or the stored secrets, for the user, or None."""
        if self._key(owner) is None:
            return self._key_problem
        unreadable = [str(s["name"]) for s in self.list(owner) if s.get("unreadable")]
        if unreadable:
            where = f"the key file {self._key_file}" if self._key_file else self._key_source
            return (
                f"{len(unreadable)} stored secret(s) cannot be decrypted with the current key from "
                f"{where} ({', '.join(unreadable[:10])}): the key was replaced or changed. Restore "
                "the old key and restart the server, or save those secrets again (or delete them)."
            )
        return None

    # -- secrets ----------------------------------------------------------------------------------

    def put(self, owner: str, name: str, value: str) -> dict[str, object]:
        validate_name(name)
        if not isinstance(value, str) or not value.strip():
            raise BadRequest("A secret needs a non-empty value.")
        if len(value) > MAX_VALUE_CHARS:
            raise TooLarge(f"A secret value is at most {MAX_VALUE_CHARS} characters.")
        fernet = self._key(owner)
        if fernet is None:
            raise Conflict(
                f"The secret {name} was not saved. {self._key_problem}", code="secrets_key_unavailable"
            )
        value = value.strip()
        self._store.put_secret(owner, name, fernet.encrypt(value.encode()), mask_hint(value))
        return {"name": name, "hint": mask_hint(value)}

    def _decrypt(self, owner: str, blob: bytes) -> str | None:
        fernet = self._key(owner)
        if fernet is None:
            return None
        try:
            return fernet.decrypt(blob).decode()
        except (InvalidToken, UnicodeDecodeError):
            return None

    def get(self, owner: str, name: str) -> str | None:
        """The stored value; None when there is none or it cannot be decrypted (see `problem`)."""
        blob = self._store.get_secret(owner, name)
        if blob is None:
            return None
        value = self._decrypt(owner, blob)
        if value is None:
            log.warning("Cookbook: the stored secret %s cannot be decrypted with the current key", name)
        return value

    def resolve(self, owner: str, name: str) -> str | None:
        """The user's stored value, else the deployment's, else the server's environment.
        A stored value that cannot be decrypted is skipped."""
        return self.get(owner, name) or self._defaults.get(name) or os.environ.get(name) or None

    def list(self, owner: str) -> builtins.list[dict[str, Any]]:
        """Names and hints; a secret the current key cannot decrypt has `"unreadable": true`."""
        items = self._store.list_secrets(owner)
        for item in items:
            blob = self._store.get_secret(owner, str(item["name"]))
            if blob is None or self._decrypt(owner, blob) is None:
                item["unreadable"] = True
        return items

    def delete(self, owner: str, name: str) -> None:
        validate_name(name)
        if not self._store.delete_secret(owner, name):
            raise NotFound(f"No secret named {name}.")

    def values(self, owner: str) -> builtins.list[str]:
        """Every value the user's generations may meet (for redaction); never leaves the server.
        Unreadable secrets are skipped (they cannot reach a generation either)."""
        out = [v for v in self._defaults.values() if v]
        for item in self._store.list_secrets(owner):
            value = self.get(owner, str(item["name"]))
            if value:
                out.append(value)
        return out


class SecretsManager(LoggingConfigurable):
    """The server's secrets, for its owner: saved encrypted, listed by name, resolved server-side
    (a stored value, else the deployment's `admin_secrets`, else the environment)."""

    admin_secrets = Dict(
        value_trait=Unicode(),
        default_value={},
        config=True,
        help="Keys the deployment provides (e.g. ANTHROPIC_API_KEY) when a user has stored none. "
        "Used server-side only: never listed, returned or sent to the model.",
    )
    secrets_key = Unicode(
        "",
        config=True,
        help="The Fernet key secrets are encrypted with (else COOKBOOK_SECRETS_KEY, else a key file "
        "in the data folder, made on first use).",
    )

    def __init__(self, *, store: Store, data_dir: Path, owner: str, workers: Workers, **kwargs: Any):
        super().__init__(**kwargs)
        self.owner = owner
        self._workers = workers
        configured = self.secrets_key or os.environ.get("COOKBOOK_SECRETS_KEY", "")
        key = configured.encode() or None
        # Never a new key while secrets are stored: those would be lost for good (see Secrets).
        self.secrets = Secrets(
            store,
            key,
            defaults=dict(self.admin_secrets),
            key_file=None if key else data_dir / "secrets.key",
            owner=owner,
            key_source="the secrets_key setting" if self.secrets_key else "COOKBOOK_SECRETS_KEY",
        )
        self._changed: builtins.list[Callable[[], None]] = []

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever a secret is saved or deleted (caches of what is configured)."""
        self._changed.append(callback)

    def _notify(self) -> None:
        for callback in self._changed:
            callback()

    # -- blocking, for the server's threads -------------------------------------------------------

    def resolve(self, name: str) -> str | None:
        return self.secrets.resolve(self.owner, name)

    def get(self, name: str) -> str | None:
        """The user's own stored value (not the deployment's or the environment's)."""
        return self.secrets.get(self.owner, name)

    def values(self) -> builtins.list[str]:
        return self.secrets.values(self.owner)

    def list_sync(self) -> builtins.list[dict[str, Any]]:
        return self.secrets.list(self.owner)

    # -- the REST surface -------------------------------------------------------------------------

    async def put(self, name: str, value: str) -> dict[str, Any]:
        try:
            return await self._workers.run(self.secrets.put, self.owner, name, value)
        finally:
            self._notify()

    async def list(self) -> builtins.list[dict[str, Any]]:
        return await self._workers.run(self.secrets.list, self.owner)

    async def names(self) -> builtins.list[str]:
        return [str(s["name"]) for s in await self.list()]

    async def problem(self) -> str | None:
        """Why stored secrets cannot be read (a lost or replaced key) and how to recover, or None."""
        return await self._workers.run(self.secrets.problem, self.owner)

    async def delete(self, name: str) -> None:
        try:
            await self._workers.run(self.secrets.delete, self.owner, name)
        finally:
            self._notify()
